// mmap(2) and munmap(2): validation as ksys_mmap_pgoff()/do_mmap() do it,
// placement (get_unmapped_area(), top-down, no randomisation), accounting
// (overcommit heuristic), then the VMA.
import * as C from '../../assembly/constants';
import { fail } from '../errors';
import { checkMmapLock, accountNewVma } from './mlock';
import type { MemlockCred } from './memlock';
import { Vma } from './vma';
import { TASK_SIZE, type Mm } from './mm';
import { MAX_FILE_BYTES, type SimFile } from '../fs/file';

const PAGE = C.PAGE_SIZE;
export const MMAP_BASE = 0x7f0000000000; // no ASLR: runs are deterministic
export const MMAP_MIN_ADDR = 0x10000; // vm.mmap_min_addr
const PMD_SIZE = 2 ** C.PMD_SHIFT;

// Flags mmap() understands. Others are ignored as Linux ignores them, except
// under MAP_SHARED_VALIDATE, where they fail with EOPNOTSUPP.
const KNOWN_FLAGS = C.MAP_TYPE | C.MAP_FIXED | C.MAP_ANONYMOUS | C.MAP_NORESERVE | C.MAP_POPULATE
  | C.MAP_HUGETLB | C.MAP_FIXED_NOREPLACE | (C.MAP_HUGE_MASK << C.MAP_HUGE_SHIFT) | C.MAP_STACK | C.MAP_DENYWRITE
  | C.MAP_EXECUTABLE | C.MAP_NONBLOCK | C.MAP_LOCKED;
// Flags Linux honours that pinsim does not model: refused rather than half-done.
const UNMODELLED_FLAGS: [number, string][] = [
  [C.MAP_GROWSDOWN, 'MAP_GROWSDOWN'], [C.MAP_SYNC, 'MAP_SYNC'],
];
const PROT_SEM = 8; // accepted and ignored, as on x86
export const PROT_VALID = C.PROT_READ | C.PROT_WRITE | C.PROT_EXEC | PROT_SEM;

export function pageAlign(n: number): number { return Math.ceil(n / PAGE) * PAGE; }

export function protToVmFlags(prot: number): number {
  return (prot & C.PROT_READ ? C.VM_READ : 0) | (prot & C.PROT_WRITE ? C.VM_WRITE : 0)
    | (prot & C.PROT_EXEC ? C.VM_EXEC : 0);
}

export interface MmapHost {
  /** @internal */
  readonly totalRamPages: number;
  /** @internal */
  hugetlbOrderFor(flags: number): number | null; // MAP_HUGE_* -> order, null if unsupported
  /** @internal */
  internalFile(kind: 'shmem' | 'hugetlb', size: number, hugeOrder: number): SimFile;
  /** @internal */
  populate(mm: Mm, vma: Vma): void;
}

export interface MmapRequest {
  addr: number;
  length: number;
  prot: number;
  flags: number;
  file: SimFile | null;
  offset: number;
  cred: MemlockCred; // the caller's, for MAP_LOCKED and MCL_FUTURE
}

// x86's TASK_UNMAPPED_BASE (mmap_legacy_base without randomisation): where
// the bottom-up fallback search starts.
const TASK_UNMAPPED_BASE = pageAlign(TASK_SIZE / 3);

// get_unmapped_area(): the hint if free, else the highest free gap below
// MMAP_BASE (arch_get_unmapped_area_topdown()), else the lowest one above
// TASK_UNMAPPED_BASE (its bottom-up fallback), aligned as THP or hugetlb need.
// Every gap is bounded by the VMAs on both sides, so the result never
// overlaps a VMA, wherever VMAs lie (unmapped_area_topdown()).
function unmappedArea(mm: Mm, hint: number, len: number, align: number): number {
  if (hint && hint >= MMAP_MIN_ADDR && hint + len <= TASK_SIZE && mm.overlapping(hint, hint + len).length === 0) return hint;
  const vmas = mm.vmas;
  // Top-down: the gaps below MMAP_BASE, highest first.
  for (let j = mm.findIndex(MMAP_BASE); j >= 0; j--) {
    const lo = Math.max(MMAP_MIN_ADDR, j > 0 ? vmas[j - 1].end : 0);
    const hi = Math.min(MMAP_BASE, j < vmas.length ? vmas[j].start : TASK_SIZE);
    const cand = Math.floor((hi - len) / align) * align;
    if (cand >= lo) return cand;
  }
  // Bottom-up: the gaps above TASK_UNMAPPED_BASE, lowest first.
  for (let j = mm.findIndex(TASK_UNMAPPED_BASE); j <= vmas.length; j++) {
    const lo = Math.max(TASK_UNMAPPED_BASE, j > 0 ? vmas[j - 1].end : 0);
    const hi = j < vmas.length ? vmas[j].start : TASK_SIZE;
    const cand = Math.ceil(lo / align) * align;
    if (cand + len <= hi) return cand;
  }
  return -1;
}

