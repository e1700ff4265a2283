// The fuzz on kernel presets: shapes draw every preset and shrink to
// latest, and the checks that depend on the era (fuzz/era.ts) follow k.kr:
// a device write reaches every task that still maps the frame, a kernel
// BUG the era had stops the run, pins a failed long-term pin leaks (6.1–6.11)
// are allowed for, the pin API is missing on 5.5.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BACKENDS, C, PAGE } from './helpers';
import { Machine, FuzzFinding, type Shape } from '../fuzz/machine';
import { eraChecks } from '../fuzz/era';
import { KERNELS, shapeArb } from '../fuzz/lockstep';
import { kernelRules, PRESETS, type KernelName, type KernelRules } from '../src/index';

const shape = (kernel: KernelName): Shape => ({ thp: 'never', movable: false, cma: false, pool: 3, kernel });
const kr = (kernel: KernelName) => Object.fromEntries(Object.entries(kernelRules(kernel)).map(([k, e]) => [k, e.value])) as unknown as KernelRules;

describe('fuzz shapes on kernel presets', () => {
  it('draw every kernel name, and a finding shrinks towards latest', () => {
    expect(new Set(fc.sample(shapeArb(), 400).map((s) => s.kernel))).toEqual(new Set(KERNELS));
    expect(fc.sample(shapeArb('5.10', { gupBreaksCow: true }), 20).every((s) => s.kernel === '5.10' && s.rules?.gupBreaksCow)).toBe(true);
    const r = fc.check(fc.property(shapeArb(), (s) => s.kernel === undefined), { seed: 7 });
    expect(r.failed && r.counterexample?.[0].kernel).toBe('latest');
  });

  it('what the checks expect, preset by preset', () => {
    const got = Object.fromEntries(PRESETS.map((p) => [p, eraChecks(kr(p))]));
    const row = (k: keyof ReturnType<typeof eraChecks>) => PRESETS.map((p) => got[p][k]);
    expect(row('pinApi')).toEqual([false, true, true, true, true, true]);
    expect(row('pinsCounted')).toEqual([false, true, true, true, true, true]);
    expect(row('vmstat')).toEqual([false, true, true, true, true, true]);
    expect(row('zeroPinned')).toEqual([true, true, true, true, true, false]);
    expect(row('pincountOrder')).toEqual([Infinity, 2, 2, 1, 1, 1]);
    expect(row('pinLeaks')).toEqual([false, false, false, false, true, false]);
    expect(row('oops')).toEqual([true, true, true, true, false, false]);
    // the aliases: 5.6 pins are gets; 6.11 leaks; 5.9 forks page cache into a BUG
    expect(eraChecks(kr('5.6'))).toMatchObject({ pinApi: true, pinsCounted: false, vmstat: false });
    expect(eraChecks(kr('6.11'))).toMatchObject({ pinLeaks: true, oops: false, zeroPinned: false });
    expect(eraChecks({ ...kr('latest'), pinVmstat: false })).toMatchObject({ pinsCounted: true, vmstat: false });
  });
});

