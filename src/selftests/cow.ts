// A port of tools/testing/selftests/mm/cow.c (David Hildenbrand's COW tests)
// to pinsim: the same cases in the same order with the same TAP lines. A
// forked child runs its steps where the C child would have run them (the
// comm pipes become program order). What pinsim lacks is skipped as the
// kernel's test skips it on a kernel without the feature: swap (MADV_PAGEOUT),
// MADV_COLLAPSE; mremap() is not modelled either (skipped with that reason).
import * as C from '../../assembly/constants';
import { PIN_LONGTERM_TEST_FLAG_USE_FAST, PinLongtermTest } from '../gup-test/pin-longterm';
import type { Kernel } from '../devices/kernel';
import type { Task } from '../task';
import { Ksft } from './tap';
import {
  ANON, HUGETLB_SIZES, PAGE, PMD_SIZE, RW, errnoOf, hugeFlag, hugeFree, hugeName, memset, populated, same, selftestMachine,
  strerror, tryCall, words, type SelftestOptions, type SelftestRun,
} from './machine';

const OLD = 0x01010101; // memset(mem, 1, size)
const NEW = 0xffffffff; // memset(mem, 0xff, size)

interface Ctx { k: Kernel; t: Task; ksft: Ksft; gup: PinLongtermTest }
type AnonFn = (c: Ctx, mem: number, size: number, isHugetlb: boolean) => void;
type NonAnonFn = (c: Ctx, mem: number, smem: number, size: number) => void;

// What the child checks once the parent has written: 0 when it still sees
// the old data (the C child's exit status).
type ChildFn = (c: Ctx, child: Task, mem: number, size: number) => () => number;

const childMemcmp: ChildFn = (_c, child, mem, size) => {
  const old = words(child, mem, size);
  return () => (same(old, words(child, mem, size)) ? 0 : 1);
};

const childVmspliceMemcmp: ChildFn = (_c, child, mem, size) => {
  const old = words(child, mem, size);
  const [r, w] = child.pipe();
  // Trigger a read-only pin (a FOLL_GET reference), then unmap.
  const transferred = child.vmsplice(w, [{ base: mem, len: size }]);
  if (transferred === 0) return () => C.EINVAL;
  child.munmap(mem, size);
  return () => {
    const got = child.read_pipe(r, transferred).map((b) => b.word);
    return same(old, got, transferred / PAGE) ? 0 : 1;
  };
};

function doTestCowInParent(c: Ctx, mem: number, size: number, doMprotect: boolean, fn: ChildFn, xfail: boolean): void {
  const { t, ksft } = c;
  const child = t.fork();
  let check: () => number;
  try {
    check = fn(c, child, mem, size);
  } catch (e) {
    errnoOf(e); // the C child exits with -errno
    check = () => 1;
  }
  if (doMprotect && (tryCall(() => t.mprotect(mem, size, C.PROT_READ)) || tryCall(() => t.mprotect(mem, size, RW)))) {
    ksft.fail('mprotect() failed');
    child.exit();
    return;
  }
  memset(t, mem, size, NEW);
  const ret = check();
  child.exit();
  if (!ret) ksft.pass('No leak from parent into child');
  else if (xfail) ksft.xfail('Leak from parent into child');
  else ksft.fail('Leak from parent into child');
}

function doTestVmspliceInParent(c: Ctx, mem: number, size: number, beforeFork: boolean, xfail: boolean): void {
  const { t, ksft } = c;
  const old = words(t, mem, size);
  const [r, w] = t.pipe();
  let transferred = 0;
  let child: Task | null = null;
  const splice = (): boolean => {
    try {
      transferred = t.vmsplice(w, [{ base: mem, len: size }]);
    } catch (e) {
      errnoOf(e);
    }
    if (transferred > 0) return true;
    ksft.fail('vmsplice() failed');
    return false;
  };
  try {
    if (beforeFork && !splice()) return;
    child = t.fork();
    if (!beforeFork && !splice()) return;
    t.munmap(mem, size);
    memset(child, mem, size, NEW); // the child modifies the page content
    child.exit();
    child = null;
    const got = t.read_pipe(r, transferred).map((b) => b.word);
    if (same(old, got, transferred / PAGE)) ksft.pass('No leak from child into parent');
    else if (xfail) ksft.xfail('Leak from child into parent');
    else ksft.fail('Leak from child into parent');
  } finally {
    child?.exit();
    t.close(r);
    t.close(w);
  }
}

