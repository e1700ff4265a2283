// The mlock family (mm/mlock.c): mlock, mlock2, munlock, mlockall,
// munlockall, and the VM_LOCKED decisions of mmap (MAP_LOCKED, MCL_FUTURE).
// Per-VMA flags and locked_vm live here; the core sets PG_mlocked on the
// folios (assembly/mlock.ts).
import * as C from '../../assembly/constants';
import { fail, type SyscallError, type MemlockDetail } from '../errors';
import { limitPages } from '../cred';
import { overLimit, memlockError, type MemlockCred } from './memlock';
import { TASK_SIZE, type Mm } from './mm';
import type { Vma } from './vma';

const PAGE = C.PAGE_SIZE;

export interface MlockHost {
  // Faults [start, end) of one VMA; 0 or VM_FAULT_* bits.
  faultVma(mm: Mm, vma: Vma, start: number, end: number, write: boolean): number;
}

// can_do_mlock(): only a zero limit without CAP_IPC_LOCK says no.
export function canDoMlock(cred: MemlockCred): boolean {
  return cred.memlockBytes() !== 0 || cred.capable('CAP_IPC_LOCK');
}

// EPERM from can_do_mlock(): the smallest limit that passes is the one the
// next check would then need.
function zeroLimitError(syscall: string, counter: MemlockDetail['counter'], current: number, requested: number): SyscallError {
  return memlockError(syscall, C.EPERM, { counter, current, requested, limit: 0, minUlimitKiB: Math.max(1, current + requested) * PAGE / 1024 });
}

// VMAs mlock_fixup() leaves alone, unlocked and uncounted (vma_supports_mlock()):
// VM_SPECIAL, hugetlb and DAX (pinsim has no gate VMA, secretmem or VM_DROPPABLE).
export function lockable(v: Vma): boolean {
  return !(v.flags & C.VM_SPECIAL) && !v.isHugetlb && !v.isFsdax;
}

// mlock_fixup(): new lock flags for [start, end) of one VMA (split and
// merged as needed), locked_vm adjusted by the pages that change state, and
// the present folios mlocked or munlocked.
function mlockFixup(mm: Mm, v: Vma, start: number, end: number, newFlags: number): void {
  if (newFlags === v.flags || !lockable(v)) return;
  mm.splitAt(start);
  mm.splitAt(end);
  const piece = mm.vmaAt(start)!;
  const wasLocked = (piece.flags & C.VM_LOCKED) !== 0;
  const nowLocked = (newFlags & C.VM_LOCKED) !== 0;
  piece.flags = newFlags;
  if (wasLocked !== nowLocked) {
    mm.locked_vm += nowLocked ? piece.pages : -piece.pages;
    mm.prepare(piece);
    mm.host.core.mlock_range(mm.pgd, piece.start / PAGE, piece.pages, nowLocked);
  }
  mm.mergeAround(start, end);
}

// apply_vma_lock_flags(): lock flags for every VMA piece in [start, end).
// As in Linux, a hole fails with ENOMEM after the VMAs before it changed.
function applyVmaLockFlags(syscall: string, mm: Mm, start: number, end: number, flags: number): void {
  if (end === start) return;
  let at = start;
  for (const v of mm.overlapping(start, end)) {
    if (v.start > at) break;
    const e = Math.min(v.end, end);
    mlockFixup(mm, v, at, e, (v.flags & ~C.VM_LOCKED_MASK) | flags);
    at = e;
  }
  if (at < end) throw fail(syscall, C.ENOMEM, `range 0x${start.toString(16)}-0x${end.toString(16)} is not fully mapped`);
}

// Pages of [start, end) already VM_LOCKED (count_mm_mlocked_page_nr()).
function lockedPagesIn(mm: Mm, start: number, end: number): number {
  let n = 0;
  for (const v of mm.overlapping(start, end)) {
    if (v.flags & C.VM_LOCKED) n += (Math.min(v.end, end) - Math.max(v.start, start)) / PAGE;
  }
  return n;
}

