// The preset records against kernel-history.md §6.2, written out here by
// hand (not read off src/eras/timeline.ts), the §6.1 aliases, overrides
// and boot()'s errors for bad kernel/rules options.
import { describe, it, expect } from 'vitest';
import { boot } from '../src/index';
import { BACKENDS, bootTest } from './helpers';

type Row = readonly [unknown, unknown, unknown, unknown, unknown, unknown];
const COLUMNS = ['5.5', '5.8', '5.10', '5.18', '6.4', 'latest'] as const;

// §6.2, one row per rule key, columns 5.5 | 5.8 | 5.10 | 5.18 | 6.4 | latest.
// Where the doc cell is prose, the comment says how it reads as a value.
const TABLE: Record<string, Row> = {
  pinApi: [false, true, true, true, true, true],
  pinBias: [1, 1024, 1024, 1024, 1024, 1024],
  exactPincount: ['none', 'order>=2', 'order>=2', 'order>=1', 'order>=1', 'order>=1'],
  pinVmstat: [false, true, true, true, true, true],
  zeroPagePinCounted: [true, true, true, true, true, false], // 5.5: "+1" (a GET counts it too)
  cowReuse: ['mapcount', 'mapcount', 'refcount', 'refcount', 'exclusive', 'exclusive'],
  thpCowReuse: ['mapcount', 'mapcount', 'mapcount', 'refcount', 'exclusive', 'exclusive'],
  thpSplitCow: [false, true, true, true, true, true], // 5.5: "copy whole THP"
  hugetlbCowReuse: ['mapcount', 'mapcount', 'mapcount', 'mapcount', 'exclusive', 'exclusive'],
  hugeZeroThp: [true, false, false, false, false, true],
  gupBreaksCow: [false, true, false, false, false, false],
  roPinUnshareAnon: [false, false, false, false, true, true], // 5.8: "(forced COW)" is gupBreaksCow
  roLongtermUnshareNonAnon: [false, false, false, false, true, true],
  forkCopyPinned: ['none', 'none', 'pte+thp', 'pte+thp+hugetlb', 'anon', 'anon'],
  pinnedMmFlag: ['none', 'none', 'has_pinned', 'MMF_HAS_PINNED', 'MMF_HAS_PINNED', 'MMF_HAS_PINNED'],
  gupFastForkSeqcount: [false, false, false, true, true, true], // 5.10: "no (5.10.y: yes)": mainline
  reclaimSkipsPinned: [false, false, false, true, true, true],
  softDirtySkipsPinned: [false, false, false, true, true, true],
  reclaimKeepsPinnedPrivate: [false, false, false, false, true, true],
  longtermFsDaxRefused: [true, true, true, true, true, true],
  longtermMigratesCma: [true, true, true, true, true, true],
  gupFastLongtermCma: ['none', 'pin', 'pin', 'pin', 'all', 'all'],
  longtermMigratesMovable: [false, false, false, true, true, true],
  longtermMigratesIsolate: [false, false, false, false, true, true],
  longtermMigrationFailure: ['pin-anyway', 'pin-anyway', 'pin-anyway', 'error', 'error-leak', 'error'],
  // 5.18's bare "no" continues 5.10's "(slow entry points)"; 6.4's "no (all, 6.3)" refuses everywhere.
  getLongterm: ['allowed', 'allowed', 'fast-only', 'fast-only', 'refused', 'refused'],
  longtermWriteFile: ['allowed', 'allowed', 'allowed', 'allowed', 'allowed', 'efault'],
  ioUringFileCheck: [true, true, true, true, true, false],
  odirectPin: [false, false, false, false, false, true],
  ext4DirtyWithoutBuffers: ['bug', 'bug', 'bug', 'warn', 'warn', 'warn'],
  forceWriteRoPrivate: ['foll-cow', 'foll-cow', 'foll-cow', 'foll-cow', 'exclusive', 'exclusive'],
  rdmaRoNoForce: [false, false, false, false, true, true],
};

// The commit each 'latest' value comes from, as §2 names it (null: the
// initial value, or a change the doc gives no id for).
const LATEST_COMMIT: Record<string, string | null> = {
  pinApi: 'eddb1c228f79', pinBias: '3faa52c03f44', exactPincount: '5232c63f46fd', pinVmstat: '1970dc6f5226',
  zeroPagePinCounted: 'c8070b787519', cowReuse: '6c287605fd56', thpCowReuse: '6c287605fd56', thpSplitCow: '3917c80280c9',
  hugetlbCowReuse: '6c287605fd56', hugeZeroThp: '1ced09e0331f', gupBreaksCow: 'a308c71bf1e6', roPinUnshareAnon: 'a7f226604170',
  roLongtermUnshareNonAnon: '84209e87c696', forkCopyPinned: 'fb3d824d1a46', pinnedMmFlag: 'a458b76a4171',
  gupFastForkSeqcount: '57efa1fe5957', reclaimSkipsPinned: 'feb889fb40fa', softDirtySkipsPinned: '9348b73c2e1b',
  reclaimKeepsPinnedPrivate: 'd824ec2a1546', longtermFsDaxRefused: null, longtermMigratesCma: null, gupFastLongtermCma: null,
  longtermMigratesMovable: 'd1e153fea2a8', longtermMigratesIsolate: '1c563432588d', longtermMigrationFailure: 'aa6f8b2593b5',
  getLongterm: null, longtermWriteFile: '8ac268436e6d', ioUringFileCheck: '34ed8d0dcd69', // not in the doc: looked up for the timeline odirectPin: '1ccf164ec866',
  ext4DirtyWithoutBuffers: 'cc5095747edf', forceWriteRoPrivate: '5535be309971', rdmaRoNoForce: 'b40656aa7d55',
};

