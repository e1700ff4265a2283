// RLIMIT_MEMLOCK accounting: the three counters (mm->locked_vm,
// mm->pinned_vm, user_struct->locked_vm), the checks their chargers make,
// the error a user sees when one fails, and the ledger of live charges.
import * as C from '../../assembly/constants';
import { SyscallError, errnoName, type MemlockDetail } from '../errors';
import { limitPages, RLIM_INFINITY, type UserStruct } from '../cred';
import type { Mm } from './mm';

export type MemlockCounter = 'mm.locked_vm' | 'mm.pinned_vm' | 'user.locked_vm';

// One live charge: `by` names the charger ('mlock' for VM_LOCKED VMAs, the
// caller given to the accounting helpers otherwise).
export interface MemlockCharge {
  counter: MemlockCounter;
  pages: number;
  pid: number;
  uid: number;
  by: string;
  device?: string; // the device model that made it (k.devices())
  range?: { start: number; end: number };
}

// What a check needs to know of the task it is made for.
export interface MemlockCred {
  readonly pid: number;
  readonly uid: number;
  memlockBytes(): number; // rlim_cur of RLIMIT_MEMLOCK
  capable(cap: 'CAP_IPC_LOCK'): boolean;
}

// A "current + requested > limit" check (every charger but mlockall's
// total_vm test): null when it passes, else why not.
export function overLimit(counter: MemlockDetail['counter'], current: number, requested: number, rlimBytes: number): MemlockDetail | null {
  const limit = limitPages(rlimBytes);
  if (current + requested <= limit) return null;
  return { counter, current, requested, limit, minUlimitKiB: (current + requested) * C.PAGE_SIZE / 1024 };
}

// The error a syscall over its memlock limit throws.
export function memlockError(syscall: string, errno: number, d: MemlockDetail): SyscallError {
  const why = d.limit === 0 && errno === C.EPERM
    ? 'RLIMIT_MEMLOCK is 0 and the task lacks CAP_IPC_LOCK'
    : `${d.counter} is ${d.current} pages, the call needs ${d.requested} more, RLIMIT_MEMLOCK allows ${d.limit}`;
  return new SyscallError(syscall, errnoName(errno), errno,
    `${why}; \`ulimit -l ${d.minUlimitKiB}\` (KiB) would have let it pass`, d);
}

// rlim_cur as the kernel prints it (%lu of an unsigned long).
export function showRlim(bytes: number): string {
  return bytes === RLIM_INFINITY ? '18446744073709551615' : String(bytes);
}

// The charges made through the accounting helpers, per counter, target (an
// mm or a user_struct), pid and charger; VM_LOCKED VMAs are listed from the
// VMAs themselves (see the kernel's memlockLedger()).
export class MemlockLedger {
  #charges: { target: Mm | UserStruct; charge: MemlockCharge }[] = [];

  record(target: Mm | UserStruct, counter: MemlockCounter, pid: number, uid: number, by: string, delta: number,
    device: string | undefined): void {
    const i = this.#charges.findIndex((c) => c.target === target && c.charge.counter === counter
      && c.charge.pid === pid && c.charge.by === by && c.charge.device === device);
    if (i < 0) {
      this.#charges.push({ target, charge: device === undefined ? { counter, pages: delta, pid, uid, by } : { counter, pages: delta, pid, uid, by, device } });
      return;
    }
    const c = this.#charges[i]!.charge;
    c.pages += delta;
    if (c.pages === 0) this.#charges.splice(i, 1);
  }

  entries(): MemlockCharge[] {
    return this.#charges.map((c) => ({ ...c.charge }));
  }
}
