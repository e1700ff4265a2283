// The GUP/pin API surface (mm/gup.c): argument validation and the
// per-wrapper failure values (is_valid_gup_args, gup_fast_fallback's flag
// whitelist), return values (counts, prefixes, -errno), pin accounting
// (GUP_PIN_COUNTING_BIAS, _pincount, the zero page, vmstat, MMF_HAS_PINNED,
// folio_maybe_dma_pinned), the release functions, the 2019 series' names
// and the refcount-overflow guard. Reference: kernel-semantics.md 1-3, 11.
import { describe, expect, it } from 'vitest';
import type { Kernel, PageArray, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE } from './helpers';

const HPAGE = 2 << 20;
const BIAS = C.GUP_PIN_COUNTING_BIAS;
const TASK_SIZE_MAX = 2 ** 47 - PAGE;

// ---- small helpers ----

const warnings = (k: Kernel): string[] => k.dmesg().filter((l) => l.startsWith('WARNING'));
const acquired = (k: Kernel): number => k.vmstat().nr_foll_pin_acquired;
const released = (k: Kernel): number => k.vmstat().nr_foll_pin_released;
const ref = (k: Kernel, pfn: number): number => k.page(pfn).refcount;

// Private anon pages, written so that each has its own exclusive page.
function written(t: Task, pages: number): number {
  const a = anon(t, pages);
  for (let i = 0; i < pages; i++) t.write(a + i * PAGE, 0x100 + i);
  return a;
}

// The first 2 MiB-aligned address of a 4 MiB private anon mapping, written
// so that it maps one order-9 THP (boot with thp: 'always').
function thp(k: Kernel, t: Task): { a: number; head: number } {
  const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
  const a = Math.ceil(base / HPAGE) * HPAGE;
  t.write(a, 7);
  const head = t.translate(a)!;
  expect(k.page(head).order).toBe(9);
  return { a, head };
}

// fn must throw this error class and leave the machine, the log and
// MMF_HAS_PINNED exactly as they were.
function expectMisuse(k: Kernel, t: Task, fn: () => unknown, cls: typeof TypeError | typeof RangeError): void {
  const digest = k.digest();
  const log = k.dmesg().length;
  const hasPinned = t.mm.hasPinned;
  expect(fn).toThrow(cls);
  expect(k.digest()).toBe(digest);
  expect(k.dmesg().length).toBe(log);
  expect(t.mm.hasPinned).toBe(hasPinned);
}

// ---- the nine acquire wrappers, with uniform arguments ----

type Call = (k: Kernel, t: Task, start: number, nr: number, flags: number, pages: PageArray | null) => number;
interface Wrapper { name: string; pin: boolean; fast: boolean; fail: number; call: Call }

const P = (p: PageArray | null) => p as PageArray; // the fast variants take a NULL pages too, as in C
const WRAPPERS: Wrapper[] = [
  { name: 'get_user_pages', pin: false, fast: false, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.get_user_pages(t, s, n, f, p) },
  { name: 'get_user_pages_remote', pin: false, fast: false, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.get_user_pages_remote(t.mm, s, n, f, p) },
  { name: 'get_user_pages_unlocked', pin: false, fast: false, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.get_user_pages_unlocked(t, s, n, p, f) },
  { name: 'get_user_pages_fast', pin: false, fast: true, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.get_user_pages_fast(t, s, n, f, P(p)) },
  { name: 'get_user_pages_fast_only', pin: false, fast: true, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.get_user_pages_fast_only(t, s, n, f, P(p)) },
  { name: 'pin_user_pages', pin: true, fast: false, fail: 0,
    call: (k, t, s, n, f, p) => k.pin_user_pages(t, s, n, f, P(p)) },
  { name: 'pin_user_pages_remote', pin: true, fast: false, fail: 0,
    call: (k, t, s, n, f, p) => k.pin_user_pages_remote(t.mm, s, n, f, P(p)) },
  { name: 'pin_user_pages_unlocked', pin: true, fast: false, fail: 0,
    call: (k, t, s, n, f, p) => k.pin_user_pages_unlocked(t, s, n, P(p), f) },
  { name: 'pin_user_pages_fast', pin: true, fast: true, fail: -C.EINVAL,
    call: (k, t, s, n, f, p) => k.pin_user_pages_fast(t, s, n, f, P(p)) },
];
const GETS = WRAPPERS.filter((w) => !w.pin);
const PINS = WRAPPERS.filter((w) => w.pin);
const FASTS = WRAPPERS.filter((w) => w.fast);
// it.each() rows: [name, wrapper].
const rows = (ws: Wrapper[]) => ws.map((w) => [w.name, w] as const);

// Releases what w took for the entries of pa.
function release(k: Kernel, w: Wrapper, pa: PageArray, n: number): void {
  if (w.pin) k.unpin_user_pages(pa, n);
  else for (let i = 0; i < n; i++) k.put_page(pa.get(i)!);
}

const INTERNAL_FLAGS: [string, number][] = [
  ['FOLL_TOUCH', C.FOLL_TOUCH], ['FOLL_TRIED', C.FOLL_TRIED], ['FOLL_REMOTE', C.FOLL_REMOTE],
  ['FOLL_PIN', C.FOLL_PIN], ['FOLL_FAST_ONLY', C.FOLL_FAST_ONLY], ['FOLL_UNLOCKABLE', C.FOLL_UNLOCKABLE],
  ['FOLL_MADV_POPULATE', C.FOLL_MADV_POPULATE],
];
const NOT_FAST_FLAGS: [string, number][] = [
  ['FOLL_DUMP', C.FOLL_DUMP], ['FOLL_NOWAIT', C.FOLL_NOWAIT], ['FOLL_HWPOISON', C.FOLL_HWPOISON],
  ['FOLL_ANON', C.FOLL_ANON], ['FOLL_SPLIT_PMD', C.FOLL_SPLIT_PMD], ['FOLL_INTERRUPTIBLE', C.FOLL_INTERRUPTIBLE],
];

// Calls w twice with arguments that must fail validation: both calls
// return w's failure value, take nothing, and WARN_ON_ONCE logs one line.
async function expectRejected(backend: 'wasm' | 'ts', w: Wrapper, flags: number, withPages = true): Promise<void> {
  const k = await bootTest(backend);
  const t = k.spawn();
  const a = written(t, 2);
  const pfn = t.translate(a)!;
  const pa = k.pageArray(2);
  const before = warnings(k).length;
  const digest = k.digest();
  expect(w.call(k, t, a, 2, flags, withPages ? pa : null)).toBe(w.fail);
  expect(warnings(k).length).toBe(before + 1);
  expect(w.call(k, t, a, 2, flags, withPages ? pa : null)).toBe(w.fail);
  expect(warnings(k).length).toBe(before + 1);
  expect(k.digest()).toBe(digest);
  expect(ref(k, pfn)).toBe(1);
  expect(pa.toArray()).toEqual([null, null]);
  expect(acquired(k)).toBe(0);
  expect(t.mm.hasPinned).toBe(false);
}