function doTestIouring(c: Ctx, mem: number, size: number, useFork: boolean): void {
  const { k, t, ksft } = c;
  const file = k.createFile({ fs: 'tmpfs', size }); // tmpfile(): /tmp on tmpfs (a choice)
  const fd = t.open(file);
  let ring;
  try {
    ring = t.io_uring_setup(1);
  } catch (e) {
    errnoOf(e);
    ksft.skip('io_uring_queue_init() failed');
    t.close(fd);
    return;
  }
  let child: Task | null = null;
  try {
    if (tryCall(() => ring.register_buffers([{ iov_base: mem, iov_len: size }]))) {
      ksft.skip('io_uring_register_buffers() failed');
      return;
    }
    if (useFork) {
      child = t.fork(); // kept alive until we are done
    } else if (tryCall(() => t.mprotect(mem, size, C.PROT_READ)) || tryCall(() => t.mprotect(mem, size, RW))) {
      // clear_softdirty() between the two: pinsim has no soft-dirty tracking.
      ksft.fail('mprotect() failed');
      return;
    }
    memset(t, mem, size, NEW);
    ring.write_fixed(fd, 0, mem, size, 0);
    const [cqe] = ring.wait_cqes(1);
    if (!cqe || cqe.res !== size) {
      ksft.fail('write_fixed failed');
      return;
    }
    const inFile = Uint32Array.from({ length: size / PAGE }, (_, i) => t.pread(fd, i * PAGE) ?? 0);
    ksft.result(same(words(t, mem, size), inFile), 'Longterm R/W pin is reliable');
  } finally {
    child?.exit();
    tryCall(() => ring.unregister_buffers());
    t.close(ring.fd);
    t.close(fd);
  }
}

const enum RoPin { Plain, Shared, PreviouslyShared, RoExclusive }