// Keys added beyond §6.2 (iommufd's existence, io_uring's shmem exemption, RDMA's copy-on-fork attribute
// from 5.14, the LRU-batch reference switch and the drains around it): allowed in k.rules, checked
// by their own tests.
const EXTRA = new Set(['iommufd', 'ioUringShmem', 'rdmaCopyOnForkAttr', 'lruBatchRef', 'longtermDrainsByRefcount', 'wpDrainsLocalLru']);

const column = (preset: (typeof COLUMNS)[number]) =>
  Object.fromEntries(Object.entries(TABLE).map(([key, row]) => [key, row[COLUMNS.indexOf(preset)]]));

const values = (rules: Record<string, { value: unknown }>) =>
  Object.fromEntries(Object.entries(rules).filter(([key]) => !EXTRA.has(key)).map(([key, e]) => [key, e.value]));

describe.each(BACKENDS)('kernel presets (%s core)', (backend) => {
  it.each(COLUMNS)('%s: k.rules is the §6.2 column, key by key, and k.kr the same values', async (preset) => {
    const k = await bootTest(backend, { memory: '16MiB', kernel: preset });
    expect(k.kernel).toBe(preset);
    expect(values(k.rules)).toEqual(column(preset));
    const kr = k.kr as unknown as Record<string, unknown>;
    expect(Object.fromEntries(Object.keys(TABLE).map((key) => [key, kr[key]]))).toEqual(column(preset));
    for (const e of Object.values(k.rules)) expect(e.overridden).toBe(false);
  });

  it('the default is latest, each key with the commit that set its value', async () => {
    const k = await bootTest(backend, { memory: '16MiB' });
    expect(k.kernel).toBe('latest');
    expect(values(k.rules)).toEqual(column('latest'));
    for (const [key, commit] of Object.entries(LATEST_COMMIT)) expect([key, k.rules[key as keyof typeof k.rules].commit]).toEqual([key, commit]);
    expect(k.rules.longtermMigrationFailure).toMatchObject({ since: '6.12', title: 'mm/gup: stop leaking pinned pages in low memory conditions' });
    expect(k.rules.longtermFsDaxRefused).toMatchObject({ since: null, commit: null });
  });
});

describe('kernel preset aliases (§6.1)', () => {
  const boot16 = (kernel: string, rules = {}) => boot({ memory: '16MiB', backend: 'ts', kernel: kernel as '5.5', rules });
  const diff = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(a).filter((key) => a[key] !== b[key]).map((key) => [key, a[key]]));

  it.each([
    // 5.6 = 5.5 + the pin API (a pin is +1, like a get)
    ['5.6', '5.5', { pinApi: true }],
    // 5.7 = 5.8 − gupBreaksCow − thpSplitCow (and the huge zero write before 3917c80280c9)
    ['5.7', '5.8', { gupBreaksCow: false, thpSplitCow: false, hugeZeroThp: true }],
    // 5.9 = 5.10 − the GET+LT refusal
    ['5.9', '5.10', { getLongterm: 'allowed' }],
    // 6.1 = 6.4 − roLongtermUnshareNonAnon − rdmaRoNoForce; the doc's alias line leaves out
    // three more changes it dates itself: H4 (6.3: GUP-fast LT refuses CMA for all, GET+LT
    // refused everywhere) and H5 (6.4: reclaim keeps a pinned page's buffers).
    ['6.1', '6.4', {
      roLongtermUnshareNonAnon: false, rdmaRoNoForce: false,
      gupFastLongtermCma: 'pin', getLongterm: 'fast-only', reclaimKeepsPinnedPrivate: false,
    }],
    // 6.11 = latest − ltLeakFixed − hugeZeroThp (the doc's ltLeakFixed is longtermMigrationFailure)
    ['6.11', 'latest', { longtermMigrationFailure: 'error-leak', hugeZeroThp: false }],
  ])('%s is %s with %j', async (alias, base, delta) => {
    const a = await boot16(alias);
    const b = await boot16(base);
    expect(a.kernel).toBe(alias);
    expect(diff(values(a.rules), values(b.rules))).toEqual(delta);
    // and the alias is the base preset with those overrides
    const o = await boot16(base, delta);
    expect(values(o.rules)).toEqual(values(a.rules));
  });
});

