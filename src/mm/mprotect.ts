// mprotect(2) and madvise(2).
import * as C from '../../assembly/constants';
import { fail } from '../errors';
import { pageAlign, protToVmFlags, PROT_VALID, checkHugeSplit } from './mmap';
import { TASK_SIZE, type Mm } from './mm';
import type { Vma } from './vma';

const PAGE = C.PAGE_SIZE;

// Common range checks. Unlike Linux, which applies mprotect/madvise to the
// VMAs before a hole and then fails, pinsim refuses a range with holes
// before changing anything (ENOMEM either way).
// A negative length is a huge size_t in C: mprotect's end wraps (ENOMEM),
// madvise refuses it (EINVAL).
function checkRange(syscall: string, mm: Mm, start: number, length: number): number {
  if (start % PAGE !== 0 || start < 0) throw fail(syscall, C.EINVAL, `address 0x${start.toString(16)} is not page-aligned`);
  if (length < 0) throw fail(syscall, syscall === 'mprotect' ? C.ENOMEM : C.EINVAL, `length ${length} is negative`);
  const end = start + pageAlign(length);
  if (end > TASK_SIZE) throw fail(syscall, C.ENOMEM, 'range ends above TASK_SIZE');
  if (end > start && !mm.covers(start, end)) throw fail(syscall, C.ENOMEM, 'range is not fully mapped');
  return end;
}

// Splits [start, end) out, gives each VMA in it new flags (calling
// `changed` for those that change), and merges again.
function updateVmas(mm: Mm, start: number, end: number, newFlags: (v: Vma) => number, changed?: (v: Vma) => void): void {
  mm.splitAt(start);
  mm.splitAt(end);
  for (const v of mm.overlapping(start, end)) {
    const nf = newFlags(v);
    if (nf === v.flags) continue;
    v.flags = nf;
    changed?.(v);
  }
  mm.mergeAround(start, end);
}

export function doMprotect(mm: Mm, start: number, length: number, prot: number): void {
  if (prot & ~PROT_VALID) throw fail('mprotect', C.EINVAL, `unknown prot bits 0x${(prot & ~PROT_VALID).toString(16)}`);
  const end = checkRange('mprotect', mm, start, length);
  if (end === start) return;
  checkHugeSplit('mprotect', mm, start, end);
  const bits = protToVmFlags(prot);
  updateVmas(mm, start, end, (v) => (v.flags & ~(C.VM_READ | C.VM_WRITE | C.VM_EXEC)) | bits, (v) => {
    // change_pud_range() fires PROTECTION_VMA from the first populated PUD on.
    const first = mm.notifierSubscriptions ? mm.host.core.first_populated_pud(mm.pgd, v.start / PAGE, v.pages) : -1;
    if (first >= 0) mm.notify(C.MMU_NOTIFY_PROTECTION_VMA, first * PAGE, v.end, 'change_protection');
    mm.prepare(v);
    mm.host.core.change_protection(mm.pgd, v.start / PAGE, v.pages);
  });
}

const NOOP_ADVICE = [C.MADV_NORMAL, C.MADV_RANDOM, C.MADV_SEQUENTIAL, C.MADV_WILLNEED];
const KNOWN_ADVICE = [C.MADV_FREE, C.MADV_REMOVE, C.MADV_MERGEABLE, C.MADV_UNMERGEABLE, C.MADV_DONTDUMP,
  C.MADV_DODUMP, C.MADV_WIPEONFORK, C.MADV_KEEPONFORK, C.MADV_COLD, C.MADV_PAGEOUT, C.MADV_COLLAPSE];

export interface MadviseHost {
  // MADV_POPULATE_(READ|WRITE): fault in one VMA's part; throws on failure.
  /** @internal */
  populate(mm: Mm, vma: Vma, start: number, end: number, write: boolean): void;
}

export function doMadvise(host: MadviseHost, mm: Mm, start: number, length: number, advice: number): void {
  const supported = NOOP_ADVICE.includes(advice) || [C.MADV_DONTNEED, C.MADV_DONTFORK, C.MADV_DOFORK,
    C.MADV_HUGEPAGE, C.MADV_NOHUGEPAGE, C.MADV_POPULATE_READ, C.MADV_POPULATE_WRITE].includes(advice);
  if (!supported) {
    if (KNOWN_ADVICE.includes(advice)) throw fail('madvise', C.EOPNOTSUPP, `advice ${advice} is not modelled by pinsim`);
    throw fail('madvise', C.EINVAL, `unknown advice ${advice}`);
  }
  let end = checkRange('madvise', mm, start, length);
  if (end === start || NOOP_ADVICE.includes(advice)) return;
  const vmas = mm.overlapping(start, end);
  switch (advice) {
    case C.MADV_DONTNEED: {
      for (const v of vmas) {
        if (v.flags & (C.VM_LOCKED | C.VM_PFNMAP)) throw fail('madvise', C.EINVAL, 'MADV_DONTNEED on a locked or PFN-mapped VMA');
        if (v.isHugetlb && Math.max(start, v.start) % v.hugeSize) {
          throw fail('madvise', C.EINVAL, 'MADV_DONTNEED start is not hugetlb-aligned');
        }
      }
      for (const v of vmas) {
        const s = Math.max(start, v.start);
        // hugetlb rounds the end down to a huge page (madvise_dontneed_free_valid_vma()).
        const e = v.isHugetlb ? Math.floor(Math.min(end, v.end) / v.hugeSize) * v.hugeSize : Math.min(end, v.end);
        if (e <= s) continue;
        mm.notify(C.MMU_NOTIFY_CLEAR, s, e, 'zap_page_range_single');
        mm.zap(v, s, e);
      }
      return;
    }
    case C.MADV_DONTFORK:
    case C.MADV_DOFORK:
      for (const v of vmas) if (v.flags & C.VM_IO) throw fail('madvise', C.EINVAL, 'VM_IO mapping');
      checkHugeSplit('madvise', mm, start, end);
      updateVmas(mm, start, end, (v) => (advice === C.MADV_DONTFORK ? v.flags | C.VM_DONTCOPY : v.flags & ~C.VM_DONTCOPY));
      return;
    case C.MADV_HUGEPAGE:
    case C.MADV_NOHUGEPAGE:
      checkHugeSplit('madvise', mm, start, end);
      updateVmas(mm, start, end, (v) => (advice === C.MADV_HUGEPAGE
        ? (v.flags | C.VM_HUGEPAGE) & ~C.VM_NOHUGEPAGE : (v.flags | C.VM_NOHUGEPAGE) & ~C.VM_HUGEPAGE));
      return;
    default: {
      const write = advice === C.MADV_POPULATE_WRITE;
      // check_vma_flags() with FOLL_MADV_POPULATE: every VMA is checked first.
      for (const v of vmas) {
        if (v.flags & (C.VM_IO | C.VM_PFNMAP)) throw fail('madvise', C.EINVAL, 'VM_IO/VM_PFNMAP mapping');
        if (write ? !(v.flags & C.VM_WRITE) : !(v.flags & C.VM_READ)) {
          throw fail('madvise', C.EINVAL, `mapping is not ${write ? 'writable' : 'readable'}`);
        }
      }
      end = Math.min(end, vmas[vmas.length - 1].end);
      for (const v of vmas) host.populate(mm, v, Math.max(start, v.start), Math.min(end, v.end), write);
    }
  }
}