describe.each(BACKENDS)('GUP argument validation (%s core)', (backend) => {
  it.each(rows(WRAPPERS))('%s: every internal FOLL_* flag fails, with one WARNING', async (_, w) => {
    for (const [, f] of INTERNAL_FLAGS) await expectRejected(backend, w, f | C.FOLL_WRITE);
    // Within one machine, the check warns only once whichever internal flag trips it.
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pa = k.pageArray(1);
    for (const [name, f] of INTERNAL_FLAGS) expect(w.call(k, t, a, 1, f, pa), name).toBe(w.fail);
    expect(warnings(k)).toHaveLength(1);
    expect(ref(k, t.translate(a)!)).toBe(1);
  });

  it.each(rows(PINS))('%s with FOLL_GET fails (GET and PIN together)', async (_, w) => {
    await expectRejected(backend, w, C.FOLL_GET);
    await expectRejected(backend, w, C.FOLL_GET | C.FOLL_WRITE | C.FOLL_LONGTERM);
  });

  it.each(rows(GETS))('%s with FOLL_LONGTERM fails: LONGTERM needs PIN', async (_, w) => {
    await expectRejected(backend, w, C.FOLL_LONGTERM);
    await expectRejected(backend, w, C.FOLL_LONGTERM | C.FOLL_WRITE);
  });

  it.each(rows(PINS))('%s with pages NULL fails', async (_, w) => {
    await expectRejected(backend, w, 0, false);
    await expectRejected(backend, w, C.FOLL_WRITE | C.FOLL_LONGTERM, false);
  });

  it.each(rows(GETS.filter((w) => !w.fast)))('%s with FOLL_GET and pages NULL fails', async (_, w) => {
    await expectRejected(backend, w, C.FOLL_GET, false);
  });

  it.each(rows(FASTS.filter((w) => !w.pin)))(
    '%s with pages NULL fails even without FOLL_GET (it is implied)', async (_, w) => {
      await expectRejected(backend, w, 0, false);
    });

  it.each(rows(GETS.filter((w) => !w.fast)))(
    '%s with pages NULL and no FOLL_GET populates the range and takes nothing', async (_, w) => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = anon(t, 4);
      expect(w.call(k, t, a, 4, C.FOLL_WRITE, null)).toBe(4);
      for (let i = 0; i < 4; i++) {
        const pfn = t.translate(a + i * PAGE);
        expect(pfn).not.toBe(null);
        expect(pfn).not.toBe(0);
        expect(ref(k, pfn!)).toBe(1); // mapped, no GUP reference held
      }
      expect(warnings(k)).toEqual([]);
      expect(t.mm.hasPinned).toBe(false);
    });

  it.each(rows(PINS))('%s with FOLL_LONGTERM|FOLL_PCI_P2PDMA fails', async (_, w) => {
    await expectRejected(backend, w, C.FOLL_LONGTERM | C.FOLL_PCI_P2PDMA);
  });

  it('each failed check is its own WARN_ON_ONCE: different checks log different lines', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_TOUCH, pa)).toBe(0); // internal flag
    expect(k.pin_user_pages(t, a, 1, C.FOLL_GET, pa)).toBe(0); // GET with PIN
    expect(k.get_user_pages(t, a, 1, C.FOLL_LONGTERM, pa)).toBe(-C.EINVAL); // LONGTERM without PIN
    expect(k.pin_user_pages(t, a, 1, 0, null as unknown as PageArray)).toBe(0); // pages NULL
    expect(k.pin_user_pages(t, a, 1, C.FOLL_LONGTERM | C.FOLL_PCI_P2PDMA, pa)).toBe(0);
    expect(warnings(k)).toHaveLength(5);
    // Again: nothing new.
    expect(k.pin_user_pages(t, a, 1, C.FOLL_TOUCH, pa)).toBe(0);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_GET, pa)).toBe(0);
    expect(k.get_user_pages(t, a, 1, C.FOLL_LONGTERM, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(5);
    expect(ref(k, t.translate(a)!)).toBe(1);
  });

  it('the same valid flags work: the rejections above are about the flags, not the range', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    for (const w of WRAPPERS) {
      const pa = k.pageArray(2);
      expect(w.call(k, t, a, 2, C.FOLL_WRITE | (w.pin ? C.FOLL_LONGTERM : 0), pa), w.name).toBe(2);
      release(k, w, pa, 2);
      pa.free();
    }
    expect(warnings(k)).toEqual([]);
    expect(ref(k, t.translate(a)!)).toBe(1);
  });

  it.each(rows(FASTS))('%s rejects DUMP, NOWAIT, HWPOISON, ANON, SPLIT_PMD, INTERRUPTIBLE', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    const pa = k.pageArray(2);
    const digest = k.digest();
    for (const [name, f] of NOT_FAST_FLAGS) {
      expect(w.call(k, t, a, 2, f, pa), name).toBe(-C.EINVAL);
      expect(w.call(k, t, a, 2, f | C.FOLL_WRITE, pa), name).toBe(-C.EINVAL);
    }
    expect(warnings(k)).toHaveLength(1); // one WARN_ON_ONCE site
    expect(k.digest()).toBe(digest);
    expect(pa.toArray()).toEqual([null, null]);
    expect(t.mm.hasPinned).toBe(false); // the whitelist check comes first
    // The whitelisted caller flags pass.
    for (const f of [C.FOLL_FORCE, C.FOLL_NOFAULT, C.FOLL_HONOR_NUMA_FAULT, C.FOLL_PCI_P2PDMA, C.FOLL_WRITE]) {
      expect(w.call(k, t, a, 2, f, pa)).toBe(2);
      release(k, w, pa, 2);
    }
    expect(warnings(k)).toHaveLength(1);
  });

  it('the slow variants accept the flags GUP-fast refuses', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    const pa = k.pageArray(2);
    for (const f of [C.FOLL_ANON, C.FOLL_NOWAIT, C.FOLL_HWPOISON, C.FOLL_INTERRUPTIBLE, C.FOLL_DUMP]) {
      expect(k.pin_user_pages(t, a, 2, f, pa)).toBe(2);
      k.unpin_user_pages(pa, 2);
    }
    expect(warnings(k)).toEqual([]);
  });

  it('is_valid_gup_args runs before GUP-fast\'s whitelist: each trips its own WARN_ON_ONCE', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 1, C.FOLL_GET | C.FOLL_DUMP, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(1); // GET with PIN, not the whitelist
    expect(k.pin_user_pages_fast(t, a, 1, C.FOLL_DUMP, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(2); // now the whitelist's own WARN
    expect(k.get_user_pages_fast(t, a, 1, C.FOLL_PIN | C.FOLL_ANON, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(3); // the internal-flag check
    expect(t.mm.hasPinned).toBe(false);
  });

  it('nr_pages 0 does not skip argument validation', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 0, C.FOLL_GET, pa)).toBe(0);
    expect(warnings(k)).toHaveLength(1);
    expect(k.get_user_pages(t, a, 0, C.FOLL_LONGTERM, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(2);
    expect(k.get_user_pages_fast(t, a, 0, C.FOLL_NOWAIT, pa)).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(3);
  });

  it('pin_user_pages adds only FOLL_PIN (no FOLL_TOUCH); the other slow wrappers and a fast fallback touch', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 8 * PAGE });
    const m = t.mmap({ length: 8 * PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: t.open(f) });
    const referenced = (i: number) => k.page(t.translate(m + i * PAGE)!).flags.includes('referenced');
    for (let i = 0; i < 4; i++) t.read(m + i * PAGE);
    for (let i = 0; i < 4; i++) expect(referenced(i)).toBe(false);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, m, 1, 0, pa)).toBe(1);
    expect(referenced(0)).toBe(false);
    expect(k.pin_user_pages_remote(t.mm, m + PAGE, 1, 0, pa)).toBe(1); // TOUCH|REMOTE
    expect(referenced(1)).toBe(true);
    expect(k.pin_user_pages_unlocked(t, m + 2 * PAGE, 1, pa, 0)).toBe(1); // TOUCH|UNLOCKABLE
    expect(referenced(2)).toBe(true);
    expect(k.get_user_pages(t, m + 3 * PAGE, 1, 0, pa)).toBe(1); // TOUCH
    expect(referenced(3)).toBe(true);
    // Not yet faulted in: pin_user_pages faults it but does not mark it
    // accessed; pin_user_pages_fast falls back with FOLL_TOUCH.
    expect(k.pin_user_pages(t, m + 4 * PAGE, 1, 0, pa)).toBe(1);
    expect(referenced(4)).toBe(false);
    expect(k.pin_user_pages_fast(t, m + 5 * PAGE, 1, 0, pa)).toBe(1);
    expect(referenced(5)).toBe(true);
  });

  it('*_remote with *locked == 0 fails: get_user_pages_remote -EINVAL, pin_user_pages_remote 0', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    const pa = k.pageArray(2);
    const digest = k.digest();
    expect(k.get_user_pages_remote(t.mm, a, 2, 0, pa, { value: 0 })).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(1);
    expect(k.pin_user_pages_remote(t.mm, a, 2, 0, pa, { value: 0 })).toBe(0);
    expect(k.get_user_pages_remote(t.mm, a, 2, 0, pa, { value: 0 })).toBe(-C.EINVAL);
    expect(warnings(k)).toHaveLength(1); // the same check
    expect(k.digest()).toBe(digest);
    expect(t.mm.hasPinned).toBe(false);
    // *locked == 1 is fine, and an anonymous fault never drops the lock.
    const locked = { value: 1 };
    expect(k.pin_user_pages_remote(t.mm, a, 2, C.FOLL_WRITE, pa, locked)).toBe(2);
    expect(locked.value).toBe(1);
    k.unpin_user_pages(pa, 2);
    expect(k.get_user_pages_remote(t.mm, a, 2, 0, pa, locked)).toBe(2);
    for (const pfn of pa.toArray()) k.put_page(pfn!);
    expect(warnings(k)).toHaveLength(1);
  });

  it.each(rows(WRAPPERS))('%s with nr_pages 0 returns 0 and does nothing', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const pa = k.pageArray(2);
    const digest = k.digest();
    expect(w.call(k, t, a, 0, C.FOLL_WRITE, pa)).toBe(0);
    expect(w.call(k, t, 0, 0, 0, pa)).toBe(0); // even where nothing is mapped
    expect(k.digest()).toBe(digest);
    expect(t.translate(a)).toBe(null);
    expect(warnings(k)).toEqual([]);
  });

  it.each(rows(FASTS))('%s with a negative nr_pages: a huge unsigned length, -EOVERFLOW', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    const pa = k.pageArray(2);
    const digest = k.digest();
    // (unsigned long)-1 << PAGE_SHIFT wraps: start + len overflows for any start >= PAGE_SIZE.
    expect(w.call(k, t, a, -1, 0, pa)).toBe(-C.EOVERFLOW);
    expect(w.call(k, t, a, -2, C.FOLL_WRITE, pa)).toBe(-C.EOVERFLOW);
    expect(k.digest()).toBe(digest);
    expect(pa.toArray()).toEqual([null, null]);
    expect(warnings(k)).toEqual([]);
  });

  it.each(rows(FASTS))(
    '%s with start 0 and nr_pages -1: no overflow, but the end is above TASK_SIZE_MAX: -EFAULT', async (_, w) => {
      // len = 2^64 - PAGE_SIZE, end = start + len does not overflow when
      // start is 0, and end > TASK_SIZE_MAX (derived from the code, 2.3).
      const k = await bootTest(backend);
      const t = k.spawn();
      const pa = k.pageArray(1);
      expect(w.call(k, t, 0, -1, 0, pa)).toBe(-C.EFAULT);
    });

  it.each(rows(FASTS))('%s with a range ending above TASK_SIZE_MAX returns -EFAULT', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const pa = k.pageArray(4);
    expect(w.call(k, t, TASK_SIZE_MAX, 1, 0, pa)).toBe(-C.EFAULT); // ends at 2^47
    expect(w.call(k, t, TASK_SIZE_MAX - 2 * PAGE, 4, 0, pa)).toBe(-C.EFAULT);
    expect(w.call(k, t, 2 ** 47, 1, 0, pa)).toBe(-C.EFAULT);
    expect(w.call(k, t, 2 ** 52, 1, 0, pa)).toBe(-C.EFAULT);
    // Ending exactly at TASK_SIZE_MAX is allowed: the walk finds nothing there.
    const inRange = w.call(k, t, TASK_SIZE_MAX - PAGE, 1, 0, pa);
    expect(inRange).toBe(w.name === 'get_user_pages_fast_only' ? 0 : -C.EFAULT);
    expect(warnings(k)).toEqual([]);
  });

  it('JS misuse throws TypeError/RangeError and changes nothing', async () => {
    const k = await bootTest(backend);
    const other = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 4);
    const pa = k.pageArray(4);
    const small = k.pageArray(2);
    const freed = k.pageArray(4);
    freed.free();
    const foreign = other.pageArray(4);
    const x = (v: unknown) => v as number;
    for (const w of WRAPPERS) {
      const call = (tt: unknown, s: unknown, n: unknown, f: unknown, p: unknown) => () =>
        w.call(k, tt as Task, x(s), x(n), x(f), p as PageArray);
      expectMisuse(k, t, call(t, String(a), 1, 0, pa), TypeError);
      expectMisuse(k, t, call(t, a, '1', 0, pa), TypeError);
      expectMisuse(k, t, call(t, a, 1, '0', pa), TypeError);
      expectMisuse(k, t, call(t, NaN, 1, 0, pa), RangeError);
      expectMisuse(k, t, call(t, a, NaN, 0, pa), RangeError);
      expectMisuse(k, t, call(t, a + 0.5, 1, 0, pa), RangeError);
      expectMisuse(k, t, call(t, a, 1.5, 0, pa), RangeError);
      expectMisuse(k, t, call(t, a, 1, 1.5, pa), RangeError);
      expectMisuse(k, t, call(t, a, 4, C.FOLL_WRITE, small), RangeError); // PageArray smaller than nr_pages
      expectMisuse(k, t, call(t, a, 1, 0, freed), TypeError);
      expectMisuse(k, t, call(t, a, 1, 0, foreign), TypeError);
      expectMisuse(k, t, call(t, a, 1, 0, [0]), TypeError);
      expectMisuse(k, t, call(t, a, 1, 0, undefined), TypeError);
    }
    // Something that is not a Task (or, for *_remote, an mm).
    for (const bad of [{}, null, 1, 'task']) {
      const b = bad as Task;
      expectMisuse(k, t, () => k.get_user_pages(b, a, 1, 0, pa), TypeError);
      expectMisuse(k, t, () => k.pin_user_pages(b, a, 1, 0, pa), TypeError);
      expectMisuse(k, t, () => k.pin_user_pages_fast(b, a, 1, 0, pa), TypeError);
      expectMisuse(k, t, () => k.get_user_pages_unlocked(b, a, 1, pa, 0), TypeError);
      expectMisuse(k, t, () => k.pin_user_pages_remote(b as unknown as Task['mm'], a, 1, 0, pa), TypeError);
    }
    expectMisuse(k, t, () => k.pin_user_pages_remote(t.mm, a, 1, 0, pa, 'locked' as never), TypeError);
    expectMisuse(k, t, () => k.get_user_pages_remote(t.mm, a, 1, 0, pa, { value: '1' } as never), TypeError);
    // The release side.
    expect(k.pin_user_pages(t, a, 4, 0, pa)).toBe(4);
    const pinned = pa.get(0)!;
    expectMisuse(k, t, () => k.unpin_user_page(String(pinned) as never), TypeError);
    expectMisuse(k, t, () => k.unpin_user_page(pinned + 0.5), RangeError);
    expectMisuse(k, t, () => k.unpin_user_page(-1), RangeError);
    expectMisuse(k, t, () => k.unpin_user_page(k.nrFrames), RangeError);
    expectMisuse(k, t, () => k.unpin_user_pages(pa, 5), RangeError);
    expectMisuse(k, t, () => k.unpin_user_pages(pa, '4' as never), TypeError);
    expectMisuse(k, t, () => k.unpin_user_pages(freed, 1), TypeError);
    expectMisuse(k, t, () => k.unpin_user_pages(foreign, 1), TypeError);
    expectMisuse(k, t, () => k.unpin_user_pages_dirty_lock(pa, 4, 1 as never), TypeError);
    // An entry that is no page of this machine (written through the view,
    // a wild struct page pointer in C): refused before anything changes.
    const saved = pa.get(2)!;
    for (const bogus of [k.nrFrames, 2 ** 31 - 1]) {
      pa.pfns[2] = bogus;
      expectMisuse(k, t, () => k.unpin_user_pages(pa, 4), RangeError);
      expectMisuse(k, t, () => k.unpin_user_pages_dirty_lock(pa, 4, true), RangeError);
    }
    pa.pfns[2] = saved;
    expectMisuse(k, t, () => k.unpin_user_page_range_dirty_lock(pinned, 1, 'yes' as never), TypeError);
    expectMisuse(k, t, () => k.unpin_user_page_range_dirty_lock(k.nrFrames - 1, 2, false), RangeError);
    expectMisuse(k, t, () => k.put_page(NaN), RangeError);
    expectMisuse(k, t, () => k.pageArray(-1), RangeError);
    expectMisuse(k, t, () => k.pageArray(1.5), RangeError);
    expectMisuse(k, t, () => k.pageArray('2' as never), TypeError);
    k.unpin_user_pages(pa, 4);
    expect(ref(k, pinned)).toBe(1);
    // An exited task: ESRCH, as every call on it (test/reliability-gup.test.ts).
    t.exit();
    expect(() => k.pin_user_pages(t, a, 1, 0, pa)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(warnings(k)).toEqual([]);
  });

  it.each(rows(WRAPPERS))(
    '%s: a PageArray smaller than nr_pages is JS misuse even when the flags are invalid too', async (_, w) => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = written(t, 4);
      const small = k.pageArray(2);
      const bad = w.pin ? C.FOLL_GET : C.FOLL_LONGTERM;
      expectMisuse(k, t, () => w.call(k, t, a, 4, bad, small), RangeError);
      expectMisuse(k, t, () => w.call(k, t, a, 4, C.FOLL_TOUCH, small), RangeError);
    });

  it('a Task (or mm) of another machine is refused with TypeError; neither machine changes', async () => {
    const k = await bootTest(backend);
    const other = await bootTest(backend);
    const t = k.spawn();
    written(t, 1);
    const stranger = other.spawn();
    const sa = written(stranger, 2);
    const pa = k.pageArray(2);
    const otherDigest = other.digest();
    expectMisuse(k, t, () => k.pin_user_pages(stranger, sa, 2, 0, pa), TypeError);
    expectMisuse(k, t, () => k.get_user_pages_fast(stranger, sa, 2, 0, pa), TypeError);
    expectMisuse(k, t, () => k.get_user_pages_remote(stranger.mm, sa, 2, 0, pa), TypeError);
    expectMisuse(k, t, () => k.pin_user_pages_remote(stranger.mm, sa, 2, 0, pa), TypeError);
    expect(other.digest()).toBe(otherDigest);
    expect(stranger.mm.hasPinned).toBe(false);
  });
});