export function doMmap(host: MmapHost, mm: Mm, req: MmapRequest): number {
  const { prot, flags, file, offset } = req;
  let { addr, length } = req;
  const type = flags & C.MAP_TYPE;
  if (length === 0) throw fail('mmap', C.EINVAL, 'length is 0');
  if (offset % PAGE !== 0 || offset < 0) throw fail('mmap', C.EINVAL, `offset ${offset} is not page-aligned`);
  if (type !== C.MAP_SHARED && type !== C.MAP_PRIVATE && type !== C.MAP_SHARED_VALIDATE) {
    throw fail('mmap', C.EINVAL, 'flags must include exactly one of MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE');
  }
  const anon = (flags & C.MAP_ANONYMOUS) !== 0;
  // Anonymous memory takes only MAP_SHARED or MAP_PRIVATE; MAP_SHARED_VALIDATE
  // checks the flags of file mappings.
  if (anon && type === C.MAP_SHARED_VALIDATE) throw fail('mmap', C.EINVAL, 'MAP_SHARED_VALIDATE needs a file');
  if (type === C.MAP_SHARED_VALIDATE && (flags & ~KNOWN_FLAGS) !== 0) {
    throw fail('mmap', C.EOPNOTSUPP, `unknown flags 0x${(flags & ~KNOWN_FLAGS).toString(16)} with MAP_SHARED_VALIDATE`);
  }
  for (const [bit, name] of UNMODELLED_FLAGS) {
    if (flags & bit) throw fail('mmap', C.EOPNOTSUPP, `${name} is not modelled by pinsim`);
  }
  if (prot & ~PROT_VALID) throw fail('mmap', C.EINVAL, `unknown prot bits 0x${(prot & ~PROT_VALID).toString(16)}`);
  const fixed = (flags & (C.MAP_FIXED | C.MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed && addr % PAGE !== 0) throw fail('mmap', C.EINVAL, `MAP_FIXED address 0x${addr.toString(16)} is not page-aligned`);
  if (length < 0 || addr < 0) throw fail('mmap', C.ENOMEM, 'address or length beyond the user address space');
  const shared = type !== C.MAP_PRIVATE;
  if (!anon && !file) throw fail('mmap', C.EBADF, 'not MAP_ANONYMOUS and no open file given');

  // hugetlb: MAP_HUGETLB on anonymous memory, or any mapping of a hugetlbfs file.
  let hugeOrder = 0;
  let mapFile = anon ? null : file;
  if (mapFile && mapFile.hugeOrder) hugeOrder = mapFile.hugeOrder;
  else if (anon && (flags & C.MAP_HUGETLB)) {
    const o = host.hugetlbOrderFor(flags);
    if (o === null) throw fail('mmap', C.EINVAL, 'unsupported MAP_HUGE_* page size');
    hugeOrder = o;
  }
  const hsize = PAGE * 2 ** hugeOrder;
  if (hugeOrder && (offset % hsize !== 0 || (fixed && addr % hsize !== 0))) {
    throw fail('mmap', C.EINVAL, `hugetlb mapping not aligned to ${hsize} bytes`);
  }
  length = hugeOrder ? Math.ceil(length / hsize) * hsize : pageAlign(length);
  if (length > TASK_SIZE) throw fail('mmap', C.ENOMEM, `length ${length} exceeds the user address space`);
  if (fixed && addr + length > TASK_SIZE) throw fail('mmap', C.ENOMEM, 'range ends above TASK_SIZE');
  // file_mmap_ok(): a file mapping must end within the largest file.
  if (mapFile && offset + length > MAX_FILE_BYTES) throw fail('mmap', C.EOVERFLOW, 'offset + length beyond the largest file');

  // Overcommit heuristic (__vm_enough_memory(), mode 0): one mapping may not
  // exceed RAM (+ swap, none here). Private writable and shared anonymous
  // mappings are accounted unless MAP_NORESERVE.
  const accounted = !hugeOrder && !(flags & C.MAP_NORESERVE)
    && ((!shared && (prot & C.PROT_WRITE) !== 0) || (shared && anon));
  if (accounted && length / PAGE > host.totalRamPages) {
    throw fail('mmap', C.ENOMEM, `${length} bytes exceed RAM + swap (use MAP_NORESERVE to overcommit)`);
  }

  let start: number;
  if (fixed) {
    start = addr;
    if (start < MMAP_MIN_ADDR) throw fail('mmap', C.EPERM, `address below vm.mmap_min_addr (0x${MMAP_MIN_ADDR.toString(16)})`);
    if ((flags & C.MAP_FIXED_NOREPLACE) && mm.overlapping(start, start + length).length) {
      throw fail('mmap', C.EEXIST, 'MAP_FIXED_NOREPLACE range is already mapped');
    }
    checkHugeSplit('mmap', mm, start, start + length);
  } else {
    // __get_unmapped_area(): private anonymous mappings of a multiple of 2 MiB
    // are PMD-aligned when THP is built in, whatever the runtime mode.
    const thpAlign = anon && !shared && !hugeOrder && length % PMD_SIZE === 0;
    // A hugetlb hint is rounded up to the huge page (hugetlb_get_unmapped_area()),
    // any other hint down to the page (arch_get_unmapped_area_topdown()).
    const hint = hugeOrder ? Math.ceil(addr / hsize) * hsize : addr - (addr % PAGE);
    start = unmappedArea(mm, hint, length, hugeOrder ? hsize : thpAlign ? PMD_SIZE : PAGE);
    if (start < 0) throw fail('mmap', C.ENOMEM, 'no free range of that size');
  }
  const lockFlags = mm.def_flags | (flags & C.MAP_LOCKED ? C.VM_LOCKED : 0);
  checkMmapLock(mm, req.cred, (flags & C.MAP_LOCKED) !== 0, lockFlags, length);

  // Shared anonymous memory is backed by an internal shmem (or hugetlbfs) file.
  let pgoff = offset / PAGE;
  if (anon && shared) {
    mapFile = host.internalFile(hugeOrder ? 'hugetlb' : 'shmem', length, hugeOrder);
    pgoff = 0;
  }
  if (anon && !mapFile) pgoff = start / PAGE;
  let vmFlags = protToVmFlags(prot) | lockFlags | C.VM_MAYREAD | C.VM_MAYWRITE | C.VM_MAYEXEC;
  if (shared) vmFlags |= C.VM_SHARED | C.VM_MAYSHARE;
  if (accounted) vmFlags |= C.VM_ACCOUNT;
  if (flags & C.MAP_NORESERVE) vmFlags |= C.VM_NORESERVE;
  if (hugeOrder) vmFlags |= C.VM_HUGETLB | C.VM_DONTEXPAND;
  const backing = mapFile ? mapFile.backing : C.BACKING_ANON;

  if (fixed) mm.unmap(start, start + length);
  const vma = new Vma(start, start + length, vmFlags, backing, mapFile, pgoff, null, hugeOrder);
  accountNewVma(mm, vma);
  mm.insert(vma);
  mm.mergeAround(start, start + length);
  // Populated when locked (not ONFAULT) or MAP_POPULATE; errors ignored.
  if ((lockFlags & C.VM_LOCKED_MASK) === C.VM_LOCKED || (flags & C.MAP_POPULATE)) host.populate(mm, mm.vmaAt(start)!);
  return start;
}

// A hugetlb VMA cannot be split off a huge-page boundary (hugetlb_vm_op_split()):
// munmap, MAP_FIXED, mprotect and madvise of such a part fail with EINVAL.
export function checkHugeSplit(syscall: string, mm: Mm, start: number, end: number): void {
  for (const v of mm.overlapping(start, end)) {
    if (v.isHugetlb && ((start > v.start && start % v.hugeSize) || (end < v.end && end % v.hugeSize))) {
      throw fail(syscall, C.EINVAL, `would split a hugetlb VMA off its ${v.hugeSize}-byte page boundary`);
    }
  }
}

// Validates munmap(start, length) and returns the page-aligned end.
export function checkMunmap(mm: Mm, start: number, length: number): number {
  if (start % PAGE !== 0) throw fail('munmap', C.EINVAL, `address 0x${start.toString(16)} is not page-aligned`);
  if (length <= 0) throw fail('munmap', C.EINVAL, `length ${length} is not positive`);
  const end = start + pageAlign(length);
  if (start < 0 || end > TASK_SIZE) throw fail('munmap', C.EINVAL, 'range outside the user address space');
  checkHugeSplit('munmap', mm, start, end);
  return end;
}
