// get_user_pages / pin_user_pages, the per-call and per-VMA half (mm/gup.c):
// argument checks, the VMA loop with check_vma_flags(), GUP-fast with its
// fallback, and the FOLL_LONGTERM migrate-and-retry loop. The per-page work
// is the core's (assembly/gup.ts, assembly/migrate.ts).
import * as C from '../../assembly/constants';
import type { Mm } from '../mm/mm';
import type { Vma } from '../mm/vma';
import { migrateListed } from '../mm/migrate';
import { TASK_SIZE } from '../mm/mm';
import type { KernelBase } from '../kernel';
import type { PageArray } from './page-array';
import { noteLeakedPins } from '../debug/lt-leak';

const PAGE = C.PAGE_SIZE;

export const INTERNAL_GUP_FLAGS = C.FOLL_TOUCH | C.FOLL_TRIED | C.FOLL_REMOTE | C.FOLL_PIN | C.FOLL_FAST_ONLY
  | C.FOLL_UNLOCKABLE | C.FOLL_MADV_POPULATE;
// gup_fast_fallback()'s whitelist.
const FAST_FLAGS = C.FOLL_WRITE | C.FOLL_LONGTERM | C.FOLL_FORCE | C.FOLL_PIN | C.FOLL_GET | C.FOLL_FAST_ONLY
  | C.FOLL_NOFAULT | C.FOLL_PCI_P2PDMA | C.FOLL_HONOR_NUMA_FAULT;

// int *locked: the caller's lock state, 1 when it holds mmap_lock.
export interface Locked { value: number }

const LT_NEEDS_PIN = 'FOLL_LONGTERM requires FOLL_PIN';

// Whether entry point fn of this era takes FOLL_GET|FOLL_LONGTERM (rule
// getLongterm). Before 5.10: get_user_pages(), the fast ones and
// get_user_pages_remote() without *locked; get_user_pages_unlocked()
// refused it since 5.2 (retryable faults vs the fs-DAX check). 5.10-6.2:
// the fast ones (447f3e45c18a's is_valid_gup_flags() guards the rest).
// Since is_valid_gup_args(): none.
function getLongtermAllowed(k: KernelBase, fn: string, locked: Locked | null): boolean {
  switch (k.kr.getLongterm) {
    case 'allowed': return fn !== 'get_user_pages_unlocked' && !locked;
    case 'fast-only': return fn.endsWith('fast') || fn.endsWith('fast_only');
    default: return false;
  }
}

// Where the era WARNs when it refuses FOLL_GET|FOLL_LONGTERM.
function getLongtermSite(k: KernelBase, fn: string): string {
  switch (k.kr.getLongterm) {
    case 'allowed': return fn === 'get_user_pages_unlocked' ? 'mm/gup.c:get_user_pages_unlocked' : 'mm/gup.c:__get_user_pages_remote';
    case 'fast-only': return 'mm/gup.c:is_valid_gup_flags';
    default: return 'mm/gup.c:is_valid_gup_args';
  }
}

// Mirrors is_valid_gup_args() for entry point fn: the flags to use, or
// null after a WARN.
export function isValidGupArgs(k: KernelBase, fn: string, pages: PageArray | null, locked: Locked | null, flags: number,
  toSet: number, pid: number): number | null {
  const why = invalidGupArgs(k, fn, pages, locked, flags, toSet);
  if (why === null) return flags | toSet | (locked ? C.FOLL_UNLOCKABLE : 0);
  k.warnOnce(why === LT_NEEDS_PIN ? getLongtermSite(k, fn) : 'mm/gup.c:is_valid_gup_args', why, pid);
  return null;
}