describe.each(BACKENDS)('GUP return values (%s core)', (backend) => {
  it.each(rows(WRAPPERS))('%s returns the count and fills pages[] in order', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 4);
    const pa = k.pageArray(6);
    expect(w.call(k, t, a, 4, C.FOLL_WRITE, pa)).toBe(4);
    const pfns = [0, 1, 2, 3].map((i) => t.translate(a + i * PAGE));
    expect(pa.toArray()).toEqual([...pfns, null, null]);
    for (const pfn of pfns) expect(ref(k, pfn!)).toBe(w.pin ? 1 + BIAS : 2);
    release(k, w, pa, 4);
    for (const pfn of pfns) expect(ref(k, pfn!)).toBe(1);
  });

  it.each(rows(WRAPPERS))('%s stops at an unmapped hole and returns the prefix', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 4);
    t.munmap(a + 2 * PAGE, PAGE);
    const pa = k.pageArray(4);
    expect(w.call(k, t, a, 4, C.FOLL_WRITE, pa)).toBe(2);
    expect(pa.toArray()).toEqual([t.translate(a), t.translate(a + PAGE), null, null]);
    const third = t.translate(a + 3 * PAGE)!;
    expect(ref(k, third)).toBe(1); // nothing taken past the hole
    release(k, w, pa, 2);
    expect(ref(k, pa.get(0)!)).toBe(1);
  });

  it.each(rows(WRAPPERS))('%s with nothing mapped at start: -EFAULT (fast_only: 0)', async (_, w) => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    t.munmap(a, 2 * PAGE);
    const pa = k.pageArray(2);
    const digest = k.digest();
    expect(w.call(k, t, a, 2, 0, pa)).toBe(w.name === 'get_user_pages_fast_only' ? 0 : -C.EFAULT);
    expect(k.digest()).toBe(digest);
    expect(warnings(k)).toEqual([]);
  });

  it.each(rows(WRAPPERS.filter((w) => w.name !== 'get_user_pages_fast_only')))(
    '%s: a write to a read-only mapping is -EFAULT', async (_, w) => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = anon(t, 2, C.PROT_READ);
      const pa = k.pageArray(2);
      expect(w.call(k, t, a, 2, C.FOLL_WRITE, pa)).toBe(-C.EFAULT);
      expect(pa.toArray()).toEqual([null, null]);
    });

  it('a slow-path error after some pages is swallowed: the count is returned', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 4);
    t.mprotect(a + 2 * PAGE, 2 * PAGE, C.PROT_READ);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages(t, a, 4, C.FOLL_WRITE, pa)).toBe(2);
    expect(k.pin_user_pages(t, a + 2 * PAGE, 2, C.FOLL_WRITE, pa)).toBe(-C.EFAULT);
    k.unpin_user_pages(pa, 2);
  });

  it.each(rows(FASTS.filter((w) => w.name !== 'get_user_pages_fast_only')))(
    '%s: the slow part fails after the fast prefix: the prefix count is returned', async (_, w) => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = anon(t, 4);
      t.write(a, 1);
      t.write(a + PAGE, 2);
      t.mprotect(a + 2 * PAGE, 2 * PAGE, C.PROT_READ); // pages 2, 3: not present, not writable
      const pa = k.pageArray(4);
      expect(w.call(k, t, a, 4, C.FOLL_WRITE, pa)).toBe(2);
      expect(pa.toArray()).toEqual([t.translate(a), t.translate(a + PAGE), null, null]);
      release(k, w, pa, 2);
      expect(ref(k, t.translate(a)!)).toBe(1);
    });

  it.each(rows(FASTS.filter((w) => w.name !== 'get_user_pages_fast_only')))(
    '%s: the slow part continues after the fast prefix: fast + slow', async (_, w) => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = anon(t, 6);
      t.write(a, 1);
      t.write(a + PAGE, 2); // pages 2..4 untouched, page 5 is a hole
      t.munmap(a + 5 * PAGE, PAGE);
      const pa = k.pageArray(6);
      expect(w.call(k, t, a, 6, C.FOLL_WRITE, pa)).toBe(5);
      for (let i = 0; i < 5; i++) {
        expect(pa.get(i)).toBe(t.translate(a + i * PAGE));
        expect(pa.get(i)).not.toBe(0);
      }
      release(k, w, pa, 5);
    });

  it('get_user_pages_fast_only never faults: untouched memory gives 0, a partial range its prefix', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const pa = k.pageArray(4);
    const faults = k.vmstat().pgfault;
    expect(k.get_user_pages_fast_only(t, a, 4, 0, pa)).toBe(0);
    expect(k.get_user_pages_fast_only(t, a, 4, C.FOLL_WRITE, pa)).toBe(0);
    expect(k.vmstat().pgfault).toBe(faults);
    for (let i = 0; i < 4; i++) expect(t.translate(a + i * PAGE)).toBe(null);
    t.write(a, 1);
    t.write(a + PAGE, 2);
    const f2 = k.vmstat().pgfault;
    expect(k.get_user_pages_fast_only(t, a, 4, C.FOLL_WRITE, pa)).toBe(2);
    expect(k.vmstat().pgfault).toBe(f2);
    expect(t.translate(a + 2 * PAGE)).toBe(null);
    expect(pa.toArray()).toEqual([t.translate(a), t.translate(a + PAGE), null, null]);
    for (const i of [0, 1]) {
      expect(ref(k, pa.get(i)!)).toBe(2); // FOLL_GET
      k.put_page(pa.get(i)!);
    }
    // A read-only PTE does not satisfy a write: no COW break, no fault, 0.
    const c = t.fork();
    const cpa = k.pageArray(1);
    expect(k.get_user_pages_fast_only(c, a, 1, C.FOLL_WRITE, cpa)).toBe(0);
    expect(c.translate(a)).toBe(t.translate(a));
    expect(k.get_user_pages_fast_only(c, a, 1, 0, cpa)).toBe(1);
    k.put_page(cpa.get(0)!);
  });
});

