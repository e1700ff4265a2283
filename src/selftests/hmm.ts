// A port of tools/testing/selftests/mm/hmm-tests.c to pinsim's HMM mirror
// (lib/test_hmm.c's dmirror, src/devices/hmm-mirror.ts), printed as the
// kselftest harness (kselftest_harness.h) prints it. Every TEST_F runs for
// each fixture variant, in the C file's order. The device-private variant
// runs what the mirror supports (HMM_DMIRROR_READ/WRITE/SNAPSHOT through
// hmm_range_fault()); cases that need device memory (MIGRATE_TO_DEV/SYS,
// EXCLUSIVE, mmap() of the device) are skipped with the reason. pinsim has
// no DEVICE_COHERENT memory, so that variant skips as the C fixture does
// when /dev/hmm_dmirror2 does not open.
import * as C from '../../assembly/constants';
import type { Kernel } from '../devices/kernel';
import type { HmmMirror } from '../devices/hmm-mirror';
import type { Task } from '../task';
import { Ksft } from './tap';
import { ANON, PAGE, PMD_SIZE, RW, errnoOf, hugeFree, selftestMachine, tryCall, words, type SelftestOptions, type SelftestRun } from './machine';

const HMM_BUFFER_PAGES = 1024; // HMM_BUFFER_SIZE >> PAGE_SHIFT
const NTIMES = 10;
const PROT_READ_ = 0x01; // HMM_DMIRROR_PROT_READ
const PROT_WRITE_ = 0x02; // HMM_DMIRROR_PROT_WRITE
const PROT_PMD = 0x04;
const PROT_PUD = 0x08;

const NO_MIGRATE = 'pinsim: no device private memory (HMM_DMIRROR_MIGRATE_TO_DEV)';
const NO_EXCLUSIVE = 'pinsim: no HMM_DMIRROR_EXCLUSIVE (make_device_exclusive())';

class Skip extends Error {}
class AssertFail extends Error {}

interface Ctx { k: Kernel; t: Task; fd: HmmMirror }
type TestFn = (c: Ctx, fds: HmmMirror[]) => void;

const skip = (why: string): never => { throw new Skip(why); };
function expectEq(test: string, what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new AssertFail(`${test}:Expected ${what} (${String(got)}) == ${String(want)}`);
}

// hmm_dmirror_cmd(): 0 and { cpages, faults } (and data for a read), or -errno.
function cmd<T>(fn: () => T): T | number {
  try {
    return fn();
  } catch (e) {
    return -(C as unknown as Record<string, number>)[errnoOf(e)];
  }
}

const seq = (n: number, f: (i: number) => number = (i) => i): number[] => Array.from({ length: n }, (_, i) => f(i) >>> 0);

function checkWords(test: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  for (let i = 0; i < want.length; i++) expectEq(test, `ptr[${i}]`, got[i], want[i]);
}

// A device read or write of npages must succeed in one fault.
function deviceOk(test: string, r: { cpages: number; faults: number } | number, npages: number): void {
  if (typeof r === 'number') throw new AssertFail(`${test}:Expected ret (${r}) == 0 (0)`);
  expectEq(test, 'buffer->cpages', r.cpages, npages);
  expectEq(test, 'buffer->faults', r.faults, 1);
}

// n anonymous pages (private unless flags say otherwise), page i holding f(i).
function filled(t: Task, n: number, f: (i: number) => number = (i) => i, flags = ANON): number {
  const mem = t.mmap({ length: n * PAGE, prot: RW, flags });
  for (let i = 0; i < n; i++) t.write(mem + i * PAGE, f(i));
  return mem;
}

const anonRead: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const mem = t.mmap({ length: n * PAGE, prot: RW, flags: ANON });
  for (let i = 2; i < n; i++) t.write(mem + i * PAGE, i); // the first two pages stay pte_none and pfn_zero
  t.mprotect(mem, n * PAGE, C.PROT_READ);
  expectEq('anon_read', 'val', t.read(mem + PAGE), 0); // the zero page
  const r = cmd(() => fd.ioctl_read(mem, n));
  deviceOk('anon_read', r, n);
  checkWords('anon_read', (r as { data: Uint32Array }).data, seq(n, (i) => (i < 2 ? 0 : i)));
  t.munmap(mem, n * PAGE);
};

const anonReadProt: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const mem = filled(t, n);
  t.mprotect(mem, n * PAGE, C.PROT_NONE);
  expectEq('anon_read_prot', 'ret', cmd(() => fd.ioctl_read(mem, n)), -C.EFAULT);
  t.mprotect(mem, n * PAGE, C.PROT_READ);
  checkWords('anon_read_prot', words(t, mem, n * PAGE), seq(n));
  t.munmap(mem, n * PAGE);
};