// The page-aligned [start, end) of an mlock/munlock range (len rounded up
// with addr's offset in its page). A negative length is a size_t near 2^64:
// it wraps to 0 (nothing to do) or ends below start (EINVAL).
function lockRange(syscall: string, addr: number, len: number): [number, number] {
  const off = addr % PAGE;
  const start = addr - off;
  if (addr < 0) throw fail(syscall, C.ENOMEM, 'address outside the user address space');
  if (len < 0) {
    if (len + off > -PAGE) return [start, start];
    throw fail(syscall, C.EINVAL, 'range wraps around the address space');
  }
  const end = start + Math.ceil((len + off) / PAGE) * PAGE;
  if (end > TASK_SIZE) throw fail(syscall, C.ENOMEM, 'range ends above TASK_SIZE');
  return [start, end];
}

// __mm_populate() with mlock's errno translation (__mlock_posix_error_return()):
// EFAULT becomes ENOMEM, ENOMEM becomes EAGAIN. ONFAULT, VM_IO/VM_PFNMAP and
// PROT_NONE VMAs are not populated (PROT_NONE: UNVERIFIED, see the README).
function populate(host: MlockHost, mm: Mm, start: number, end: number, ignoreErrors: boolean, syscall: string): void {
  for (const v of mm.overlapping(start, end)) {
    if (v.flags & (C.VM_IO | C.VM_PFNMAP | C.VM_LOCKONFAULT)) continue;
    if (!(v.flags & (C.VM_READ | C.VM_WRITE | C.VM_EXEC))) continue;
    const write = (v.flags & (C.VM_WRITE | C.VM_SHARED)) === C.VM_WRITE;
    const bits = host.faultVma(mm, v, Math.max(start, v.start), Math.min(end, v.end), write);
    if (!bits || ignoreErrors) continue;
    if (bits & C.VM_FAULT_OOM) throw fail(syscall, C.EAGAIN, 'out of memory while populating the locked range');
    throw fail(syscall, C.ENOMEM, 'populating the locked range hit SIGBUS/SIGSEGV');
  }
}

// do_mlock() for mlock (flags 0) and mlock2 (MLOCK_ONFAULT).
export function doMlock(host: MlockHost, mm: Mm, cred: MemlockCred, syscall: string, addr: number, len: number, flags: number): void {
  if (flags & ~C.MLOCK_ONFAULT) throw fail(syscall, C.EINVAL, `unknown flags 0x${(flags & ~C.MLOCK_ONFAULT).toString(16)}`);
  const [start, end] = lockRange(syscall, addr, len);
  if (!canDoMlock(cred)) throw zeroLimitError(syscall, 'mm.locked_vm', mm.locked_vm, (end - start) / PAGE);
  const rlim = cred.memlockBytes();
  const ipcLock = cred.capable('CAP_IPC_LOCK');
  let requested = (end - start) / PAGE;
  if (!ipcLock && mm.locked_vm + requested > limitPages(rlim)) requested -= lockedPagesIn(mm, start, end);
  const over = ipcLock ? null : overLimit('mm.locked_vm', mm.locked_vm, requested, rlim);
  if (over) throw memlockError(syscall, C.ENOMEM, over);
  applyVmaLockFlags(syscall, mm, start, end, C.VM_LOCKED | (flags & C.MLOCK_ONFAULT ? C.VM_LOCKONFAULT : 0));
  populate(host, mm, start, end, false, syscall);
}

export function doMunlock(mm: Mm, addr: number, len: number): void {
  const [start, end] = lockRange('munlock', addr, len);
  applyVmaLockFlags('munlock', mm, start, end, 0);
}