describe.each(BACKENDS)('pin accounting (%s core)', (backend) => {
  it('a small folio: each pin adds GUP_PIN_COUNTING_BIAS (1024) to the refcount', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pfn = t.translate(a)!;
    const p1 = k.pageArray(1);
    const p2 = k.pageArray(1);
    expect(ref(k, pfn)).toBe(1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE, p1)).toBe(1);
    expect(ref(k, pfn)).toBe(1025);
    expect(k.pin_user_pages_fast(t, a, 1, 0, p2)).toBe(1);
    expect(ref(k, pfn)).toBe(2049);
    expect(k.page(pfn).pincount).toBe(0); // no _pincount field on a small folio
    expect(k.page(pfn).mapcount).toBe(1);
    k.unpin_user_page(pfn);
    expect(ref(k, pfn)).toBe(1025);
    k.unpin_user_pages(p2, 1);
    expect(ref(k, pfn)).toBe(1);
    expect(warnings(k)).toEqual([]);
  });

  it('FOLL_GET adds 1 to the refcount; put_page() drops it', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(1); // FOLL_GET implied by pages
    expect(ref(k, pfn)).toBe(2);
    expect(k.get_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    expect(k.get_user_pages(t, a, 1, C.FOLL_GET, pa)).toBe(1);
    expect(ref(k, pfn)).toBe(4);
    expect(acquired(k)).toBe(0); // plain references are not pins
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    for (let i = 0; i < 3; i++) k.put_page(pfn);
    expect(ref(k, pfn)).toBe(1);
    expect(t.mm.hasPinned).toBe(false);
  });

  it('a THP: pinning n subpages adds n to the refcount and n to _pincount', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const pa = k.pageArray(512);
    expect(k.pin_user_pages(t, a + 5 * PAGE, 3, C.FOLL_WRITE, pa)).toBe(3);
    expect(pa.toArray().slice(0, 4)).toEqual([head + 5, head + 6, head + 7, null]);
    expect(k.page(head).refcount).toBe(1 + 3);
    expect(k.page(head).pincount).toBe(3);
    expect(k.page(head + 6).pincount).toBe(3); // a subpage reports its folio's
    expect(acquired(k)).toBe(3);
    const pb = k.pageArray(512);
    expect(k.pin_user_pages_fast(t, a, 512, 0, pb)).toBe(512);
    expect(k.page(head).refcount).toBe(1 + 3 + 512);
    expect(k.page(head).pincount).toBe(515);
    expect(acquired(k)).toBe(515);
    k.unpin_user_pages(pa, 3);
    k.unpin_user_pages(pb, 512);
    expect(k.page(head).refcount).toBe(1);
    expect(k.page(head).pincount).toBe(0);
    expect(released(k)).toBe(515);
    expect(warnings(k)).toEqual([]);
  });

  it('a THP: FOLL_GET of n subpages adds n to the refcount and nothing to _pincount', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const pa = k.pageArray(10);
    expect(k.get_user_pages_fast(t, a, 10, 0, pa)).toBe(10);
    expect(k.page(head).refcount).toBe(11);
    expect(k.page(head).pincount).toBe(0);
    for (let i = 0; i < 10; i++) k.put_page(pa.get(i)!);
    expect(k.page(head).refcount).toBe(1);
  });

  it('a hugetlb folio: pinning n subpages adds n to the refcount and n to _pincount', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 2 } });
    const t = k.spawn();
    const h = t.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.write(h, 1);
    const head = t.translate(h)!;
    expect(k.page(head).order).toBe(9);
    expect(k.page(head).flags).toContain('hugetlb');
    const r0 = k.page(head).refcount;
    const pa = k.pageArray(512);
    expect(k.pin_user_pages(t, h + 10 * PAGE, 4, C.FOLL_WRITE, pa)).toBe(4);
    expect(k.page(head).refcount).toBe(r0 + 4);
    expect(k.page(head).pincount).toBe(4);
    const pb = k.pageArray(512);
    expect(k.pin_user_pages_fast(t, h, 512, C.FOLL_WRITE | C.FOLL_LONGTERM, pb)).toBe(512);
    expect(k.page(head).refcount).toBe(r0 + 516);
    expect(k.page(head).pincount).toBe(516);
    expect(acquired(k)).toBe(516);
    k.unpin_user_pages(pb, 512);
    k.unpin_user_pages(pa, 4);
    expect(k.page(head).refcount).toBe(r0);
    expect(k.page(head).pincount).toBe(0);
    expect(released(k)).toBe(516);
    expect(warnings(k)).toEqual([]);
  });

  it('the shared zero page: a R/O short-term pin returns it and counts nothing', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    expect(t.read(a)).toBe(0);
    expect(t.translate(a)).toBe(0);
    const zero = k.page(0);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(pa.get(0)).toBe(0);
    expect(k.page(0).refcount).toBe(zero.refcount);
    expect(k.page(0).pincount).toBe(0);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(0);
    expect(t.mm.hasPinned).toBe(true); // the call was a FOLL_PIN call all the same
    k.unpin_user_pages(pa, 1);
    k.unpin_user_page(0);
    expect(k.page(0).refcount).toBe(zero.refcount);
    expect(k.vmstat().nr_foll_pin_released).toBe(0);
    expect(t.translate(a)).toBe(0);
    // pin_user_pages_fast: GUP-fast refuses the special PTE, the slow path returns the zero page.
    expect(k.pin_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    expect(pa.get(0)).toBe(0);
    expect(k.page(0).refcount).toBe(zero.refcount);
    k.unpin_user_pages(pa, 1);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 0, nr_foll_pin_released: 0 });
    // A R/O long-term pin unshares it instead: a new exclusive anon page, counted.
    expect(k.pin_user_pages(t, a, 1, C.FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(0);
    expect(t.translate(a)).toBe(pa.get(0));
    expect(ref(k, pa.get(0)!)).toBe(1 + BIAS);
    expect(acquired(k)).toBe(1);
    k.unpin_user_pages(pa, 1);
    expect(k.page(0).refcount).toBe(zero.refcount);
    expect(warnings(k)).toEqual([]);
  });

  it('the shared zero page: FOLL_GET raises its refcount, put_page() drops it', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.read(a);
    const z = k.page(0).refcount;
    const pa = k.pageArray(1);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(pa.get(0)).toBe(0);
    expect(k.page(0).refcount).toBe(z + 1);
    k.put_page(0);
    expect(k.page(0).refcount).toBe(z);
  });

  it('vmstat nr_foll_pin_acquired/released count base pages and balance after unpin', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = written(t, 3);
    const { a: h } = thp(k, t);
    const pa = k.pageArray(3);
    const pb = k.pageArray(100);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(3);
    expect(k.pin_user_pages_fast(t, h + 7 * PAGE, 100, 0, pb)).toBe(100);
    const gets = k.pageArray(3);
    expect(k.get_user_pages(t, a, 3, 0, gets)).toBe(3); // not counted
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 103, nr_foll_pin_released: 0 });
    k.unpin_user_pages(pa, 3);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 103, nr_foll_pin_released: 3 });
    k.unpin_user_pages(pb, 100);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 103, nr_foll_pin_released: 103 });
    for (let i = 0; i < 3; i++) k.put_page(gets.get(i)!);
    expect(released(k)).toBe(103);
  });

  it('vmstat: a GUP-fast rollback (R/O pin of a COW-shared page) moves both counters', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    t.fork(); // the parent's pages are no longer exclusive
    const pa = k.pageArray(2);
    // GUP-fast grabs page 0, sees it must be unshared, puts it back and
    // stops; the slow path unshares and pins both pages.
    expect(k.pin_user_pages_fast(t, a, 2, 0, pa)).toBe(2);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 3, nr_foll_pin_released: 1 });
    for (let i = 0; i < 2; i++) {
      expect(pa.get(i)).toBe(t.translate(a + i * PAGE));
      expect(ref(k, pa.get(i)!)).toBe(1 + BIAS);
    }
    k.unpin_user_pages(pa, 2);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 3, nr_foll_pin_released: 3 });
  });

  it('a THP pinned whole and unpinned subpage by subpage balances', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const pa = k.pageArray(512);
    expect(k.pin_user_pages(t, a, 512, C.FOLL_WRITE, pa)).toBe(512);
    expect(k.page(head).pincount).toBe(512);
    for (let i = 0; i < 512; i++) {
      k.unpin_user_page(head + i);
      if (i === 255) expect(k.page(head).pincount).toBe(256);
    }
    expect(k.page(head)).toMatchObject({ refcount: 1, pincount: 0, maybeDmaPinned: false });
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 512, nr_foll_pin_released: 512 });
    expect(warnings(k)).toEqual([]);
  });

  it('MMF_HAS_PINNED: set by the first FOLL_PIN call (slow or fast), never cleared', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const u = k.spawn();
    const a = written(t, 1);
    const b = written(u, 1);
    const pa = k.pageArray(1);
    expect(t.mm.hasPinned).toBe(false);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(1); // FOLL_GET does not set it
    k.put_page(pa.get(0)!);
    expect(t.mm.hasPinned).toBe(false);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(t.mm.hasPinned).toBe(true);
    k.unpin_user_pages(pa, 1);
    expect(t.mm.hasPinned).toBe(true);
    expect(u.mm.hasPinned).toBe(false);
    expect(k.pin_user_pages_fast(u, b, 1, 0, pa)).toBe(1);
    expect(u.mm.hasPinned).toBe(true);
    k.unpin_user_pages(pa, 1);
    expect(u.mm.hasPinned).toBe(true);
    // Set even when the pin itself fails (mm_set_has_pinned_flag runs first).
    const v = k.spawn();
    expect(k.pin_user_pages(v, 0x1000, 1, 0, pa)).toBe(-C.EFAULT);
    expect(v.mm.hasPinned).toBe(true);
    const w = k.spawn();
    expect(k.pin_user_pages_fast(w, 0x1000, -1, 0, pa)).toBe(-C.EOVERFLOW);
    expect(w.mm.hasPinned).toBe(true);
    // But not by a call that fails validation, nor by a slow call for 0 pages.
    const x = k.spawn();
    expect(k.pin_user_pages(x, 0x1000, 1, C.FOLL_GET, pa)).toBe(0);
    expect(k.pin_user_pages_fast(x, 0x1000, 1, C.FOLL_DUMP, pa)).toBe(-C.EINVAL);
    expect(k.pin_user_pages(x, 0x1000, 0, 0, pa)).toBe(0);
    expect(x.mm.hasPinned).toBe(false);
  });

  it('unpin_user_pages skips NULL entries', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 3);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(3);
    const [p0, p1, p2] = pa.toArray() as number[];
    pa.pfns[1] = -1; // NULL
    k.unpin_user_pages(pa, 3);
    expect(ref(k, p0)).toBe(1);
    expect(ref(k, p1)).toBe(1 + BIAS); // its entry was NULL: still pinned
    expect(ref(k, p2)).toBe(1);
    expect(released(k)).toBe(2);
    k.unpin_user_page(p1);
    expect(ref(k, p1)).toBe(1);
    expect(warnings(k)).toEqual([]);
  });

  it('unpin_user_pages batches runs of one folio and handles mixed arrays', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const s = written(t, 1);
    const small = t.translate(s)!;
    const pa = k.pageArray(8);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(3);
    const pb = k.pageArray(1);
    expect(k.pin_user_pages(t, s, 1, 0, pb)).toBe(1);
    expect(k.pin_user_pages(t, a + 3 * PAGE, 2, 0, k.pageArray(2))).toBe(2);
    // An array in the kernel's shape: runs of one folio, a NULL, another folio.
    pa.pfns.set([head, head + 1, -1, small, head + 2, head + 3, head + 4, -1]);
    expect(k.page(head).pincount).toBe(5);
    k.unpin_user_pages(pa, 8);
    expect(k.page(head)).toMatchObject({ refcount: 1, pincount: 0 });
    expect(ref(k, small)).toBe(1);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 6, nr_foll_pin_released: 6 });
    expect(warnings(k)).toEqual([]);
  });

  it('unpin_user_pages with an error value for npages (-EFAULT) WARNs and does nothing', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 2);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, 0, pa)).toBe(2);
    const digest = k.digest();
    k.unpin_user_pages(pa, -C.EFAULT);
    expect(warnings(k)).toHaveLength(1);
    k.unpin_user_pages(pa, -C.EFAULT);
    expect(warnings(k)).toHaveLength(1);
    k.unpin_user_pages(pa, 0);
    k.unpin_user_pages_dirty_lock(pa, 0, true);
    expect(warnings(k)).toHaveLength(1);
    expect(k.digest()).toBe(digest);
    expect(ref(k, pa.get(0)!)).toBe(1 + BIAS);
    expect(released(k)).toBe(0);
    k.unpin_user_pages(pa, 2);
    expect(ref(k, pa.get(0)!)).toBe(1);
  });

  it('unpin_user_pages_dirty_lock(make_dirty = true) dirties each folio; false does not', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 4 * PAGE });
    const fd = t.open(f);
    const m = t.mmap({ length: 4 * PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd });
    for (let i = 0; i < 4; i++) t.read(m + i * PAGE);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages(t, m, 4, 0, pa)).toBe(4);
    const pfns = pa.toArray() as number[];
    for (const p of pfns) {
      expect(k.page(p).flags).not.toContain('dirty'); // pin_user_pages never marks pages dirty
      expect(k.page(p).flags).not.toContain('anon');
    }
    pa.pfns[2] = -1;
    pa.pfns[3] = -1;
    k.unpin_user_pages_dirty_lock(pa, 4, true);
    expect(k.page(pfns[0]).flags).toContain('dirty');
    expect(k.page(pfns[1]).flags).toContain('dirty');
    expect(ref(k, pfns[0]) < BIAS).toBe(true);
    const pb = k.pageArray(2);
    pb.pfns.set([pfns[2], pfns[3]]);
    k.unpin_user_pages_dirty_lock(pb, 2, false);
    expect(k.page(pfns[2]).flags).not.toContain('dirty');
    expect(k.page(pfns[3]).flags).not.toContain('dirty');
    for (const p of pfns) expect(k.folio_maybe_dma_pinned(p)).toBe(false);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 4, nr_foll_pin_released: 4 });
    expect(warnings(k)).toEqual([]);
  });

  it('unpin_user_page_range_dirty_lock over a THP range', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const pa = k.pageArray(512);
    expect(k.page(head).flags).not.toContain('dirty');
    expect(k.pin_user_pages(t, a + 100 * PAGE, 200, 0, pa)).toBe(200);
    expect(k.page(head).pincount).toBe(200);
    k.unpin_user_page_range_dirty_lock(head + 100, 50, false);
    expect(k.page(head)).toMatchObject({ refcount: 151, pincount: 150 });
    expect(k.page(head).flags).not.toContain('dirty');
    k.unpin_user_page_range_dirty_lock(head + 150, 150, true);
    expect(k.page(head)).toMatchObject({ refcount: 1, pincount: 0 });
    expect(k.page(head).flags).toContain('dirty');
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 200, nr_foll_pin_released: 200 });
    expect(warnings(k)).toEqual([]);
  });

  it('unpin_user_page_range_dirty_lock on small folios, one page at a time', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(ref(k, pfn)).toBe(1 + 2 * BIAS);
    k.unpin_user_page_range_dirty_lock(pfn, 1, true);
    expect(ref(k, pfn)).toBe(1 + BIAS);
    expect(k.page(pfn).flags).toContain('dirty');
    k.unpin_user_page_range_dirty_lock(pfn, 1, false);
    expect(ref(k, pfn)).toBe(1);
  });

  it('unpin_user_page_range_dirty_lock across physically contiguous small folios', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 8);
    const pa = k.pageArray(8);
    expect(k.pin_user_pages(t, a, 8, 0, pa)).toBe(8);
    const pfns = pa.toArray() as number[];
    // A run of pages whose frames are contiguous (the buddy allocator gives some).
    const i = pfns.findIndex((p, j) => j + 2 < 8 && pfns[j + 1] === p + 1 && pfns[j + 2] === p + 2);
    expect(i).toBeGreaterThanOrEqual(0);
    k.unpin_user_page_range_dirty_lock(pfns[i], 3, true);
    for (let j = 0; j < 8; j++) {
      const inRange = j >= i && j < i + 3;
      expect(ref(k, pfns[j])).toBe(inRange ? 1 : 1 + BIAS);
      expect(k.page(pfns[j]).flags.includes('dirty')).toBe(inRange);
    }
    expect(released(k)).toBe(3);
    for (let j = 0; j < 8; j++) if (j < i || j >= i + 3) k.unpin_user_page(pfns[j]);
    expect(released(k)).toBe(8);
    expect(warnings(k)).toEqual([]);
  });

  it('unpinning a page that holds no pin WARNs once (pinsim refuses it and leaves the page untouched)', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = written(t, 2);
    const pfn = t.translate(a)!;
    const { head } = thp(k, t);
    const pa = k.pageArray(2);
    pa.pfns.set([pfn, head]);
    const snap = [k.page(pfn), k.page(head), k.page(head + 1), k.page(head + 2), k.vmstat()];
    k.unpin_user_page(pfn);
    expect(warnings(k)).toHaveLength(1);
    k.unpin_user_page(pfn);
    k.unpin_user_pages(pa, 2);
    k.unpin_user_page_range_dirty_lock(head, 3, true);
    expect(warnings(k)).toHaveLength(1);
    expect([k.page(pfn), k.page(head), k.page(head + 1), k.page(head + 2), k.vmstat()]).toEqual(snap);
    expect(ref(k, pfn)).toBe(1);
    expect(k.page(head)).toMatchObject({ refcount: 1, pincount: 0 });
    expect(k.page(head).flags).not.toContain('dirty');
    expect(released(k)).toBe(0);
    // A page with FOLL_GET references only is not pinned either.
    const g = k.pageArray(1);
    expect(k.get_user_pages(t, a + PAGE, 1, 0, g)).toBe(1);
    const gp = g.get(0)!;
    k.unpin_user_pages(g, 1);
    expect(ref(k, gp)).toBe(2);
    k.put_page(gp);
    expect(ref(k, gp)).toBe(1);
  });

  it('folio_maybe_dma_pinned is exact for large folios', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const { a, head } = thp(k, t);
    const pa = k.pageArray(512);
    for (let i = 0; i < 3; i++) expect(k.get_user_pages_fast(t, a, 512, 0, pa)).toBe(512);
    expect(k.page(head).refcount).toBe(1 + 3 * 512); // >= 1024 plain references
    expect(k.folio_maybe_dma_pinned(head)).toBe(false);
    expect(k.page_maybe_dma_pinned(head + 17)).toBe(false);
    const pb = k.pageArray(1);
    expect(k.pin_user_pages(t, a + 17 * PAGE, 1, 0, pb)).toBe(1);
    expect(k.folio_maybe_dma_pinned(head)).toBe(true);
    expect(k.folio_maybe_dma_pinned(head + 300)).toBe(true);
    expect(k.page_maybe_dma_pinned(head + 511)).toBe(true);
    k.unpin_user_pages(pb, 1);
    expect(k.folio_maybe_dma_pinned(head)).toBe(false);
    for (let i = 0; i < 3 * 512; i++) k.put_page(head + (i % 512));
    expect(k.page(head).refcount).toBe(1);
  });

  it('folio_maybe_dma_pinned on a small folio: 1024 plain references read as pinned (the false positive)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    for (let i = 0; i < 1022; i++) expect(k.get_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    expect(ref(k, pfn)).toBe(1023);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(k.page_maybe_dma_pinned(pfn)).toBe(false);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(ref(k, pfn)).toBe(1024); // the mapping plus 1023 GUP references: no pin at all
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    expect(k.page_maybe_dma_pinned(pfn)).toBe(true);
    expect(k.page(pfn).maybeDmaPinned).toBe(true);
    expect(acquired(k)).toBe(0);
    for (let i = 0; i < 1023; i++) k.put_page(pfn);
    expect(ref(k, pfn)).toBe(1);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    // A real pin.
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    k.unpin_user_page(pfn);
    expect(k.page_maybe_dma_pinned(pfn)).toBe(false);
  });

  it('procVmstat() shows the pin counters as /proc/vmstat lines', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 3);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(3);
    k.unpin_user_page(pa.get(1)!);
    const text = k.procVmstat();
    expect(text).toMatch(/^nr_foll_pin_acquired 3$/m);
    expect(text).toMatch(/^nr_foll_pin_released 1$/m);
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^[a-z_]+ \d+$/);
    k.unpin_user_page(pa.get(0)!);
    k.unpin_user_page(pa.get(2)!);
    expect(k.procVmstat()).toMatch(/^nr_foll_pin_released 3$/m);
  });
});