const anonWrite: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const mem = t.mmap({ length: n * PAGE, prot: RW, flags: ANON });
  deviceOk('anon_write', cmd(() => fd.ioctl_write(mem, seq(n))), n);
  checkWords('anon_write', words(t, mem, n * PAGE), seq(n));
  t.munmap(mem, n * PAGE);
};

const anonWriteProt: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const mem = t.mmap({ length: n * PAGE, prot: C.PROT_READ, flags: ANON });
  const r = cmd(() => fd.ioctl_read(mem, 1)); // a device reading a zero page
  if (typeof r === 'number') throw new AssertFail(`anon_write_prot:Expected ret (${r}) == 0 (0)`);
  expectEq('anon_write_prot', 'buffer->cpages', r.cpages, 1);
  expectEq('anon_write_prot', 'buffer->faults', r.faults, 1);
  expectEq('anon_write_prot', 'ret', cmd(() => fd.ioctl_write(mem, seq(n))), -C.EPERM);
  checkWords('anon_write_prot', words(t, mem, n * PAGE), seq(n, () => 0));
  t.mprotect(mem, n * PAGE, RW); // the zero page gets replaced now
  deviceOk('anon_write_prot', cmd(() => fd.ioctl_write(mem, seq(n))), n);
  checkWords('anon_write_prot', words(t, mem, n * PAGE), seq(n));
  t.munmap(mem, n * PAGE);
};

// A device writing an inherited mapping in the child: COW for private
// memory (the parent keeps its data), none for shared memory.
function writeInChild(k: Kernel, t: Task, test: string, mem: number, n: number, shared: boolean): void {
  const child = t.fork();
  try {
    checkWords(test, words(child, mem, n * PAGE), seq(n)); // the child sees the parent's values
    const childFd = k.hmmMirror(child); // its own mirror of its own mm
    deviceOk(test, cmd(() => childFd.ioctl_write(mem, seq(n, (i) => -i))), n);
    checkWords(test, words(child, mem, n * PAGE), seq(n, (i) => -i));
    child.close(childFd.fd);
  } finally {
    child.exit();
  }
  checkWords(test, words(t, mem, n * PAGE), seq(n, (i) => (shared ? -i : i)));
}

const anonWriteChild: TestFn = ({ k, t }) => {
  for (const useThp of [false, true]) {
    const size = useThp ? PMD_SIZE : HMM_BUFFER_PAGES * PAGE;
    const n = size / PAGE;
    const raw = t.mmap({ length: 2 * size, prot: RW, flags: ANON });
    const mem = useThp ? raw + ((size - (raw % size)) % size) : raw;
    if (useThp) t.madvise(mem, size, C.MADV_HUGEPAGE);
    for (let i = 0; i < n; i++) t.write(mem + i * PAGE, i);
    writeInChild(k, t, 'anon_write_child', mem, n, false);
    t.munmap(raw, 2 * size);
  }
  skip(NO_MIGRATE); // the second pass migrates to the device first
};

const anonWriteChildShared: TestFn = ({ k, t }) => {
  const n = HMM_BUFFER_PAGES;
  const mem = filled(t, n, (i) => i, C.MAP_SHARED | C.MAP_ANONYMOUS);
  writeInChild(k, t, 'anon_write_child_shared', mem, n, true);
  t.munmap(mem, n * PAGE);
};

const anonWriteHuge: TestFn = ({ t, fd }) => {
  const raw = t.mmap({ length: 2 * PMD_SIZE, prot: RW, flags: ANON });
  const mem = raw + ((PMD_SIZE - (raw % PMD_SIZE)) % PMD_SIZE);
  t.madvise(mem, PMD_SIZE, C.MADV_HUGEPAGE);
  const n = PMD_SIZE / PAGE;
  deviceOk('anon_write_huge', cmd(() => fd.ioctl_write(mem, seq(n))), n);
  checkWords('anon_write_huge', words(t, mem, PMD_SIZE), seq(n));
  t.munmap(raw, 2 * PMD_SIZE);
};

// A 2 MiB MAP_HUGETLB mapping (the default huge page size), or a skip.
function hugetlbMap(k: Kernel, t: Task): number {
  if (hugeFree(k, PMD_SIZE) < 1) skip('Not enough huge pages');
  return t.mmap({ length: PMD_SIZE, prot: RW, flags: ANON | C.MAP_HUGETLB });
}