function doTestRoPin(c: Ctx, mem: number, size: number, test: RoPin, fast: boolean): void {
  const { t, ksft, gup } = c;
  let child: Task | null = null;
  if (test === RoPin.Shared || test === RoPin.PreviouslyShared) {
    child = t.fork();
    if (test === RoPin.PreviouslyShared) {
      child.exit(); // the pages stay mapped R/O here, no longer shared
      child = null;
    }
  } else if (test === RoPin.RoExclusive) {
    if (tryCall(() => t.mprotect(mem, size, C.PROT_READ)) || tryCall(() => t.mprotect(mem, size, RW))) {
      ksft.fail('mprotect() failed');
      return;
    }
  }
  // Take a R/O pin. This should trigger unsharing.
  const ret = gup.start(t, mem, size, fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
  if (ret) {
    if (ret === -C.EINVAL) ksft.skip('PIN_LONGTERM_TEST_START failed');
    else ksft.fail('PIN_LONGTERM_TEST_START failed');
  } else {
    memset(t, mem, size, NEW);
    const seen = gup.read();
    if (typeof seen === 'number') ksft.fail('PIN_LONGTERM_TEST_READ failed');
    else ksft.result(same(words(t, mem, size), seen), 'Longterm R/O pin is reliable');
    gup.stop();
  }
  child?.exit();
}

// The anonymous test cases, in cow.c's order (with liburing).
const ANON_CASES: ReadonlyArray<readonly [string, AnonFn]> = [
  ['Basic COW after fork()', (c, m, s) => doTestCowInParent(c, m, s, false, childMemcmp, false)],
  ['Basic COW after fork() with mprotect() optimization', (c, m, s) => doTestCowInParent(c, m, s, true, childMemcmp, false)],
  ['vmsplice() + unmap in child', (c, m, s, h) => doTestCowInParent(c, m, s, false, childVmspliceMemcmp, h)],
  ['vmsplice() + unmap in child with mprotect() optimization', (c, m, s, h) => doTestCowInParent(c, m, s, true, childVmspliceMemcmp, h)],
  ['vmsplice() before fork(), unmap in parent after fork()', (c, m, s, h) => doTestVmspliceInParent(c, m, s, true, h)],
  ['vmsplice() + unmap in parent after fork()', (c, m, s, h) => doTestVmspliceInParent(c, m, s, false, h)],
  ['R/O-mapping a page registered as iouring fixed buffer', (c, m, s) => doTestIouring(c, m, s, false)],
  ['fork() with an iouring fixed buffer', (c, m, s) => doTestIouring(c, m, s, true)],
  ['R/O GUP pin on R/O-mapped shared page', (c, m, s) => doTestRoPin(c, m, s, RoPin.Shared, false)],
  ['R/O GUP-fast pin on R/O-mapped shared page', (c, m, s) => doTestRoPin(c, m, s, RoPin.Shared, true)],
  ['R/O GUP pin on R/O-mapped previously-shared page', (c, m, s) => doTestRoPin(c, m, s, RoPin.PreviouslyShared, false)],
  ['R/O GUP-fast pin on R/O-mapped previously-shared page', (c, m, s) => doTestRoPin(c, m, s, RoPin.PreviouslyShared, true)],
  ['R/O GUP pin on R/O-mapped exclusive page', (c, m, s) => doTestRoPin(c, m, s, RoPin.RoExclusive, false)],
  ['R/O GUP-fast pin on R/O-mapped exclusive page', (c, m, s) => doTestRoPin(c, m, s, RoPin.RoExclusive, true)],
];

// MADV_PAGEOUT, then pagemap_is_swapped(): pinsim has no swap, so the
// madvise() fails and nothing is ever swapped.
function swapOut(c: Ctx, mem: number, size: number): boolean {
  tryCall(() => c.t.madvise(mem, size, C.MADV_PAGEOUT));
  return false;
}

function runWithBasePage(c: Ctx, fn: AnonFn, desc: string, swap: boolean): void {
  const { t, ksft } = c;
  ksft.msg(`[RUN] ${desc} ... with ${swap ? 'swapped out base page' : 'base page'}`);
  const mem = t.mmap({ length: PAGE, prot: RW, flags: ANON });
  t.madvise(mem, PAGE, C.MADV_NOHUGEPAGE);
  memset(t, mem, PAGE, OLD);
  if (swap && !swapOut(c, mem, PAGE)) ksft.skip('MADV_PAGEOUT did not work, is swap enabled?');
  else fn(c, mem, PAGE, false);
  tryCall(() => t.munmap(mem, PAGE));
}

type ThpRun = 'PMD' | 'PMD_SWAPOUT' | 'PTE' | 'PTE_SWAPOUT' | 'SINGLE_PTE' | 'SINGLE_PTE_SWAPOUT' | 'PARTIAL_MREMAP' | 'PARTIAL_SHARED';

function doRunWithThp(c: Ctx, fn: AnonFn, run: ThpRun, thpsize: number): void {
  const { t, ksft } = c;
  const mmapSize = 2 * thpsize; // for alignment
  const mmapMem = t.mmap({ length: mmapSize, prot: RW, flags: ANON });
  const mem = (mmapMem + thpsize) - ((mmapMem + thpsize) % thpsize);
  try {
    if (tryCall(() => t.madvise(mem, thpsize, C.MADV_HUGEPAGE))) return ksft.fail('MADV_HUGEPAGE failed');
    // Touch the first subpage: is the last one populated with it?
    t.write(mem, OLD);
    if (!populated(t, mem + thpsize - PAGE)) return ksft.skip('Did not get a THP populated');
    memset(t, mem, thpsize, OLD);
    let size = thpsize;
    switch (run) {
      case 'PTE': case 'PTE_SWAPOUT':
        // PTE-map the THP by mapping one subpage R/O for a moment.
        if (tryCall(() => t.mprotect(mem + PAGE, PAGE, C.PROT_READ)) || tryCall(() => t.mprotect(mem + PAGE, PAGE, RW))) {
          return ksft.fail('mprotect() failed');
        }
        break;
      case 'SINGLE_PTE': case 'SINGLE_PTE_SWAPOUT':
        if (tryCall(() => t.madvise(mem + PAGE, thpsize - PAGE, C.MADV_DONTNEED))) return ksft.fail('MADV_DONTNEED failed');
        size = PAGE;
        break;
      case 'PARTIAL_MREMAP':
        return ksft.skip('mremap() is not modelled by pinsim');
      case 'PARTIAL_SHARED': {
        // Share the first page with a child that quits at once.
        if (tryCall(() => t.madvise(mem + PAGE, thpsize - PAGE, C.MADV_DONTFORK))) return ksft.fail('MADV_DONTFORK failed');
        t.fork().exit();
        if (tryCall(() => t.madvise(mem + PAGE, thpsize - PAGE, C.MADV_DOFORK))) return ksft.fail('MADV_DOFORK failed');
        break;
      }
      default:
        break;
    }
    if (run.endsWith('_SWAPOUT') && !swapOut(c, mem, size)) return ksft.skip('MADV_PAGEOUT did not work, is swap enabled?');
    fn(c, mem, size, false);
  } finally {
    tryCall(() => t.munmap(mmapMem, mmapSize));
  }
}

const THP_RUNS: ReadonlyArray<readonly [ThpRun, string]> = [
  ['PMD', 'THP'], ['PMD_SWAPOUT', 'swapped-out THP'], ['PTE', 'PTE-mapped THP'], ['PTE_SWAPOUT', 'swapped-out, PTE-mapped THP'],
  ['SINGLE_PTE', 'single PTE of THP'], ['SINGLE_PTE_SWAPOUT', 'single PTE of swapped-out THP'],
  ['PARTIAL_MREMAP', "partially mremap()'ed THP"], ['PARTIAL_SHARED', 'partially shared THP'],
];

function runWithHugetlb(c: Ctx, fn: AnonFn, desc: string, hsize: number): void {
  const { k, t, ksft } = c;
  ksft.msg(`[RUN] ${desc} ... with hugetlb (${hsize / 1024} kB)`);
  const flags = ANON | C.MAP_HUGETLB | hugeFlag(hsize);
  // mmap() reserves a huge page; pinsim reserves none, so look first.
  if (hugeFree(k, hsize) < 1) return ksft.skip('need more free huge pages');
  const mem = t.mmap({ length: hsize, prot: RW, flags });
  try {
    memset(t, mem, hsize, OLD);
    // COW/unsharing needs a second huge page (the C test maps a dummy).
    if (hugeFree(k, hsize) < 1) return ksft.skip('need more free huge pages');
    fn(c, mem, hsize, true);
  } finally {
    tryCall(() => t.munmap(mem, hsize));
  }
}

function runAnonTestCase(c: Ctx, desc: string, fn: AnonFn): void {
  runWithBasePage(c, fn, desc, false);
  runWithBasePage(c, fn, desc, true);
  // pinsim's only THP size is the PMD size, so the PMD-only runs always run.
  for (const [run, what] of THP_RUNS) {
    c.ksft.msg(`[RUN] ${desc} ... with ${what} (${PMD_SIZE / 1024} kB)`);
    doRunWithThp(c, fn, run, PMD_SIZE);
  }
  for (const hsize of HUGETLB_SIZES) runWithHugetlb(c, fn, desc, hsize);
}

type Collapse = 'UNSHARED' | 'FULLY_SHARED' | 'LOWER_SHARED' | 'UPPER_SHARED';

function doTestAnonThpCollapse(c: Ctx, mem: number, size: number, test: Collapse): void {
  const { t, ksft } = c;
  if (tryCall(() => t.mprotect(mem + PAGE, PAGE, C.PROT_READ)) || tryCall(() => t.mprotect(mem + PAGE, PAGE, RW))) {
    return ksft.fail('mprotect() failed');
  }
  const collapse = (): string | null => tryCall(() => t.madvise(mem, size, C.MADV_COLLAPSE));
  let err: string | null;
  if (test === 'UNSHARED' && (err = collapse())) return ksft.skip(`MADV_COLLAPSE failed: ${strerror(err)}`);
  if (test === 'LOWER_SHARED' && tryCall(() => t.madvise(mem + size / 2, size / 2, C.MADV_DONTFORK))) return ksft.fail('MADV_DONTFORK failed');
  if (test === 'UPPER_SHARED' && tryCall(() => t.madvise(mem, size / 2, C.MADV_DONTFORK))) return ksft.fail('MADV_DONTFORK failed');
  const child = t.fork();
  const [cmem, csize] = test === 'LOWER_SHARED' ? [mem, size / 2] : test === 'UPPER_SHARED' ? [mem + size / 2, size / 2] : [mem, size];
  const check = childMemcmp(c, child, cmem, csize);
  try {
    if (test !== 'UNSHARED') {
      if (test !== 'FULLY_SHARED' && tryCall(() => t.madvise(mem, size, C.MADV_DOFORK))) return ksft.fail('MADV_DOFORK failed');
      if ((err = collapse())) return ksft.skip(`MADV_COLLAPSE failed: ${strerror(err)}`);
    }
    memset(t, mem, size, NEW);
    ksft.result(!check(), 'No leak from parent into child');
  } finally {
    child.exit();
  }
}

const ANON_THP_CASES: ReadonlyArray<readonly [string, Collapse]> = [
  ['Basic COW after fork() when collapsing before fork()', 'UNSHARED'],
  ['Basic COW after fork() when collapsing after fork() (fully shared)', 'FULLY_SHARED'],
  ['Basic COW after fork() when collapsing after fork() (lower shared)', 'LOWER_SHARED'],
  ['Basic COW after fork() when collapsing after fork() (upper shared)', 'UPPER_SHARED'],
];

const testCow: NonAnonFn = (c, mem, smem, size) => {
  const old = words(c.t, smem, size);
  memset(c.t, mem, size, NEW);
  c.ksft.result(same(words(c.t, smem, size), old), 'Other mapping not modified');
};

const NON_ANON_CASES: ReadonlyArray<readonly [string, NonAnonFn]> = [
  ['Basic COW', testCow],
  ['R/O longterm GUP pin', (c, mem, _s, size) => doTestRoPin(c, mem, size, RoPin.Plain, false)],
  ['R/O longterm GUP-fast pin', (c, mem, _s, size) => doTestRoPin(c, mem, size, RoPin.Plain, true)],
];

// Maps mem (private, R/W) and smem (R/O) of one backing, faults both in by
// reading, runs fn, unmaps. map() returns [mem, smem, size] or a skip reason.
function runNonAnon(c: Ctx, fn: NonAnonFn, map: () => readonly [number, number, number] | string): void {
  const r = map();
  if (typeof r === 'string') return c.ksft.skip(r);
  const [mem, smem, size] = r;
  c.t.read(mem);
  c.t.read(smem);
  try {
    fn(c, mem, smem, size);
  } finally {
    tryCall(() => c.t.munmap(mem, size));
    tryCall(() => c.t.munmap(smem, size));
  }
}

// A private R/W and a shared R/O mapping of a one-page file (fallocate()d:
// the page cache holds a zeroed page).
function mapFile(c: Ctx, fd: number, size: number): readonly [number, number, number] {
  const mem = c.t.mmap({ length: size, prot: RW, flags: C.MAP_PRIVATE, fd });
  const smem = c.t.mmap({ length: size, prot: C.PROT_READ, flags: C.MAP_SHARED, fd });
  return [mem, smem, size];
}

function runNonAnonTestCase(c: Ctx, desc: string, fn: NonAnonFn): void {
  const { k, t, ksft } = c;
  ksft.msg(`[RUN] ${desc} ... with shared zeropage`);
  runNonAnon(c, fn, () => [
    t.mmap({ length: PAGE, prot: RW, flags: ANON }), t.mmap({ length: PAGE, prot: C.PROT_READ, flags: ANON }), PAGE,
  ]);
  ksft.msg(`[RUN] ${desc} ... with memfd`);
  const memfd = t.memfd_create('test');
  t.ftruncate(memfd, PAGE);
  runNonAnon(c, fn, () => mapFile(c, memfd, PAGE));
  t.close(memfd);
  ksft.msg(`[RUN] ${desc} ... with tmpfile`);
  const tmp = t.open(k.createFile({ fs: 'tmpfs', size: PAGE }));
  runNonAnon(c, fn, () => mapFile(c, tmp, PAGE));
  t.close(tmp);
  ksft.msg(`[RUN] ${desc} ... with huge zeropage`);
  let regions: number[] = [];
  runNonAnon(c, fn, () => {
    regions = [t.mmap({ length: 2 * PMD_SIZE, prot: RW, flags: ANON }), t.mmap({ length: 2 * PMD_SIZE, prot: C.PROT_READ, flags: ANON })];
    const [mem, smem] = regions.map((a) => (a + PMD_SIZE) - ((a + PMD_SIZE) % PMD_SIZE));
    t.madvise(mem, PMD_SIZE, C.MADV_HUGEPAGE);
    t.madvise(smem, PMD_SIZE, C.MADV_HUGEPAGE);
    t.read(mem);
    t.read(smem);
    if (!populated(t, mem + PAGE) || !populated(t, smem + PAGE)) return 'Did not get THPs populated';
    return [mem, smem, PMD_SIZE];
  });
  for (const a of regions) tryCall(() => t.munmap(a, 2 * PMD_SIZE));
  for (const hsize of HUGETLB_SIZES) {
    ksft.msg(`[RUN] ${desc} ... with memfd hugetlb (${hsize / 1024} kB)`);
    const fd = t.memfd_create('test', { hugetlb: hugeName(hsize) });
    runNonAnon(c, fn, () => {
      if (hugeFree(k, hsize) < 1) return 'need more free huge pages'; // fallocate()
      t.ftruncate(fd, hsize);
      return mapFile(c, fd, hsize);
    });
    t.close(fd);
  }
}

export async function runCow(o: SelftestOptions, out: (line: string) => void): Promise<SelftestRun> {
  const { k, t } = await selftestMachine(o);
  const ksft = new Ksft(out);
  const c: Ctx = { k, t, ksft, gup: new PinLongtermTest(k) };
  ksft.header();
  ksft.msg(`[INFO] detected PMD size: ${PMD_SIZE / 1024} KiB`);
  ksft.msg(`[INFO] detected THP size: ${PMD_SIZE / 1024} KiB`);
  for (const h of HUGETLB_SIZES) ksft.msg(`[INFO] detected hugetlb page size: ${h / 1024} KiB`);
  ksft.msg('[INFO] huge zeropage is enabled');
  const perAnon = 2 + HUGETLB_SIZES.length + 6 + 2; // base pages, hugetlb, six THP runs, two PMD-only runs
  const perNonAnon = 3 + HUGETLB_SIZES.length + 1;
  ksft.setPlan(ANON_CASES.length * perAnon + ANON_THP_CASES.length + NON_ANON_CASES.length * perNonAnon);
  const tick = () => o.progress?.(ksft.testNum, ksft.plan);

  ksft.msg('[INFO] Anonymous memory tests in private mappings');
  for (const [desc, fn] of ANON_CASES) {
    runAnonTestCase(c, desc, fn);
    tick();
  }
  ksft.msg('[INFO] Anonymous THP tests');
  for (const [desc, test] of ANON_THP_CASES) {
    ksft.msg(`[RUN] ${desc}`);
    doRunWithThp(c, (cc, mem, size) => doTestAnonThpCollapse(cc, mem, size, test), 'PMD', PMD_SIZE);
  }
  tick();
  ksft.msg('[RUN] Non-anonymous memory tests in private mappings');
  for (const [desc, fn] of NON_ANON_CASES) {
    runNonAnonTestCase(c, desc, fn);
    tick();
  }
  return { ksft, exitCode: ksft.finished() };
}
