// A port of tools/testing/selftests/mm/gup_longterm.c to pinsim: R/O and R/W
// long-term pins (gup_test's PIN_LONGTERM_TEST_START, slow and fast) and
// io_uring fixed buffers in MAP_SHARED and MAP_PRIVATE file mappings, with
// the kernel's expectation: only tmpfs and hugetlbfs support writable
// long-term pins of shared mappings. The C test's tmpfile() lives in /tmp and
// its local tmpfile in the test's directory; pinsim puts /tmp on tmpfs and
// the test directory on ext4 (a choice: both kinds of filesystem show).
import * as C from '../../assembly/constants';
import type { Kernel } from '../devices/kernel';
import type { FsType } from '../fs/file';
import {
  PIN_LONGTERM_TEST_FLAG_USE_FAST, PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinLongtermTest,
} from '../gup-test/pin-longterm';
import { errnoName } from '../errors';
import type { Task } from '../task';
import { Ksft } from './tap';
import {
  HUGETLB_SIZES, PAGE, RW, errnoOf, hugeFree, hugeName, memset, selftestMachine, strerror, tryCall, type SelftestOptions, type SelftestRun,
} from './machine';

interface Ctx { k: Kernel; t: Task; ksft: Ksft; gup: PinLongtermTest }
type TestType = 'RO' | 'RO_FAST' | 'RW' | 'RW_FAST' | 'IOURING';

// fs_supports_writable_longterm_pinning()
const writableLongterm = (fs: FsType): boolean => fs === 'tmpfs' || fs === 'hugetlbfs';

function doTest(c: Ctx, fd: number, fs: FsType, size: number, type: TestType, shared: boolean): void {
  const { k, t, ksft, gup } = c;
  let err = tryCall(() => t.ftruncate(fd, size));
  if (err) return ksft.fail(`ftruncate() failed (${strerror(err)})`);
  // fallocate(): a hugetlb file needs its huge page now.
  if (fs === 'hugetlbfs' && hugeFree(k, size) < 1) return ksft.skip('need more free huge pages');
  let mem = 0;
  err = tryCall(() => { mem = t.mmap({ length: size, prot: RW, flags: shared ? C.MAP_SHARED : C.MAP_PRIVATE, fd }); });
  if (err) return ksft.fail(`mmap() failed (${strerror(err)})`);
  try {
    memset(t, mem, size, 0); // fault in, so that GUP-fast can pin it directly
    if (type === 'IOURING') return ioUring(c, mem, size, !shared || writableLongterm(fs));
    if (type === 'RO' || type === 'RO_FAST') {
      // Cover more unsharing decisions: map the page R/O.
      if ((err = tryCall(() => t.mprotect(mem, size, C.PROT_READ)))) return ksft.fail(`mprotect() failed (${strerror(err)})`);
    }
    const fast = type === 'RO_FAST' || type === 'RW_FAST';
    const rw = type === 'RW' || type === 'RW_FAST';
    const shouldWork = !shared || !rw || writableLongterm(fs);
    const ret = gup.start(t, mem, size, (fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0) | (rw ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0));
    // "(EINVAL)n": the missing backslash is the kernel's.
    if (ret === -C.EINVAL) return ksft.skip('PIN_LONGTERM_TEST_START failed (EINVAL)n');
    if (ret === -C.EFAULT) return ksft.result(!shouldWork, 'Should have failed');
    if (ret) return ksft.fail(`PIN_LONGTERM_TEST_START failed (${strerror(errnoName(-ret))})`);
    gup.stop();
    ksft.result(shouldWork, 'Should have worked');
  } finally {
    tryCall(() => t.munmap(mem, size));
  }
}

// io_uring always pins writable (FOLL_WRITE | FOLL_PIN | FOLL_LONGTERM).
function ioUring(c: Ctx, mem: number, size: number, shouldWork: boolean): void {
  const { t, ksft } = c;
  let ring;
  try {
    ring = t.io_uring_setup(1);
  } catch (e) {
    return ksft.skip(`io_uring_queue_init() failed (${strerror(errnoOf(e))})`);
  }
  const err = tryCall(() => ring.register_buffers([{ iov_base: mem, iov_len: size }]));
  if (err === 'ENOSPC' || err === 'EOPNOTSUPP' || err === 'EFAULT') {
    ksft.result(!shouldWork, `Should have failed (${strerror(err)})`);
  } else if (err) {
    ksft.skip(`io_uring_register_buffers() failed (${strerror(err)})`);
  } else {
    ksft.result(shouldWork, 'Should have worked');
    ring.unregister_buffers();
  }
  t.close(ring.fd);
}

const CASES: ReadonlyArray<readonly [string, TestType, boolean]> = [
  ['R/W longterm GUP pin in MAP_SHARED file mapping', 'RW', true],
  ['R/W longterm GUP-fast pin in MAP_SHARED file mapping', 'RW_FAST', true],
  ['R/O longterm GUP pin in MAP_SHARED file mapping', 'RO', true],
  ['R/O longterm GUP-fast pin in MAP_SHARED file mapping', 'RO_FAST', true],
  ['R/W longterm GUP pin in MAP_PRIVATE file mapping', 'RW', false],
  ['R/W longterm GUP-fast pin in MAP_PRIVATE file mapping', 'RW_FAST', false],
  ['R/O longterm GUP pin in MAP_PRIVATE file mapping', 'RO', false],
  ['R/O longterm GUP-fast pin in MAP_PRIVATE file mapping', 'RO_FAST', false],
  ['io_uring fixed buffer with MAP_SHARED file mapping', 'IOURING', true],
  ['io_uring fixed buffer with MAP_PRIVATE file mapping', 'IOURING', false],
];

function runTestCase(c: Ctx, desc: string, type: TestType, shared: boolean): void {
  const { k, t, ksft } = c;
  const withFd = (what: string, fs: FsType, size: number, open: () => number): void => {
    ksft.msg(`[RUN] ${desc} ... with ${what}`);
    const fd = open();
    doTest(c, fd, fs, size, type, shared);
    t.close(fd);
  };
  withFd('memfd', 'tmpfs', PAGE, () => t.memfd_create('test'));
  withFd('tmpfile', 'tmpfs', PAGE, () => t.open(k.createFile({ fs: 'tmpfs', size: 0 })));
  withFd('local tmpfile', 'ext4', PAGE, () => t.open(k.createFile({ fs: 'ext4', size: 0 })));
  for (const hsize of HUGETLB_SIZES) {
    withFd(`memfd hugetlb (${hsize / 1024} kB)`, 'hugetlbfs', hsize, () => t.memfd_create('test', { hugetlb: hugeName(hsize) }));
  }
}

export async function runGupLongterm(o: SelftestOptions, out: (line: string) => void): Promise<SelftestRun> {
  const { k, t } = await selftestMachine(o);
  const ksft = new Ksft(out);
  const c: Ctx = { k, t, ksft, gup: new PinLongtermTest(k) };
  // detect_hugetlb_page_sizes() runs before ksft_print_header() here.
  for (const h of HUGETLB_SIZES) ksft.msg(`[INFO] detected hugetlb page size: ${h / 1024} KiB`);
  ksft.header();
  ksft.setPlan(CASES.length * (3 + HUGETLB_SIZES.length));
  for (const [desc, type, shared] of CASES) {
    runTestCase(c, desc, type, shared);
    o.progress?.(ksft.testNum, ksft.plan);
  }
  return { ksft, exitCode: ksft.finished() };
}
