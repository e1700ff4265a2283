// Credentials (struct cred: the real uid and capabilities), resource limits
// (signal_struct's rlim[]) and the per-UID user_struct.
import { PAGE_SIZE } from '../assembly/constants';
import { parseSize } from './units';
import { argError, checkInt } from './errors';

// RLIM_INFINITY is all ones in C; JS says Infinity.
export const RLIM_INFINITY = Infinity;
export const DEFAULT_MEMLOCK = 8 * 2 ** 20; // MLOCK_LIMIT since Linux 5.16

export type Capability = 'CAP_IPC_LOCK' | 'CAP_SYS_RESOURCE';
export const ALL_CAPS: readonly Capability[] = ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE'];

export interface Rlimit { soft: number; hard: number } // bytes, Infinity = RLIM_INFINITY

// A memlock limit as given to boot() or spawn(): a size ('64KiB', bytes,
// Infinity) for both, or { soft, hard }.
export type MemlockOption = string | number | { soft: string | number; hard: string | number };

function limitBytes(what: string, v: unknown): number {
  return v === Infinity ? RLIM_INFINITY : parseSize(what, v);
}

export function parseMemlock(v: unknown): Rlimit {
  if (typeof v === 'object' && v !== null) {
    const r = v as { soft?: unknown; hard?: unknown };
    const soft = limitBytes('memlock.soft', r.soft);
    const hard = limitBytes('memlock.hard', r.hard);
    if (soft > hard) throw argError('ERR_OUT_OF_RANGE', `memlock.soft (${soft}) must not exceed memlock.hard (${hard})`);
    return { soft, hard };
  }
  const b = limitBytes('memlock', v);
  return { soft: b, hard: b };
}

export function parseCaps(v: unknown): Set<Capability> {
  if (!Array.isArray(v)) throw argError('ERR_INVALID_ARG_TYPE', 'caps must be an array of capability names');
  for (const c of v) {
    if (!(ALL_CAPS as readonly unknown[]).includes(c)) {
      throw argError('ERR_INVALID_ARG_VALUE', `caps: unknown capability ${String(c)} (known: ${ALL_CAPS.join(', ')})`);
    }
  }
  return new Set(v as Capability[]);
}

// The limit in pages, as the kernel computes it: rlim_cur >> PAGE_SHIFT.
export function limitPages(bytes: number): number {
  return bytes === RLIM_INFINITY ? Infinity : Math.floor(bytes / PAGE_SIZE);
}

// signal_struct's rlimits: shared by a process's threads, copied by fork.
export class SignalStruct {
  constructor(public memlock: Rlimit) {}
  clone(): SignalStruct { return new SignalStruct({ ...this.memlock }); }
}

// What a task is created with (copy_creds() and copy_signal() at fork).
export interface TaskCred {
  uid: number;
  caps: ReadonlySet<Capability>;
  signal: SignalStruct;
}

// struct user_struct: one per real uid per machine, shared by every task of it.
export class UserStruct {
  locked_vm = 0; // pages: io_uring, AF_XDP, MSG_ZEROCOPY, iommufd USER mode
  constructor(readonly uid: number) {}
}

export function checkUid(uid: unknown): number {
  const id = checkInt('uid', uid);
  if (id < 0 || id > 0xfffffffe) throw new RangeError(`uid must be in 0..4294967294, got ${id}`);
  return id;
}

export interface SpawnOptions {
  name?: string;
  uid?: number; // real uid, default 1000
  caps?: Capability[]; // default: every capability for uid 0, none otherwise
  memlock?: MemlockOption; // RLIMIT_MEMLOCK, default the machine's (boot({ memlock }))
}

// A new process's credentials, as login would set them up.
export function spawnCred(opts: SpawnOptions, memlock: Rlimit): TaskCred {
  const uid = checkUid(opts.uid ?? 1000);
  const caps = opts.caps === undefined ? new Set(uid === 0 ? ALL_CAPS : []) : parseCaps(opts.caps);
  return { uid, caps, signal: new SignalStruct(opts.memlock === undefined ? { ...memlock } : parseMemlock(opts.memlock)) };
}
