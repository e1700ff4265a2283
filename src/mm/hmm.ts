// hmm_range_fault() (mm/hmm.c): snapshot, and fault in on request, the CPU
// page tables of a range for a device, taking no reference and no pin;
// the caller's interval notifier sequence is what makes the result safe.
// The per-page walk is the core's (hmm_walk); this is the VMA loop and
// the faulting.
import * as C from '../../assembly/constants';
import type { KernelBase } from '../kernel';
import { fail } from '../errors';
import { MmuIntervalNotifier } from './notifier';

// enum hmm_pfn_flags as unsigned long values (since v6.16; UNVERIFIED:
// the order field sat at bit 56 before).
export const HMM_PFN_VALID = 1n << 63n;
export const HMM_PFN_WRITE = 1n << 62n;
export const HMM_PFN_ERROR = 1n << 61n;
export const HMM_PFN_ORDER_SHIFT = BigInt(C.HMM_PFN_ORDER_SHIFT);
export const HMM_PFN_REQ_FAULT = HMM_PFN_VALID;
export const HMM_PFN_REQ_WRITE = HMM_PFN_WRITE;
export const HMM_PFN_FLAGS = ~((1n << HMM_PFN_ORDER_SHIFT) - 1n) & ((1n << 64n) - 1n);

// hmm_pfn_to_map_order(): the order of the mapping the entry came from.
export function hmm_pfn_to_map_order(entry: bigint): number {
  return Number((entry >> HMM_PFN_ORDER_SHIFT) & 0x1fn);
}

// The pfn of an entry (hmm_pfn_to_page()'s page_to_pfn()).
export function hmm_pfn_to_pfn(entry: bigint): number {
  return Number(entry & ~HMM_PFN_FLAGS);
}

// struct hmm_range.
export interface HmmRange {
  notifier: MmuIntervalNotifier;
  notifier_seq: number;
  start: number;
  end: number;
  hmm_pfns: BigUint64Array; // one entry per page of [start, end)
  default_flags: bigint;
  pfn_flags_mask: bigint;
}

const BUSY = 1; // a fault was taken: walk again from `last`, as the kernel does after -EBUSY
const CHUNK = C.SCRATCH_WORDS / 2; // entries per hmm_walk() call

function check(r: HmmRange): void {
  if (typeof r !== 'object' || r === null) throw new TypeError('hmm_range_fault: range must be an object');
  if (!(r.notifier instanceof MmuIntervalNotifier)) throw new TypeError('hmm_range_fault: range.notifier must be an interval notifier');
  if (typeof r.notifier_seq !== 'number') throw new TypeError('hmm_range_fault: range.notifier_seq must be a number');
  if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end)) throw new TypeError('hmm_range_fault: start and end must be integers');
  if (r.start % C.PAGE_SIZE || r.end % C.PAGE_SIZE || r.start < 0 || r.end < r.start) {
    throw new RangeError('hmm_range_fault: start and end must be page-aligned, start <= end');
  }
  if (!(r.hmm_pfns instanceof BigUint64Array)) throw new TypeError('hmm_range_fault: hmm_pfns must be a BigUint64Array');
  if (r.hmm_pfns.length < (r.end - r.start) / C.PAGE_SIZE) throw new RangeError('hmm_range_fault: hmm_pfns is shorter than the range');
  if (typeof r.default_flags !== 'bigint' || typeof r.pfn_flags_mask !== 'bigint') {
    throw new TypeError('hmm_range_fault: default_flags and pfn_flags_mask must be bigints');
  }
}

// Mirrors hmm_range_fault(): 0, -EBUSY (the notifier sequence moved: call
// mmu_interval_read_begin() and retry), -EFAULT or -EPERM.
export function hmmRangeFault(k: KernelBase, range: HmmRange): number {
  check(range);
  const sub = range.notifier;
  if (sub.mm.host !== k) throw new TypeError('hmm_range_fault: the notifier belongs to another machine');
  // The caller holds an mm_users reference (mmget_not_zero()) in the kernel; an exited mm has none.
  if (sub.mm.dead) throw fail('hmm_range_fault', C.ESRCH, `task ${sub.mm.pid} has exited: its mm has no users`);
  const hi = (x: bigint) => Number(BigInt.asIntN(32, x >> 32n));
  const req = { dflt: hi(range.default_flags), mask: hi(range.pfn_flags_mask) };
  let last = range.start;
  for (let stalls = 0; ;) {
    if (sub.invalidateSeq !== range.notifier_seq) return -C.EBUSY; // mmu_interval_check_retry()
    const at = last;
    const r = k.guard(() => walk(k, range, req, at, (a) => (last = a)));
    if (r !== BUSY) return r;
    // A fault that left its pages unusable would loop for ever.
    if (last === at && ++stalls > 1) return -C.EFAULT;
    if (last !== at) stalls = 0;
  }
}

// walk_page_range() from `from`: each VMA (or hole) in chunks through
// scratch. Returns 0, BUSY after a fault (from where `setLast` says), or -errno.
function walk(k: KernelBase, range: HmmRange, req: { dflt: number; mask: number }, from: number,
  setLast: (addr: number) => void): number {
  const mm = range.notifier.mm;
  const s = k.v.scratch;
  const view = new BigUint64Array(s.buffer, s.byteOffset, CHUNK);
  for (let addr = from; addr < range.end;) {
    const i = mm.findIndex(addr);
    const vma = mm.vmas[i];
    let mode: number = C.HMM_WALK_HOLE;
    let segEnd = range.end;
    if (vma && vma.start <= addr) {
      segEnd = Math.min(segEnd, vma.end);
      if (vma.flags & (C.VM_IO | C.VM_PFNMAP) || !(vma.flags & C.VM_READ)) mode = C.HMM_WALK_ERROR;
      else mode = vma.flags & C.VM_WRITE ? C.HMM_WALK_VMA : C.HMM_WALK_VMA_RO;
    } else if (vma) {
      segEnd = Math.min(segEnd, vma.start);
    }
    const n = Math.min((segEnd - addr) / C.PAGE_SIZE, CHUNK);
    const first = (addr - range.start) / C.PAGE_SIZE;
    view.set(range.hmm_pfns.subarray(first, first + n));
    const done = k.core.hmm_walk(mm.pgd, addr / C.PAGE_SIZE, n, req.dflt, req.mask, mode);
    const status = k.core.hmm_status();
    if (status < 0) return status;
    range.hmm_pfns.set(view.subarray(0, done), first);
    addr += done * C.PAGE_SIZE;
    setLast(addr);
    if (done === n) continue;
    // hmm_vma_fault(): handle_mm_fault() for the run, then walk again.
    const bits = k.faultVma(mm, vma, addr, addr + k.core.hmm_fault_run() * C.PAGE_SIZE, k.core.hmm_fault_write());
    return bits ? -C.EFAULT : BUSY;
  }
  return 0;
}