const anonWriteHugetlbfs: TestFn = ({ k, t, fd }) => {
  const mem = hugetlbMap(k, t);
  const n = PMD_SIZE / PAGE;
  deviceOk('anon_write_hugetlbfs', cmd(() => fd.ioctl_write(mem, seq(n))), n);
  checkWords('anon_write_hugetlbfs', words(t, mem, PMD_SIZE), seq(n));
  t.munmap(mem, PMD_SIZE);
};

// hmm_create_file(): an O_TMPFILE in /tmp (tmpfs in pinsim).
function tmpFile(k: Kernel, t: Task, n: number): number {
  return t.open(k.createFile({ fs: 'tmpfs', size: n * PAGE }));
}

const fileRead: TestFn = ({ k, t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const file = tmpFile(k, t, n);
  for (let i = 0; i < n; i++) t.pwrite(file, i * PAGE, i);
  const mem = t.mmap({ length: n * PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: file });
  const r = cmd(() => fd.ioctl_read(mem, n));
  deviceOk('file_read', r, n);
  checkWords('file_read', (r as { data: Uint32Array }).data, seq(n));
  t.munmap(mem, n * PAGE);
  t.close(file);
};

const fileWrite: TestFn = ({ k, t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  const file = tmpFile(k, t, n);
  const mem = t.mmap({ length: n * PAGE, prot: RW, flags: C.MAP_SHARED, fd: file });
  deviceOk('file_write', cmd(() => fd.ioctl_write(mem, seq(n))), n);
  checkWords('file_write', words(t, mem, n * PAGE), seq(n));
  checkWords('file_write', seq(n, (i) => t.pread(file, i * PAGE) ?? -1), seq(n)); // the device wrote the file too
  t.munmap(mem, n * PAGE);
  t.close(file);
};

const anonReadMultiple: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  for (let c = 0; c < NTIMES; c++) {
    const mem = filled(t, n, (i) => i + c);
    const r = cmd(() => fd.ioctl_read(mem, n));
    deviceOk('anon_read_multiple', r, n);
    checkWords('anon_read_multiple', (r as { data: Uint32Array }).data, seq(n, (i) => i + c));
    t.munmap(mem, n * PAGE);
  }
};

// The C test unmaps half the buffer from a thread while the device reads;
// pinsim runs the two in order (the read wins), then the unmap.
const anonTeardown: TestFn = ({ t, fd }) => {
  const n = HMM_BUFFER_PAGES;
  for (let c = 0; c < NTIMES; c++) {
    const mem = filled(t, n, (i) => i + c);
    const r = cmd(() => fd.ioctl_read(mem, n));
    if (typeof r !== 'number') {
      deviceOk('anon_teardown', r, n);
      checkWords('anon_teardown', r.data, seq(n, (i) => i + c));
    }
    t.munmap(mem + (n / 2) * PAGE, (n / 2) * PAGE);
    t.munmap(mem, n * PAGE);
  }
};

const compound: TestFn = ({ k, t, fd }) => {
  const mem = hugetlbMap(k, t);
  const n = PMD_SIZE / PAGE;
  for (let i = 0; i < n; i++) t.write(mem + i * PAGE, i);
  for (const prot of [PROT_WRITE_, PROT_READ_]) {
    if (prot === PROT_READ_) t.mprotect(mem, PMD_SIZE, C.PROT_READ);
    const m = fd.snapshot(mem, n);
    const want = prot | (m[0] & PROT_PUD ? PROT_PUD : PROT_PMD);
    for (let i = 0; i < n; i++) expectEq('compound', `m[${i}]`, m[i], want);
  }
  t.munmap(mem, PMD_SIZE);
};

// hmm2: two devices reading the same memory, then a migration to device 1.
const doubleMap: TestFn = ({ t }, [fd0, fd1]) => {
  const n = 6;
  const mem = filled(t, n);
  t.mprotect(mem, n * PAGE, C.PROT_READ);
  for (const fd of [fd0!, fd1!]) {
    const r = cmd(() => fd.ioctl_read(mem, n));
    deviceOk('double_map', r, n);
    checkWords('double_map', (r as { data: Uint32Array }).data, seq(n));
  }
  t.munmap(mem, n * PAGE);
  skip(NO_MIGRATE);
};

const skipping = (why: string): TestFn => () => skip(why);

// TEST_F(hmm, ...) in hmm-tests.c's order.
const HMM_TESTS: ReadonlyArray<readonly [string, TestFn]> = [
  ['open_close', () => {}], ['anon_read', anonRead], ['anon_read_prot', anonReadProt], ['anon_write', anonWrite],
  ['anon_write_prot', anonWriteProt], ['anon_write_child', anonWriteChild], ['anon_write_child_shared', anonWriteChildShared],
  ['anon_write_huge', anonWriteHuge], ['anon_write_hugetlbfs', anonWriteHugetlbfs], ['file_read', fileRead],
  ['file_write', fileWrite], ['migrate', skipping(NO_MIGRATE)], ['migrate_file_private', skipping(NO_MIGRATE)],
  ['migrate_fault', skipping(NO_MIGRATE)], ['migrate_release', skipping(NO_MIGRATE)], ['migrate_shared', skipping(NO_MIGRATE)],
  ['migrate_multiple', skipping(NO_MIGRATE)], ['anon_read_multiple', anonReadMultiple], ['anon_teardown', anonTeardown],
  ['mixedmap', skipping('pinsim: the dmirror device cannot be mmap()ed')], ['compound', compound],
  ['exclusive', skipping(NO_EXCLUSIVE)], ['exclusive_mprotect', skipping(NO_EXCLUSIVE)], ['exclusive_cow', skipping(NO_EXCLUSIVE)],
  ['hmm_gup_test', skipping(NO_MIGRATE)], ['hmm_cow_in_device', skipping(NO_MIGRATE)],
  ['migrate_anon_huge_empty', skipping(NO_MIGRATE)], ['migrate_anon_huge_zero', skipping(NO_MIGRATE)],
  ['migrate_anon_huge_free', skipping(NO_MIGRATE)], ['migrate_anon_huge_fault', skipping(NO_MIGRATE)],
  ['migrate_partial_unmap_fault', skipping(NO_MIGRATE)], ['migrate_remap_fault', skipping(NO_MIGRATE)],
  ['migrate_anon_huge_err', skipping(NO_MIGRATE)], ['migrate_anon_huge_zero_err', skipping(NO_MIGRATE)],
  ['benchmark_thp_migration', skipping(NO_MIGRATE)],
];

// TEST_F(hmm2, ...)
const HMM2_TESTS: ReadonlyArray<readonly [string, TestFn]> = [
  ['migrate_mixed', skipping(NO_MIGRATE)], ['snapshot', skipping(NO_MIGRATE)], ['double_map', doubleMap],
];

const FIXTURES: ReadonlyArray<readonly [string, number, ReadonlyArray<readonly [string, TestFn]>]> = [
  ['hmm', 1, HMM_TESTS], ['hmm2', 2, HMM2_TESTS],
];

export async function runHmm(o: SelftestOptions, out: (line: string) => void): Promise<SelftestRun> {
  const { k, t } = await selftestMachine(o);
  const ksft = new Ksft(out);
  const variants = ['device_private', 'device_coherent'] as const;
  const total = FIXTURES.reduce((s, [, , tests]) => s + tests.length * variants.length, 0);
  ksft.header();
  ksft.setPlan(total);
  ksft.msg(`Starting ${total} tests from ${FIXTURES.length * variants.length} test cases.`);
  let passed = 0;
  for (const [fixture, ndev, tests] of FIXTURES) {
    for (const variant of variants) {
      for (const [name, fn] of tests) {
        const full = `${fixture}.${fixture}_${variant}.${name}`;
        ksft.msg(` RUN           ${full} ...`);
        let outcome: 'OK' | 'FAIL' = 'OK';
        let skipped: string | null = null;
        try {
          // FIXTURE_SETUP: open the device(s); the coherent ones do not exist.
          if (variant === 'device_coherent') skip('DEVICE_COHERENT not available');
          const fds = Array.from({ length: ndev }, () => k.hmmMirror(t));
          try {
            fn({ k, t, fd: fds[0]! }, fds);
          } finally {
            for (const fd of fds) tryCall(() => t.close(fd.fd)); // FIXTURE_TEARDOWN
          }
        } catch (e) {
          if (e instanceof Skip) skipped = e.message;
          else if (e instanceof AssertFail) {
            ksft.msg(`hmm-tests.c:${e.message}`);
            outcome = 'FAIL';
          } else throw e;
        }
        if (skipped !== null) ksft.msg(`     SKIP      ${skipped}`);
        ksft.msg(`${outcome === 'OK' ? '           OK' : '         FAIL'}  ${full}`);
        if (skipped !== null) ksft.skipNamed(full, skipped);
        else ksft.result(outcome === 'OK', full);
        if (outcome === 'OK') passed++;
        o.progress?.(ksft.testNum, total);
      }
    }
  }
  ksft.msg(`${passed === total ? 'PASSED' : 'FAILED'}: ${passed} / ${total} tests passed.`);
  return { ksft, exitCode: ksft.finished() };
}