// apply_mlockall_flags(): def_flags from MCL_FUTURE; with MCL_CURRENT (or
// flags 0, munlockall) every VMA gets the new lock flags.
function applyMlockallFlags(mm: Mm, flags: number): void {
  mm.def_flags &= ~C.VM_LOCKED_MASK;
  if (flags & C.MCL_FUTURE) {
    mm.def_flags |= C.VM_LOCKED | (flags & C.MCL_ONFAULT ? C.VM_LOCKONFAULT : 0);
    if (!(flags & C.MCL_CURRENT)) return;
  }
  const toAdd = flags & C.MCL_CURRENT ? C.VM_LOCKED | (flags & C.MCL_ONFAULT ? C.VM_LOCKONFAULT : 0) : 0;
  for (const v of [...mm.vmas]) {
    if (mm.vmas.includes(v)) mlockFixup(mm, v, v.start, v.end, (v.flags & ~C.VM_LOCKED_MASK) | toAdd);
  }
}

export function doMlockall(host: MlockHost, mm: Mm, cred: MemlockCred, flags: number): void {
  const known = C.MCL_CURRENT | C.MCL_FUTURE | C.MCL_ONFAULT;
  if (!flags || (flags & ~known) || flags === C.MCL_ONFAULT) throw fail('mlockall', C.EINVAL, `invalid flags 0x${flags.toString(16)}`);
  if (!canDoMlock(cred)) throw zeroLimitError('mlockall', 'mm.total_vm', mm.total_vm, 0);
  // MCL_CURRENT is checked against the whole address space (total_vm <= limit).
  if ((flags & C.MCL_CURRENT) && !cred.capable('CAP_IPC_LOCK')) {
    const over = overLimit('mm.total_vm', mm.total_vm, 0, cred.memlockBytes());
    if (over) throw memlockError('mlockall', C.ENOMEM, over);
  }
  applyMlockallFlags(mm, flags);
  if (flags & C.MCL_CURRENT) populate(host, mm, 0, TASK_SIZE, true, 'mlockall');
}

export function doMunlockall(mm: Mm): void {
  applyMlockallFlags(mm, 0);
}

// do_mmap()'s lock checks for a mapping with these vm_flags (MAP_LOCKED or
// def_flags): EPERM when MAP_LOCKED meets a zero limit, EAGAIN when
// mlock_future_ok() fails.
export function checkMmapLock(mm: Mm, cred: MemlockCred, mapLocked: boolean, vmFlags: number, length: number): void {
  if (mapLocked && !canDoMlock(cred)) throw zeroLimitError('mmap', 'mm.locked_vm', mm.locked_vm, length / PAGE);
  if (!(vmFlags & C.VM_LOCKED) || cred.capable('CAP_IPC_LOCK')) return;
  const over = overLimit('mm.locked_vm', mm.locked_vm, length / PAGE, cred.memlockBytes());
  if (over) throw memlockError('mmap', C.EAGAIN, over);
}

// __mmap_region(): a new VM_LOCKED VMA counts in locked_vm unless it is of
// a class mlock leaves alone, which loses its lock flags instead.
export function accountNewVma(mm: Mm, v: Vma): void {
  if (!(v.flags & C.VM_LOCKED)) return;
  if (lockable(v)) mm.locked_vm += v.pages;
  else v.flags &= ~C.VM_LOCKED_MASK;
}

// mprotect_fixup(): the parts of a private VM_LOCKED mapping that become
// writable are populated for writing, so that the COW breaks now rather
// than at a fault on locked memory. Found before mprotect() changes them.
export function lockedTurningWritable(mm: Mm, start: number, length: number, prot: number): [number, number][] {
  if (!(prot & C.PROT_WRITE) || length <= 0 || start % PAGE) return [];
  const end = start + Math.ceil(length / PAGE) * PAGE;
  return mm.overlapping(start, end)
    .filter((v) => (v.flags & (C.VM_WRITE | C.VM_SHARED | C.VM_LOCKED)) === C.VM_LOCKED)
    .map((v) => [Math.max(start, v.start), Math.min(end, v.end)]);
}

// populate_vma_page_range() of each range, errors ignored.
export function populateRanges(host: MlockHost, mm: Mm, ranges: [number, number][]): void {
  for (const [s, e] of ranges) populate(host, mm, s, e, true, 'mprotect');
}