describe.each(BACKENDS)('fuzz checks by era (%s core)', (backend) => {
  const boot = (kernel: KernelName) => Machine.boot(backend, 'debug', shape(kernel));

  it('a device write through a reference fork shared reaches the child too (5.8: fork shares pinned pages; any era: a got page)', async () => {
    const m = await boot('latest');
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 2, prot: 2, populate: false });
    m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: true, word: 0x1111 });
    m.outcome({ op: 'gup', task: 0, vma: 0, off: 1, pages: 1, kind: 6 }); // get_user_pages_fast(FOLL_WRITE): fork does not copy it
    m.outcome({ op: 'fork', task: 0 });
    const [parent, child] = m.k.tasks;
    const a = parent.maps()[0].start + PAGE;
    expect(child.translate(a)).toBe(parent.translate(a));
    m.outcome({ op: 'dma', held: 0, entry: 0, word: 0xd1a });
    expect(m.outcome({ op: 'access', task: 1, vma: 0, off: 1, write: false, word: 0 })).toContain(String(0xd1a));
    m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: true, word: 0x2222 }); // the parent copies away
    m.outcome({ op: 'dma', held: 0, entry: 0, word: 0xd1b });
    expect(m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: false, word: 0 })).toContain(String(0x2222));
    expect(m.outcome({ op: 'access', task: 1, vma: 0, off: 1, write: false, word: 0 })).toContain(String(0xd1b));
    m.teardown();
  });

  it('a kernel BUG the era had stops the run: S4 as fuzz ops (5.10: ext4 BUG; 5.18: WARN, the run goes on)', async () => {
    const S4 = [
      { op: 'mmap', task: 0, kind: 2, pages: 1, prot: 2, populate: false }, // MAP_SHARED ext4
      { op: 'access', task: 0, vma: 0, off: 0, write: true, word: 7 }, // page_mkwrite: buffers
      { op: 'gup', task: 0, vma: 0, off: 0, pages: 1, kind: 0 }, // pin_user_pages(FOLL_WRITE)
      { op: 'writeback' }, // cleaned, buffers dropped (pinsim's stand-in for reclaim, ≤ 6.3)
      { op: 'dma', held: 0, entry: 0, word: 0xd1a },
      { op: 'release', held: 0, dirty: true }, // set_page_dirty_lock(): dirty without buffers
      { op: 'writeback' },
      { op: 'pread', task: 0, file: 0, page: 0 },
    ] as const;
    const run = async (kernel: KernelName) => {
      const m = await boot(kernel);
      const out = S4.map((o) => m.outcome(o));
      m.teardown();
      return out;
    };
    const oops = JSON.stringify({ oops: 'kernel BUG at fs/ext4/inode.c:2620!' });
    expect((await run('5.10')).slice(6)).toEqual([oops, oops]); // nothing runs after it, teardown included
    expect((await run('5.18')).slice(6)).toEqual([JSON.stringify({ value: { written: 0, hazards: [{ file: 'disk', index: 0 }] } }), JSON.stringify({ value: 0xd1a })]);
  });

  it('a kernel BUG the era did not have is a finding (latest)', async () => {
    const m = await boot('latest');
    m.k.bug('mm/rmap.c:1234', '__page_set_anon_rmap', 'fuzz', 1, []);
    expect(() => m.outcome({ op: 'writeback' })).toThrow(/^kernel BUG at mm\/rmap\.c:1234!: kernel latest has no such BUG \(k\.kr\)$/);
  });

  it('pins left behind by a failed op are leaked pins on 6.4 (6.1–6.11), a finding on 5.18', async () => {
    for (const kernel of ['6.4', '5.18'] as const) {
      const m = await boot(kernel);
      m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 2, prot: 2, populate: true });
      const t = m.k.tasks[0];
      // as the 6.1 migrate-and-retry loop did: a pin taken, an error returned
      expect(m.k.pin_user_pages(t, t.maps()[0].start, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, m.k.pageArray(1))).toBe(1);
      const failing = { op: 'gupStart', task: 0, fn: 3, start: 0, count: 1 } as const; // pin_user_pages(LONGTERM) at -1: -EFAULT
      if (kernel === '5.18') {
        expect(() => m.outcome(failing)).toThrow(/pin balance: acquired 1 - released 0 != 0 pins held \(kernel 5\.18\)/);
        continue;
      }
      expect(m.outcome(failing)).toContain('"n":-14');
      expect(m.leakedPins).toBe(1);
      m.outcome({ op: 'munmap', task: 0, vma: 0, off: 0, pages: 2 });
      m.teardown(); // the leaked page stays allocated, and pinned: not a leak of the fuzz
      expect(m.k.vmstat().nr_foll_pin_acquired - m.k.vmstat().nr_foll_pin_released).toBe(1);
    }
  });

  it('5.5 has no pin API: a pin call must fail with ENOSYS, never pin', async () => {
    const m = await boot('5.5');
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 2, prot: 2, populate: true });
    let r: string | null = null;
    try {
      r = m.outcome({ op: 'gup', task: 0, vma: 0, off: 0, pages: 1, kind: 0 }); // pin_user_pages(FOLL_WRITE)
    } catch (e) {
      expect(e).toBeInstanceOf(FuzzFinding);
      expect((e as Error).message).toBe('pin_user_pages() returned 1 on kernel 5.5, which has no pin API');
    }
    if (r !== null) expect(JSON.parse(r)).toEqual({ code: 'ENOSYS' });
  });

  it('the pin balance follows the era: pins held on a machine judged by 5.6\'s rules (a pin is a get, no counters) do not balance', async () => {
    const m = await boot('latest');
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 2, prot: 2, populate: true });
    m.outcome({ op: 'gup', task: 0, vma: 0, off: 0, pages: 1, kind: 0 });
    m.checkPins();
    (m as { era: ReturnType<typeof eraChecks> }).era = eraChecks(kr('5.6'));
    expect(() => m.checkPins()).toThrow(/pin balance: acquired 1 - released 0 != 0 pins held/);
  });
});