// The first check of is_valid_gup_args() that fails, or null.
function invalidGupArgs(k: KernelBase, fn: string, pages: PageArray | null, locked: Locked | null, flags: number,
  toSet: number): string | null {
  if (flags & INTERNAL_GUP_FLAGS) return 'internal FOLL_* flags passed in';
  flags |= toSet;
  if (locked) {
    if (locked.value !== 1) return '*locked must be 1';
    flags |= C.FOLL_UNLOCKABLE;
  }
  if ((flags & (C.FOLL_GET | C.FOLL_PIN)) === (C.FOLL_GET | C.FOLL_PIN)) return 'FOLL_GET and FOLL_PIN are mutually exclusive';
  if ((flags & (C.FOLL_LONGTERM | C.FOLL_PIN)) === C.FOLL_LONGTERM && !getLongtermAllowed(k, fn, locked)) return LT_NEEDS_PIN;
  if ((flags & (C.FOLL_GET | C.FOLL_PIN)) && !pages) return 'FOLL_GET/FOLL_PIN without a pages array';
  if ((flags & (C.FOLL_LONGTERM | C.FOLL_PCI_P2PDMA)) === (C.FOLL_LONGTERM | C.FOLL_PCI_P2PDMA)) return 'FOLL_LONGTERM with FOLL_PCI_P2PDMA';
  return null;
}

// Mirrors check_vma_flags(): 0 or -errno. `ltWriteFile`: the era refuses
// long-term write pins of dirty-tracked files (6.5+, rule longtermWriteFile).
export function checkVmaFlags(vma: Vma, flags: number, ltWriteFile: boolean): number {
  const write = (flags & C.FOLL_WRITE) !== 0;
  if (vma.flags & (C.VM_IO | C.VM_PFNMAP)) return -C.EFAULT;
  if ((flags & C.FOLL_ANON) && !vma.isAnonymous) return -C.EFAULT;
  if ((flags & C.FOLL_LONGTERM) && vma.isFsdax) return -C.EOPNOTSUPP;
  if ((flags & C.FOLL_SPLIT_PMD) && vma.isHugetlb) return -C.EOPNOTSUPP;
  if (write) {
    // writable_file_mapping_allowed(): no long-term write pins of a file
    // mapping that needs dirty tracking (shared, writable, writes back).
    const longtermPin = (flags & (C.FOLL_PIN | C.FOLL_LONGTERM)) === (C.FOLL_PIN | C.FOLL_LONGTERM);
    if (ltWriteFile && !vma.isAnonymous && longtermPin && vma.needsDirtyTracking) return -C.EFAULT;
    if (!(vma.flags & C.VM_WRITE)) {
      if (!(flags & C.FOLL_FORCE)) return -C.EFAULT;
      if (!vma.isCow) return -C.EFAULT;
    }
  } else if (!(vma.flags & C.VM_READ)) {
    if (!(flags & C.FOLL_FORCE)) return -C.EFAULT;
    if (!(vma.flags & C.VM_MAYREAD)) return -C.EFAULT;
  }
  return 0;
}

// 5.8's should_force_cow_break() (17839856fd58, reverted in 5.9): a GET or
// PIN on a COW mapping follows and faults as a write, reads included, so
// the page it takes is this mm's own (copied or reused; page cache and the
// zero page replaced by an anon copy) and the PTE is left as a write fault
// leaves it. hugetlb too: its branch of the 5.8 VMA loop forced FOLL_WRITE
// the same way (the reference's D5 guessed otherwise, UNVERIFIED there).
function forceCowBreak(k: KernelBase, vma: Vma, flags: number): number {
  return k.kr.gupBreaksCow && vma.isCow && flags & (C.FOLL_GET | C.FOLL_PIN) ? flags | C.FOLL_WRITE : flags;
}

