// The kernel's mm selftests on pinsim (src/selftests/): well-formed TAP,
// no failure on `latest`, and on each older preset exactly the failures its
// era had, listed here by hand from the era reference (kernel-history.md
// §3, §6.3), not from a run.
import { describe, expect, it } from 'vitest';
import { SELFTESTS, type SelftestRun } from '../../src/selftests/index';
import type { KernelName } from '../../src/eras/presets';
import { BACKENDS } from '../helpers';
import { counts, failed, parseTap } from './tap';

type Backend = (typeof BACKENDS)[number];

async function run(name: string, kernel: KernelName, backend: Backend = 'ts'): Promise<SelftestRun & { lines: string[] }> {
  const lines: string[] = [];
  const r = await SELFTESTS[name]!({ kernel, backend, bootOptions: { wasm: 'debug' } }, (l) => lines.push(l));
  return { ...r, lines };
}

// cow.c's backings of an anonymous test case that pinsim runs (swap and
// mremap() are skipped): the base page and the THP forms, then hugetlb.
const SMALL = ['base page', 'PTE-mapped THP (2048 kB)', 'single PTE of THP (2048 kB)', 'partially shared THP (2048 kB)'];
const THP = 'THP (2048 kB)';
const HUGETLB = 'hugetlb (2048 kB)';
const ALL = [...SMALL.slice(0, 1), THP, ...SMALL.slice(1), HUGETLB];
const THP_ORDER = ['base page', THP, ...SMALL.slice(1), HUGETLB]; // the order cow.c runs them in
const on = (desc: string, backings: readonly string[]) => THP_ORDER.filter((b) => backings.includes(b)).map((b) => `${desc} ... with ${b}`);

const VMSPLICE_CHILD = ['vmsplice() + unmap in child', 'vmsplice() + unmap in child with mprotect() optimization'];
const VMSPLICE_PARENT = ['vmsplice() before fork(), unmap in parent after fork()', 'vmsplice() + unmap in parent after fork()'];
const IOURING_RO = 'R/O-mapping a page registered as iouring fixed buffer';
const IOURING_FORK = 'fork() with an iouring fixed buffer';
const RO_SHARED = ['R/O GUP pin on R/O-mapped shared page', 'R/O GUP-fast pin on R/O-mapped shared page'];
const RO_PREV = ['R/O GUP pin on R/O-mapped previously-shared page', 'R/O GUP-fast pin on R/O-mapped previously-shared page'];
const RO_EXCL = ['R/O GUP pin on R/O-mapped exclusive page', 'R/O GUP-fast pin on R/O-mapped exclusive page'];
// S9: R/O long-term pins of the zero pages and page cache in private
// mappings (pinsim maps a private copy at a hugetlb file's read fault, so
// the memfd hugetlb case has no page cache to go stale).
const NON_ANON_RO = ['R/O longterm GUP pin', 'R/O longterm GUP-fast pin'].flatMap((d) =>
  ['shared zeropage', 'memfd', 'tmpfile', 'huge zeropage'].map((b) => `${d} ... with ${b}`));
// R/O pins (S3, S3b, S6) on 5.9-5.18: no unshare; the write copies a page
// any extra reference holds (page_count COW), a PMD THP by mapcount until 5.17.
const roPinsPageCount = (thpByRefcount: boolean): string[] => {
  const excl = thpByRefcount ? [...SMALL, THP] : SMALL;
  return [
    ...on(IOURING_RO, excl),
    ...RO_SHARED.flatMap((d) => on(d, ALL)), // the child still maps it: every backing copies
    ...RO_PREV.flatMap((d) => on(d, excl)),
    ...RO_EXCL.flatMap((d) => on(d, excl)),
    ...NON_ANON_RO,
  ];
};

