// What the selftest ports share: the machine they run on and the C library
// calls they make (memset/memcmp over pinsim's one-word-per-page contents,
// strerror(), errno out of a thrown SyscallError).
import * as C from '../../assembly/constants';
import { boot, type BootOptions } from '../boot';
import type { Kernel } from '../devices/kernel';
import { SyscallError } from '../errors';
import type { Task } from '../task';
import type { Ksft } from './tap';

export const PAGE = C.PAGE_SIZE;
export const PMD_SIZE = 2 * 1024 * 1024;
export const RW = C.PROT_READ | C.PROT_WRITE;
export const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS;
// The hugetlb sizes an x86-64 machine lists under /sys/kernel/mm/hugepages.
export const HUGETLB_SIZES = [PMD_SIZE, 1024 * 1024 * 1024] as const;

// A finished selftest: its TAP stream and the exit status the C binary gives.
export interface SelftestRun { ksft: Ksft; exitCode: 0 | 1 }

export interface SelftestOptions {
  kernel?: BootOptions['kernel'];
  backend?: 'wasm' | 'ts';
  bootOptions?: Partial<BootOptions>; // e.g. { wasm: 'debug' } in tests
  progress?: (done: number, total: number) => void;
}

// The machine the mm selftests run on: THP always, four 2 MiB hugetlb pages
// (cow.c needs two per case), no 1 GiB pool; the test runs as root.
export async function selftestMachine(o: SelftestOptions, extra: Partial<BootOptions> = {}): Promise<{ k: Kernel; t: Task }> {
  const k = await boot({
    memory: '256MiB', thp: 'always', hugepages: { '2MiB': 4 }, kernel: o.kernel ?? 'latest', backend: o.backend ?? 'wasm',
    ...extra, ...o.bootOptions,
  });
  return { k, t: k.spawn({ name: 'selftest', uid: 0 }) };
}

// memset(mem, c, size): the word of every page in the range.
export function memset(t: Task, mem: number, size: number, word: number): void {
  for (let a = mem; a < mem + size; a += PAGE) t.write(a, word);
}

// The range's contents (what memcpy() into a buffer would keep).
export function words(t: Task, mem: number, size: number): Uint32Array {
  const out = new Uint32Array(size / PAGE);
  for (let i = 0; i < out.length; i++) out[i] = t.read(mem + i * PAGE);
  return out;
}

export function same(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

// pagemap_is_populated(): is a page mapped at addr?
export function populated(t: Task, addr: number): boolean {
  return t.translate(addr) !== null;
}

// Free hugetlb pages of a size (what fallocate() or a MAP_HUGETLB mmap()'s
// reservation would find).
export function hugeFree(k: Kernel, size: number): number {
  const m = k.meminfo();
  return size === PMD_SIZE ? m.HugePages_Free : m.HugePages1G_Free;
}

export const hugeFlag = (size: number): number => (size === PMD_SIZE ? C.MAP_HUGE_2MB : C.MAP_HUGE_1GB);
export const hugeName = (size: number): '2MiB' | '1GiB' => (size === PMD_SIZE ? '2MiB' : '1GiB');

// The errno name of a failed call (rethrows anything else: a pinsim bug).
export function errnoOf(e: unknown): string {
  if (e instanceof SyscallError) return e.code;
  throw e;
}

// Runs fn; the errno name it failed with, or null.
export function tryCall(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return errnoOf(e);
  }
}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EINTR: 'Interrupted system call',
  EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory',
  EFAULT: 'Bad address', EBUSY: 'Device or resource busy', EINVAL: 'Invalid argument', ENOSPC: 'No space left on device',
  ENOSYS: 'Function not implemented', EOPNOTSUPP: 'Operation not supported', ESRCH: 'No such process',
};

// strerror() of glibc, by errno name.
export function strerror(code: string): string {
  return STRERROR[code] ?? `Unknown error (${code})`;
}