// Mirrors __get_user_pages(): the VMA loop. Pages go to pages[at..].
function getUserPages(k: KernelBase, mm: Mm, start: number, nr: number, flags: number, pages: PageArray | null,
  at: number): number {
  let done = 0;
  let ret = 0;
  let addr = start;
  while (done < nr) {
    const vma = addr < TASK_SIZE ? mm.vmaAt(addr) : undefined; // gup_vma_lookup(): never grows a stack
    if (!vma) {
      ret = flags & C.FOLL_MADV_POPULATE ? -C.ENOMEM : -C.EFAULT;
      break;
    }
    const err = checkVmaFlags(vma, flags, k.kr.longtermWriteFile === 'efault');
    if (err) {
      ret = flags & C.FOLL_MADV_POPULATE ? -C.EINVAL : err;
      break;
    }
    const n = Math.min(nr - done, Math.ceil((vma.end - addr) / PAGE), C.MAX_PAGES_PER_CALL);
    if (vma.file && vma.backing === C.BACKING_FILE) {
      if (!k.fillCache(vma.file, vma.pgoff + Math.floor((addr - vma.start) / PAGE), n)) {
        ret = -C.ENOMEM;
        break;
      }
    }
    const f = forceCowBreak(k, vma, flags);
    mm.anonVmaPrepare(vma, (f & (C.FOLL_WRITE | C.FOLL_PIN)) !== 0);
    mm.prepare(vma);
    const r = k.core.gup_slow(mm.pgd, Math.floor(addr / PAGE), n, f,
      pages ? pages.offset + at + done : -1);
    if (r < 0) {
      ret = r;
      break;
    }
    done += r;
    addr += r * PAGE;
    if (r < n && !mm.notifyPending()) break; // an error after some pages: swallowed, the count is returned
  }
  return done ? done : ret;
}

// Mirrors __get_user_pages_locked(). mmap_lock is never dropped in pinsim
// (faults do not retry), so *locked stays as the caller set it.
function getUserPagesLocked(k: KernelBase, mm: Mm, start: number, nr: number, pages: PageArray | null, at: number,
  flags: number): number {
  if (nr === 0) return 0;
  if (flags & C.FOLL_PIN) mm.hasPinned = true; // mm_set_has_pinned_flag()
  if (pages && !(flags & C.FOLL_PIN)) flags |= C.FOLL_GET; // "traditional behaviour"
  const ret = getUserPages(k, mm, start, nr, flags, pages, at);
  if (ret === 0 && !(flags & C.FOLL_NOWAIT)) {
    k.warnOnce('mm/gup.c:__get_user_pages_locked', 'no page done and no error');
    return -C.EFAULT;
  }
  return ret;
}

// Mirrors check_and_migrate_movable_pages(): 0 (all references may stay),
// -EAGAIN (everything released, migration done: take them again) or
// -ENOMEM (migration failed; everything released but on the leak path).
function checkAndMigrate(k: KernelBase, pages: PageArray, at: number, nr: number, flags: number): number {
  const core = k.core;
  const count = core.collect_unpinnable(pages.offset + at, nr);
  if (count === 0) return 0;
  if (k.kr.longtermMigrationFailure === 'error-leak' && kernelMemoryExhausted(k)) {
    for (let i = 0; i < count; i++) core.putback_folio(k.v.scratch[i]);
    leakPins(k, pages, at, nr, flags);
    return -C.ENOMEM;
  }
  core.unpin_pages(pages.offset + at, nr, false, flags & C.FOLL_PIN); // FOLL_GET (a long-term GET before 6.3, or 5.6's pins): put_page()
  pages.pfns.fill(-1, at, at + nr);
  // migrate_pages() tries every folio; those that fail go back to the LRU.
  return migrateListed(k, count) ? -C.ENOMEM : -C.EAGAIN;
}

// No frame the kernel could allocate for itself (outside CMA and
// ZONE_MOVABLE, which is also where migration targets come from).
function kernelMemoryExhausted(k: KernelBase): boolean {
  return k.v.zoneFree[C.ZONE_NORMAL] - k.v.stats[C.NR_FREE_CMA_PAGES] <= 0;
}

// 6.1-6.11 (§3.I I8, fixed by aa6f8b2593b5): check_and_migrate_movable_pages()
// returned -ENOMEM under memory exhaustion without dropping the pins the
// pass had taken, and __gup_longterm_locked() passed the error on. In 6.11
// the failing allocation was its folio array (John Hubbard's reproducer);
// pinsim takes that path when a folio needs migrating and no kernel memory
// is free (the exact 6.1-6.10 path is UNVERIFIED). The caller never sees
// these pages: nr_foll_pin_acquired - nr_foll_pin_released keeps them.
function leakPins(k: KernelBase, pages: PageArray, at: number, nr: number, flags: number): void {
  const held = flags & C.FOLL_PIN ? 'pinned' : 'referenced';
  k.printk(`pinsim: leak: a FOLL_LONGTERM call failed with -ENOMEM and kept ${nr} ${held} pages (6.1-6.11, fixed by aa6f8b2593b5)`);
  noteLeakedPins(k, pages, at, nr);
  pages.pfns.fill(-1, at, at + nr);
}