describe.each(BACKENDS)('the 2019 series names (%s core)', (backend) => {
  // ZONE_MOVABLE is allocated first for user pages, so a LONGTERM pin must migrate.
  const bootMovable = () => bootTest(backend, { movable: '16MiB', thp: 'never' });

  function movablePage(k: Kernel, t: Task): { a: number; pfn: number } {
    const a = written(t, 2);
    const pfn = t.translate(a)!;
    expect(k.page(pfn).zone).toBe('Movable');
    return { a, pfn };
  }

  it('pin_longterm_pages is pin_user_pages with FOLL_LONGTERM: it migrates out of ZONE_MOVABLE', async () => {
    const k = await bootMovable();
    const t = k.spawn();
    const { a, pfn } = movablePage(k, t);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    expect(pa.get(0)).toBe(pfn); // short-term: stays where it is
    k.unpin_user_pages(pa, 1);
    expect(k.pin_longterm_pages(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    const moved = pa.get(0)!;
    expect(moved).not.toBe(pfn);
    expect(k.page(moved).zone).toBe('Normal');
    expect(t.translate(a)).toBe(moved);
    expect(t.read(a)).toBe(0x100);
    expect(ref(k, moved)).toBe(1 + BIAS);
    k.unpin_user_pages(pa, 1);
    expect(ref(k, moved)).toBe(1);
  });

  it('pin_longterm_pages and pin_user_pages(FOLL_LONGTERM) leave identical machines', async () => {
    const run = async (pin: (k: Kernel, t: Task, a: number, n: number, f: number, pa: PageArray) => number) => {
      const k = await bootMovable();
      const t = k.spawn();
      const a = written(t, 8);
      const pa = k.pageArray(8);
      const r = [pin(k, t, a, 8, C.FOLL_WRITE, pa), pin(k, t, a, 8, C.FOLL_GET, pa), pin(k, t, a + 2 * PAGE, 3, 0, pa)];
      return { r, digest: k.digest(), log: k.dmesg().slice(1), pages: pa.toArray(), vm: k.vmstat() };
    };
    const seed = await run((k, t, a, n, f, pa) => k.pin_longterm_pages(t, a, n, f, pa));
    const now = await run((k, t, a, n, f, pa) => k.pin_user_pages(t, a, n, f | C.FOLL_LONGTERM, pa));
    expect(seed.r).toEqual([8, 0, 3]);
    expect(seed).toEqual(now);
    const fast = await run((k, t, a, n, f, pa) => k.pin_longterm_pages_fast(t, a, n, f, pa));
    const fastNow = await run((k, t, a, n, f, pa) => k.pin_user_pages_fast(t, a, n, f | C.FOLL_LONGTERM, pa));
    expect(fast.r).toEqual([8, -C.EINVAL, 3]);
    expect(fast).toEqual(fastNow);
    const remote = await run((k, t, a, n, f, pa) => k.pin_longterm_pages_remote(t.mm, a, n, f, pa));
    const remoteNow = await run((k, t, a, n, f, pa) => k.pin_user_pages_remote(t.mm, a, n, f | C.FOLL_LONGTERM, pa));
    expect(remote.r).toEqual([8, 0, 3]);
    expect(remote).toEqual(remoteNow);
  });

  it('pin_longterm_pages_fast migrates out of ZONE_MOVABLE', async () => {
    const k = await bootMovable();
    const t = k.spawn();
    const { a, pfn } = movablePage(k, t);
    const pa = k.pageArray(2);
    expect(k.pin_longterm_pages_fast(t, a, 2, 0, pa)).toBe(2);
    for (let i = 0; i < 2; i++) {
      expect(pa.get(i)).not.toBe(pfn);
      expect(k.page(pa.get(i)!).zone).toBe('Normal');
      expect(t.translate(a + i * PAGE)).toBe(pa.get(i));
    }
    expect(t.read(a + PAGE)).toBe(0x101);
    // GUP-fast refused the unpinnable folios before counting them; the slow
    // path pinned both (2), unpinned the whole range to migrate (2) and
    // pinned both again (2).
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 4, nr_foll_pin_released: 2 });
    k.unpin_user_pages(pa, 2);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 4, nr_foll_pin_released: 4 });
    expect(ref(k, pa.get(0)!)).toBe(1);
  });

  it('pin_longterm_pages_remote really is long-term (unlike the seed\'s FIXME): it migrates', async () => {
    const k = await bootMovable();
    const t = k.spawn();
    const { a, pfn } = movablePage(k, t);
    const pa = k.pageArray(1);
    expect(k.pin_longterm_pages_remote(t.mm, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(pfn);
    expect(k.page(pa.get(0)!).zone).toBe('Normal');
    expect(k.pin_longterm_pages_remote(t.mm, a, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pa, { value: 1 })).toBe(1);
    expect(ref(k, pa.get(0)!)).toBe(1 + 2 * BIAS);
    k.unpin_user_page(pa.get(0)!);
    k.unpin_user_page(pa.get(0)!);
    // Long-term write pins of a shared ext4 mapping are refused (dirty tracking).
    const f = k.createFile({ fs: 'ext4', size: PAGE });
    const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    expect(k.pin_longterm_pages_remote(t.mm, m, 1, C.FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages_remote(t.mm, m, 1, C.FOLL_WRITE, pa)).toBe(1); // short-term is fine
    k.unpin_user_pages(pa, 1);
  });

  it('put_user_page, put_user_pages and put_user_pages_dirty_lock release pins like unpin_*', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = written(t, 4);
    const { a: h, head } = thp(k, t);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages(t, a, 4, 0, pa)).toBe(4);
    const pfns = pa.toArray() as number[];
    k.put_user_page(pfns[0]);
    expect(ref(k, pfns[0])).toBe(1);
    pa.pfns[0] = -1;
    k.put_user_pages(pa, 2);
    expect(ref(k, pfns[1])).toBe(1);
    expect(ref(k, pfns[2])).toBe(1 + BIAS);
    pa.pfns[1] = -1;
    k.put_user_pages_dirty_lock(pa, 4, false);
    expect(ref(k, pfns[2])).toBe(1);
    expect(ref(k, pfns[3])).toBe(1);
    const pb = k.pageArray(8);
    expect(k.pin_user_pages(t, h, 8, 0, pb)).toBe(8);
    k.put_user_pages_dirty_lock(pb, 8, true);
    expect(k.page(head)).toMatchObject({ refcount: 1, pincount: 0 });
    expect(k.page(head).flags).toContain('dirty');
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: 12, nr_foll_pin_released: 12 });
    // Unpinning through the old names WARNs like the new ones.
    k.put_user_page(pfns[0]);
    expect(warnings(k)).toHaveLength(1);
    expect(ref(k, pfns[0])).toBe(1);
    k.put_user_pages(pa, -C.EINVAL);
    expect(warnings(k)).toHaveLength(2);
  });
});