describe('rules overrides (bisect-style)', () => {
  it('an override sets the value, marks it overridden and names the commit of that value; the rest stays the preset', async () => {
    const k = await boot({ memory: '16MiB', backend: 'ts', kernel: '5.10', rules: { reclaimSkipsPinned: true, cowReuse: 'exclusive' } });
    expect(k.rules.reclaimSkipsPinned).toMatchObject({ value: true, overridden: true, commit: 'feb889fb40fa', since: '5.11' });
    expect(k.rules.cowReuse).toMatchObject({ value: 'exclusive', overridden: true, commit: '6c287605fd56', since: '5.19' });
    expect(k.kr.reclaimSkipsPinned).toBe(true);
    const { reclaimSkipsPinned, cowReuse, ...rest } = column('5.10');
    expect([reclaimSkipsPinned, cowReuse]).toEqual([false, 'refcount']);
    const got = values(k.rules);
    delete got.reclaimSkipsPinned;
    delete got.cowReuse;
    expect(got).toEqual(rest);
    expect(Object.entries(k.rules).filter(([, e]) => e.overridden).map(([key]) => key).sort()).toEqual(['cowReuse', 'reclaimSkipsPinned']);
  });

  it('overriding back to an initial value names no commit; a value changed twice names its latest change', async () => {
    const k = await boot({ memory: '16MiB', backend: 'ts', kernel: 'latest', rules: { cowReuse: 'mapcount', gupBreaksCow: false, longtermMigrationFailure: 'error' } });
    expect(k.rules.cowReuse).toMatchObject({ value: 'mapcount', overridden: true, commit: null, since: null });
    // gupBreaksCow false: the 5.9 revert; error: the 6.12 fix (not 5.13's first error)
    expect(k.rules.gupBreaksCow).toMatchObject({ value: false, commit: 'a308c71bf1e6', since: '5.9' });
    expect(k.rules.longtermMigrationFailure).toMatchObject({ value: 'error', commit: 'aa6f8b2593b5', since: '6.12' });
  });
});

describe('bad kernel and rules options: refused before anything boots', () => {
  // A wasm path that does not exist: had the core started loading, the
  // error would be that file's, not the option's.
  const NO_CORE = '/nonexistent/pinsim.wasm';
  it.each([
    [{ kernel: '5.4' }, RangeError, 'ERR_INVALID_ARG_VALUE', /^kernel must be one of '5\.5', '5\.8', '5\.10', '5\.18', '6\.4', 'latest', '5\.6', '5\.7', '5\.9', '6\.1', '6\.11', got '5\.4'$/],
    [{ kernel: 5.1 }, TypeError, 'ERR_INVALID_ARG_TYPE', /^kernel must be one of .*, got number$/],
    [{ kernel: null }, TypeError, 'ERR_INVALID_ARG_TYPE', /got object$/],
    [{ rules: { cowReuse: 'refcount', bogus: true } }, RangeError, 'ERR_INVALID_ARG_VALUE', /^rules: unknown key 'bogus' \(known: pinApi, pinBias, /],
    [{ rules: { pinBias: 512 } }, RangeError, 'ERR_INVALID_ARG_VALUE', /^rules\.pinBias must be one of 1, 1024, got 512$/],
    [{ rules: { cowReuse: 'page_count' } }, RangeError, 'ERR_INVALID_ARG_VALUE', /^rules\.cowReuse must be one of 'mapcount', 'refcount', 'exclusive', got 'page_count'$/],
    [{ rules: { gupBreaksCow: 'yes' } }, RangeError, 'ERR_INVALID_ARG_VALUE', /^rules\.gupBreaksCow must be one of false, true, got 'yes'$/],
    [{ rules: { longtermFsDaxRefused: false } }, RangeError, 'ERR_INVALID_ARG_VALUE', /must be one of true, got false$/],
    [{ rules: 'gupBreaksCow' }, TypeError, 'ERR_INVALID_ARG_TYPE', /^rules must be an object of rule keys/],
    [{ rules: ['gupBreaksCow'] }, TypeError, 'ERR_INVALID_ARG_TYPE', /^rules must be an object/],
    [{ rules: null }, TypeError, 'ERR_INVALID_ARG_TYPE', /^rules must be an object/],
  ])('%j: %o %s', async (opts, cls, code, message) => {
    const err = await boot({ memory: '16MiB', wasm: NO_CORE, ...(opts as object) }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
  });

  it('the same options with a good kernel do reach the core (the sentinel works)', async () => {
    const err = await boot({ memory: '16MiB', wasm: NO_CORE, kernel: '5.10' }).then(() => null, (e: unknown) => e);
    expect((err as { code?: string }).code).not.toMatch(/^ERR_INVALID_ARG/);
  });
});