// Mirrors __gup_longterm_locked(): with FOLL_LONGTERM, pin, then move what
// may not stay pinned out of ZONE_MOVABLE/CMA and pin again, allocating
// inside a memalloc_pin_save() scope.
export function gupLongtermLocked(k: KernelBase, mm: Mm, start: number, nr: number, pages: PageArray | null,
  at: number, flags: number): number {
  if (!(flags & C.FOLL_LONGTERM) || !pages) return getUserPagesLocked(k, mm, start, nr, pages, at, flags);
  k.core.set_alloc_gfp(C.GFP_HIGHUSER_PIN);
  try {
    for (;;) {
      const done = getUserPagesLocked(k, mm, start, nr, pages, at, flags);
      if (done <= 0) return done;
      const rc = checkAndMigrate(k, pages, at, done, flags);
      if (rc === -C.EAGAIN) continue;
      // Before 5.13 (check_and_migrate_cma_pages()): a failed migration
      // takes the references once more and leaves the pages where they are.
      if (rc === -C.ENOMEM && k.kr.longtermMigrationFailure === 'pin-anyway') {
        return getUserPagesLocked(k, mm, start, nr, pages, at, flags);
      }
      return rc || done;
    }
  } finally {
    k.core.set_alloc_gfp(C.GFP_HIGHUSER_MOVABLE);
  }
}

// gup_fast_fallback()'s range checks when start (unsigned long) or
// nr_pages (an int, converted to unsigned long) is negative, i.e. 2^64 + x:
// with negs of them negative, the end start + len is 2^64 * negs + sum,
// which wraps (-EOVERFLOW) once it reaches 2^64; an end that does not wrap
// but has a 2^64 term lies far above TASK_SIZE_MAX (-EFAULT).
function negativeRangeError(start: number, nr: number): number {
  const negs = (start < 0 ? 1 : 0) + (nr < 0 ? 1 : 0);
  return start + nr * PAGE >= (1 - negs) * 2 ** 64 ? -C.EOVERFLOW : -C.EFAULT;
}

// Mirrors gup_fast_fallback(): the lockless walk pins a prefix, the slow
// path does the rest.
export function gupFastFallback(k: KernelBase, mm: Mm, start: number, nr: number, flags: number,
  pages: PageArray, pid: number): number {
  if (flags & ~FAST_FLAGS) {
    k.warnOnce('mm/gup.c:gup_fast_fallback', 'gup_flags not allowed for GUP-fast', pid);
    return -C.EINVAL;
  }
  if (flags & C.FOLL_PIN) mm.hasPinned = true;
  // untagged_addr(start) & PAGE_MASK; not `start % PAGE`, which V8 computes
  // with fmod() for addresses above 2^31 (a quarter of a one-page call).
  start = Math.floor(start / PAGE) * PAGE;
  if (start < 0 || nr < 0) return negativeRangeError(start, nr);
  if (start + nr * PAGE >= 2 ** 64) return -C.EOVERFLOW;
  if (start + nr * PAGE > TASK_SIZE) return -C.EFAULT;
  return gupFastRest(k, mm, start, nr, flags, pages, k.core.gup_fast(mm.pgd, start / PAGE, nr, flags, pages.offset));
}

// The rest of gup_fast_fallback() once the lockless walk took `fast` pages
// of a valid, page-aligned range: the slow path takes the others.
export function gupFastRest(k: KernelBase, mm: Mm, start: number, nr: number, flags: number, pages: PageArray,
  fast: number): number {
  if (fast === nr || flags & C.FOLL_FAST_ONLY) return fast;
  const slow = gupLongtermLocked(k, mm, start + fast * PAGE, nr - fast, pages, fast,
    flags | C.FOLL_TOUCH | C.FOLL_UNLOCKABLE);
  if (slow < 0) return fast ? fast : slow;
  return fast + slow;
}