const COW_FAILS: Record<string, string[]> = {
  // GET only, mapcount COW: every vmsplice leak (S1) but hugetlb's xfail; fork
  // shares the io_uring buffer (S2); no pin API, so the R/O pin cases skip.
  '5.5': [
    ...[...VMSPLICE_CHILD, ...VMSPLICE_PARENT].flatMap((d) => on(d, [...SMALL, THP])),
    ...on(IOURING_FORK, ALL),
  ],
  // GUP breaks COW: the child-side leaks are gone, but a page vmspliced
  // before fork() is reused by the child's write (mapcount 1); fork still
  // shares pinned pages (S2); R/O pins coherent by accident.
  '5.8': [...on(VMSPLICE_PARENT[0]!, [...SMALL, THP]), ...on(IOURING_FORK, ALL)],
  // page_count COW: base pages fixed, the PMD THP leaks (mapcount); fork
  // copies pinned PTE/THP pages but not hugetlb (until 5.12); R/O pins stale.
  '5.10': [
    ...[...VMSPLICE_CHILD, ...VMSPLICE_PARENT].flatMap((d) => on(d, [THP])),
    ...roPinsPageCount(false).slice(0, 4),
    ...on(IOURING_FORK, [HUGETLB]),
    ...roPinsPageCount(false).slice(4),
  ],
  // THP reuse by refcount: the THP vmsplice leak is closed and THP R/O pins
  // go stale too; hugetlb fork copies.
  '5.18': roPinsPageCount(true),
  // AnonExclusive and unsharing (5.19), R/O long-term unsharing of page cache (6.2).
  '6.4': [],
};

// gup_longterm.c: writable long-term pins of shared ext4 ("local tmpfile")
// work before 6.5 (S11); io_uring refuses file VMAs that are not hugetlbfs
// (nor shmem from 5.14) before 6.5, MAP_PRIVATE included (S12).
const GL_RW_EXT4 = ['R/W longterm GUP pin in MAP_SHARED file mapping ... with local tmpfile',
  'R/W longterm GUP-fast pin in MAP_SHARED file mapping ... with local tmpfile'];
const GL_IOURING_SHMEM = ['io_uring fixed buffer with MAP_SHARED file mapping ... with memfd',
  'io_uring fixed buffer with MAP_SHARED file mapping ... with tmpfile',
  'io_uring fixed buffer with MAP_PRIVATE file mapping ... with memfd',
  'io_uring fixed buffer with MAP_PRIVATE file mapping ... with tmpfile'];
const GL_IOURING_PRIVATE_EXT4 = ['io_uring fixed buffer with MAP_PRIVATE file mapping ... with local tmpfile'];
const GUP_LONGTERM_FAILS: Record<string, string[]> = {
  '5.5': [...GL_IOURING_SHMEM, ...GL_IOURING_PRIVATE_EXT4], // no pin API: the pin cases skip
  '5.8': [...GL_RW_EXT4, ...GL_IOURING_SHMEM, ...GL_IOURING_PRIVATE_EXT4],
  '5.10': [...GL_RW_EXT4, ...GL_IOURING_SHMEM, ...GL_IOURING_PRIVATE_EXT4],
  '5.18': [...GL_RW_EXT4, ...GL_IOURING_PRIVATE_EXT4],
  '6.4': [...GL_RW_EXT4, ...GL_IOURING_PRIVATE_EXT4],
};

const OLDER = ['5.5', '5.8', '5.10', '5.18', '6.4'] as const;