describe.each(BACKENDS)('refcount overflow guard (%s core)', (backend) => {
  // 2^21 - 1 pins of a small page: refcount 1 + 1024 * (2^21 - 1) = 2^31 - 1023,
  // the last value from which one more pin still starts positive.
  const BRINK = 2 ** 21 - 1;
  async function nearlyOverflowed() {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = written(t, 1);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    for (let i = 0; i < BRINK; i++) {
      if (k.pin_user_pages_fast(t, a, 1, 0, pa) !== 1) throw new Error(`pin ${i} failed`);
    }
    expect(ref(k, pfn)).toBe(1 + BIAS * BRINK);
    expect(acquired(k)).toBe(BRINK);
    return { k, t, a, pfn, pa };
  }

  it('a pin that finds the refcount <= 0 fails with -ENOMEM and a WARNING', async () => {
    const { k, t, a, pfn, pa } = await nearlyOverflowed();
    // The refcount is still positive: the pin is taken, and the count wraps negative.
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(ref(k, pfn)).toBe((1 + BIAS * (BRINK + 1)) | 0);
    expect(ref(k, pfn)).toBeLessThan(0);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true); // the (unsigned) cast: negative reads as pinned
    expect(warnings(k)).toEqual([]);
    const snap = [k.page(pfn), k.vmstat(), t.translate(a)];
    // Now every grab is refused: slow path, fast path (via its fallback) and FOLL_GET.
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(warnings(k)).toHaveLength(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(warnings(k)).toHaveLength(1); // WARN_ON_ONCE
    expect(k.pin_user_pages_fast(t, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(k.get_user_pages_fast(t, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(k.pin_user_pages_remote(t.mm, a, 1, 0, pa)).toBe(-C.ENOMEM);
    expect(k.get_user_pages_fast_only(t, a, 1, 0, pa)).toBe(0); // the fast walk just stops
    expect(warnings(k).every((l) => /refcount|overflow|try_grab|try_get/.test(l))).toBe(true);
    expect([k.page(pfn), k.vmstat(), t.translate(a)]).toEqual(snap); // nothing taken, nothing moved
  });

  it('releasing the pin that wrapped the refcount negative brings it back: pins work again', async () => {
    // gup_put_folio() subtracts 1024 with a wrapping atomic: -2^31 + 1 - 1024
    // is 2^31 - 1023 again. Nothing in the release path refuses a negative count.
    const { k, t, a, pfn, pa } = await nearlyOverflowed();
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(ref(k, pfn)).toBeLessThan(0);
    k.unpin_user_pages(pa, 1);
    expect(ref(k, pfn)).toBe(1 + BIAS * BRINK);
    expect(k.vmstat()).toMatchObject({ nr_foll_pin_acquired: BRINK + 1, nr_foll_pin_released: 1 });
    expect(k.pin_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    expect(warnings(k)).toEqual([]);
  });
});
