// Errors thrown by pinsim's syscall-like methods, shaped like Node's fs
// errors: `code` is the errno name ('EINVAL') or, for a user access that
// would kill the process, the signal name ('SIGSEGV', 'SIGBUS').
import * as C from '../assembly/constants';

const ERRNO_NAMES: Record<number, string> = {
  [C.EPERM]: 'EPERM', [C.ENOENT]: 'ENOENT', [C.ESRCH]: 'ESRCH', [C.EINTR]: 'EINTR', [C.EIO]: 'EIO', [C.EBADF]: 'EBADF',
  [C.EAGAIN]: 'EAGAIN', [C.ENOMEM]: 'ENOMEM', [C.EACCES]: 'EACCES', [C.EFAULT]: 'EFAULT', [C.EBUSY]: 'EBUSY',
  [C.EEXIST]: 'EEXIST', [C.ENODEV]: 'ENODEV', [C.EINVAL]: 'EINVAL', [C.EFBIG]: 'EFBIG', [C.ENOSPC]: 'ENOSPC',
  [C.EMLINK]: 'EMLINK', [C.EOVERFLOW]: 'EOVERFLOW', [C.EOPNOTSUPP]: 'EOPNOTSUPP', [C.ENOBUFS]: 'ENOBUFS', [C.EREMOTEIO]: 'EREMOTEIO',
  [C.EHWPOISON]: 'EHWPOISON', [C.EDEADLK]: 'EDEADLK', [C.ENXIO]: 'ENXIO', [C.ENOSYS]: 'ENOSYS',
  [C.EPIPE]: 'EPIPE',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

// Why a RLIMIT_MEMLOCK check failed: the counter checked, its value and the
// request (pages), the limit (pages, rlim_cur >> PAGE_SHIFT), and the
// smallest `ulimit -l` (KiB) under which the call would have passed.
export interface MemlockDetail {
  counter: 'mm.locked_vm' | 'mm.pinned_vm' | 'user.locked_vm' | 'mm.total_vm';
  current: number;
  requested: number;
  limit: number;
  minUlimitKiB: number;
}

export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: string;
  readonly detail: MemlockDetail | undefined; // set when a memlock limit refused the call
  constructor(syscall: string, code: string, errno: number | undefined, detail: string, memlock?: MemlockDetail) {
    super(`${code}: ${syscall}: ${detail}`);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.detail = memlock;
  }
}

// A BUG() the simulated kernel hit: a bug of the kernel era being modelled,
// not of pinsim. The machine halts, as with panic_on_oops.
export class KernelBug extends Error {
  readonly code = 'EKERNELBUG';
  constructor(readonly site: string, detail: string) {
    super(`kernel BUG at ${site}! ${detail}`);
    this.name = 'KernelBug';
  }
}

// A syscall failing with -errno.
export function fail(syscall: string, errno: number, detail: string): SyscallError {
  return new SyscallError(syscall, errnoName(errno), errno, detail);
}

// A user access the kernel answers with a signal.
export function signal(syscall: string, sig: 'SIGSEGV' | 'SIGBUS', detail: string): SyscallError {
  return new SyscallError(syscall, sig, undefined, detail);
}

// JS misuse, caught before anything is touched.
export function checkInt(what: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be a safe integer, got ${v}`);
  return v;
}

export function checkBool(what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeof v}`);
  return v;
}

// Invalid arguments to boot() and other JS-level calls, with Node's codes:
// a value of the wrong type, a value that is not allowed, a size out of
// range.
export type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

export function argError(code: ArgCode, message: string): TypeError | RangeError {
  const e = code === 'ERR_INVALID_ARG_TYPE' ? new TypeError(message) : new RangeError(message);
  return Object.assign(e, { code });
}