describe('selftests: TAP well-formed, latest clean', () => {
  it.each(Object.keys(SELFTESTS))('%s on latest: plan = results, numbered in order, totals agree, no failure', async (name) => {
    const r = await run(name, 'latest');
    const tap = parseTap(r.lines);
    expect(r.lines.find((l) => !l.startsWith('# '))).toBe('TAP version 13'); // gup_longterm prints its [INFO] lines first
    expect(tap.plan).toBe(tap.results.length);
    expect(tap.results.map((x) => x.n)).toEqual(tap.results.map((_, i) => i + 1));
    const c = counts(tap);
    if (name === 'gup_test') {
      // run_vmtests.sh ends with its SUMMARY and the plan, not with totals.
      expect(r.lines.slice(-2)).toEqual([`# SUMMARY: PASS=${c.pass} SKIP=${c.skip} FAIL=${c.fail}`, `1..${tap.plan}`]);
    } else {
      expect(r.lines.at(-1)).toBe(tap.totals);
      expect(tap.totals).toBe(`# Totals: pass:${c.pass} fail:${c.fail} xfail:${c.xfail} xpass:0 skip:${c.skip} error:0`);
    }
    expect(failed(tap)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(c.pass).toBeGreaterThan(0);
  }, 120_000);

  it('cow: the plan of cow.c for one THP size and two hugetlb sizes; what pinsim lacks is skipped with the kernel\'s words', async () => {
    const r = await run('cow', 'latest');
    expect(r.lines).toContain('1..190'); // 14 x 12 + 4 + 3 x 6
    expect(r.lines).toContain('ok 2 # SKIP MADV_PAGEOUT did not work, is swap enabled?');
    expect(r.lines).toContain('ok 12 # SKIP need more free huge pages'); // no 1 GiB pool
    // hugetlb vmsplice: an expected failure in every era.
    expect(r.lines).toContain('ok 35 # XFAIL Leak from parent into child');
    expect(r.lines.at(-1)).toBe('# Totals: pass:95 fail:0 xfail:4 xpass:0 skip:91 error:0');
  }, 120_000);

  it('hmm: the harness format; the coherent variant skips as its fixture does', async () => {
    const r = await run('hmm', 'latest');
    expect(r.lines.slice(1, 3)).toEqual(['1..76', '# Starting 76 tests from 4 test cases.']);
    expect(r.lines).toContain('ok 2 hmm.hmm_device_private.anon_read');
    expect(r.lines).toContain('#            OK  hmm.hmm_device_private.anon_read');
    expect(r.lines).toContain('ok 36 hmm.hmm_device_coherent.open_close # SKIP DEVICE_COHERENT not available');
    expect(r.lines.at(-2)).toBe('# PASSED: 76 / 76 tests passed.');
  }, 120_000);
});

describe('selftests: older presets fail exactly their era\'s cases', () => {
  it.each(OLDER)('cow on %s', async (kernel) => {
    const r = await run('cow', kernel);
    expect(failed(parseTap(r.lines))).toEqual(COW_FAILS[kernel]);
    expect(r.exitCode).toBe(COW_FAILS[kernel]!.length ? 1 : 0);
  }, 120_000);

  it.each(OLDER)('gup_longterm on %s', async (kernel) => {
    const r = await run('gup_longterm', kernel);
    expect(failed(parseTap(r.lines))).toEqual(GUP_LONGTERM_FAILS[kernel]);
    expect(r.exitCode).toBe(1);
  }, 120_000);

  it('gup_longterm on 5.5: no pin_user_pages(), so every pin case skips as on a kernel without PIN_LONGTERM_TEST_START', async () => {
    const r = await run('gup_longterm', '5.5');
    expect(r.lines).toContain('ok 1 # SKIP PIN_LONGTERM_TEST_START failed (EINVAL)n');
    expect(r.lines.at(-1)).toBe('# Totals: pass:3 fail:5 xfail:0 xpass:0 skip:42 error:0');
  }, 120_000);

  it.each(OLDER)('hmm and gup_test on %s: no failure (no era rule changes what they check)', async (kernel) => {
    for (const name of ['hmm', 'gup_test']) {
      const r = await run(name, kernel);
      expect(failed(parseTap(r.lines))).toEqual([]);
    }
  }, 120_000);

  it('gup_test on 5.5: the PIN ioctls fail inside the binary ("not ok 1 ioctl status -1"), which still exits 0', async () => {
    const r = await run('gup_test', '5.5');
    expect(r.lines.filter((l) => l === '# not ok 1 ioctl status -1')).toHaveLength(2); // -a -n 1, -a -n -1
    expect(r.lines).toContain('ok 3 gup_test -a -n 1');
  }, 120_000);
});

describe('selftests: both cores print the same TAP', () => {
  // gup_test's times are measured; everything else is deterministic.
  const untimed = (lines: string[]) => lines.map((l) => l.replace(/get:\d+ put:\d+ us/, 'get:T put:T us'));
  it.each(Object.keys(SELFTESTS))('%s on 5.10', async (name) => {
    const [w, t] = await Promise.all(BACKENDS.map((b) => run(name, '5.10', b)));
    expect(untimed(w!.lines)).toEqual(untimed(t!.lines));
  }, 120_000);
});
