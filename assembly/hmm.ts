// The page-table walk of hmm_range_fault() (mm/hmm.c): for each page of a
// stretch the façade has classified (a VMA, a VMA without VM_WRITE, one
// hmm may only report errors for, a hole), turn the request word in
// scratch into the output word in place, or stop where a fault is needed.
// Entries are the kernel's unsigned long as two u32 words, low then high
// (a BigUint64Array over scratch reads them): pfn in the low word, the
// HMM_PFN_* flags and the map order in the high one. No reference is taken.
import {
  HMM_PFN_VALID_HI, HMM_PFN_WRITE_HI, HMM_PFN_ERROR_HI, HMM_PFN_ORDER_SHIFT, HMM_PFN_REQ_FAULT_HI,
  HMM_PFN_REQ_WRITE_HI, HMM_WALK_VMA_RO, HMM_WALK_ERROR, HMM_NEED_FAULT, EFAULT, EPERM,
  _PAGE_PRESENT, _PAGE_RW, HPAGE_PMD_ORDER, HPAGE_PUD_ORDER,
} from './constants';
import { scratch } from './mem';
import { walk_cached, cached_level, leaf_subpage } from './pgtable';
import { pte_at } from './raw';

let status = 0;
let fault_run = 0;
let fault_write = false;

// 0 (the stretch is done), HMM_NEED_FAULT, -EFAULT or -EPERM.
export function hmm_status(): i32 { return status; }
// With HMM_NEED_FAULT: how many pages from the stop need a fault, and whether a write fault.
export function hmm_fault_run(): i32 { return fault_run; }
export function hmm_fault_write(): bool { return fault_write; }

// The output word (high half) for a present leaf, or 0 when it is not
// present or the request (req) needs a write fault (REQ_WRITE counts only
// with REQ_FAULT, as in hmm_pte_need_fault()).
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function leaf_hi(e: u32, level: i32, req: i32): i32 {
  if ((e & _PAGE_PRESENT) == 0) return 0;
  const w = (e & _PAGE_RW) != 0;
  if (!w && (req & (HMM_PFN_REQ_FAULT_HI | HMM_PFN_REQ_WRITE_HI)) == (HMM_PFN_REQ_FAULT_HI | HMM_PFN_REQ_WRITE_HI)) return 0;
  const order = level == 0 ? 0 : level == 1 ? HPAGE_PMD_ORDER : HPAGE_PUD_ORDER;
  return HMM_PFN_VALID_HI | (w ? HMM_PFN_WRITE_HI : 0) | (order << (HMM_PFN_ORDER_SHIFT - 32));
}

// Mirrors hmm_vma_walk_*() over [vpn, vpn + nr) of one stretch, `mode` a
// HMM_WALK_*; the request of entry i is (scratch[2i+1] & mask) | dflt (high
// words: hmm_pfn_flags sit above bit 32). Returns the entries done; where
// it stops early, hmm_status() says why.
export function hmm_walk(pgd: i32, vpn: f64, nr: i32, dflt: i32, mask: i32, mode: i32): i32 {
  status = 0;
  for (let i = 0; i < nr; i++) {
    const req = (<i32>scratch[2 * i + 1] & mask) | dflt;
    let hi = 0;
    let lo = 0;
    if (mode >= HMM_WALK_ERROR) {
      // hmm_vma_walk_hole() / the VM_IO, VM_PFNMAP or !VM_READ case of hmm_vma_walk_test().
      if ((req & HMM_PFN_REQ_FAULT_HI) != 0) {
        status = -EFAULT;
        return i;
      }
      if (mode == HMM_WALK_ERROR) hi = HMM_PFN_ERROR_HI;
    } else {
      const v = vpn + <f64>i;
      const ei = walk_cached(pgd, v);
      const level = cached_level;
      if (ei >= 0) hi = leaf_hi(pte_at(ei), level, req);
      if (hi != 0) lo = leaf_subpage(pte_at(ei), v, level);
      else if ((req & HMM_PFN_REQ_FAULT_HI) != 0) return stop_for_fault(pgd, vpn, i, nr, dflt, mask, mode);
    }
    scratch[2 * i] = <u32>lo;
    scratch[2 * i + 1] = <u32>hi;
  }
  return nr;
}

// hmm_vma_fault(): entry i and the ones after it that also need a fault
// (the same kind) form the run the façade faults in with handle_mm_fault().
// A write to a VMA without VM_WRITE is -EPERM.
function stop_for_fault(pgd: i32, vpn: f64, i: i32, nr: i32, dflt: i32, mask: i32, mode: i32): i32 {
  const write = (((<i32>scratch[2 * i + 1] & mask) | dflt) & HMM_PFN_REQ_WRITE_HI) != 0;
  if (write && mode == HMM_WALK_VMA_RO) {
    status = -EPERM;
    return i;
  }
  let j = i + 1;
  for (; j < nr; j++) {
    const req = (<i32>scratch[2 * j + 1] & mask) | dflt;
    if ((req & HMM_PFN_REQ_FAULT_HI) == 0 || ((req & HMM_PFN_REQ_WRITE_HI) != 0) != write) break;
    const ei = walk_cached(pgd, vpn + <f64>j);
    if (ei >= 0 && leaf_hi(pte_at(ei), cached_level, req) != 0) break;
  }
  status = HMM_NEED_FAULT;
  fault_run = j - i;
  fault_write = write;
  return i;
}
