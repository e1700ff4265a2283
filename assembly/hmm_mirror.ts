// The per-page work of the HMM mirror device (lib/test_hmm.c's dmirror,
// src/devices/hmm-mirror.ts). Its entries are hmm_pfns words as two u32
// in scratch, low then high, the layout hmm_walk() leaves there: the pfn
// in the low word, HMM_PFN_* flags and the map order in the high one.
import {
  HMM_PFN_VALID_HI, HMM_PFN_WRITE_HI, HMM_PFN_ERROR_HI, HMM_PFN_ORDER_SHIFT, HPAGE_PMD_ORDER, HPAGE_PUD_ORDER,
  HMM_DMIRROR_PROT_ERROR, HMM_DMIRROR_PROT_NONE, HMM_DMIRROR_PROT_READ, HMM_DMIRROR_PROT_WRITE, HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD, HMM_DMIRROR_PROT_ZERO, DMIRROR_RUNS_AT,
} from './constants';
import { scratch, ZERO_PFN } from './mem';

// Mirrors dmirror_mkentry() for the n entries in scratch: entry i becomes
// its HMM_DMIRROR_PROT_* byte in scratch[i] (in place: word i is read as
// part of entry i / 2, before it is overwritten).
export function dmirror_perm(n: i32): void {
  for (let i = 0; i < n; i++) {
    const lo = scratch[2 * i];
    const hi = scratch[2 * i + 1];
    let perm: u32 = HMM_DMIRROR_PROT_NONE;
    if ((hi & HMM_PFN_ERROR_HI) != 0) perm = HMM_DMIRROR_PROT_ERROR;
    else if ((hi & HMM_PFN_VALID_HI) != 0) {
      if (lo == <u32>ZERO_PFN) perm = HMM_DMIRROR_PROT_ZERO;
      perm |= (hi & HMM_PFN_WRITE_HI) != 0 ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
      const order = <i32>(hi >>> (HMM_PFN_ORDER_SHIFT - 32)) & 0x1f;
      if (order == HPAGE_PMD_ORDER) perm |= HMM_DMIRROR_PROT_PMD;
      else if (order == HPAGE_PUD_ORDER) perm |= HMM_DMIRROR_PROT_PUD;
    }
    scratch[i] = perm;
  }
}

// The runs of the n device page table entries in scratch: consecutive
// valid entries with consecutive pfns and the same write bit form one run,
// written from scratch[DMIRROR_RUNS_AT] as (first entry, count, pfn,
// writable) quads. Returns the number of runs.
export function dmirror_runs(n: i32): i32 {
  let runs = 0;
  let i = 0;
  while (i < n) {
    const hi = scratch[2 * i + 1];
    if ((hi & HMM_PFN_VALID_HI) == 0) {
      i++;
      continue;
    }
    const pfn = scratch[2 * i];
    const w = hi & HMM_PFN_WRITE_HI;
    let j = i + 1;
    while (j < n && (scratch[2 * j + 1] & HMM_PFN_VALID_HI) != 0 && (scratch[2 * j + 1] & HMM_PFN_WRITE_HI) == w
      && scratch[2 * j] == pfn + <u32>(j - i)) j++;
    const at = DMIRROR_RUNS_AT + 4 * runs;
    scratch[at] = <u32>i;
    scratch[at + 1] = <u32>(j - i);
    scratch[at + 2] = pfn;
    scratch[at + 3] = w != 0 ? 1 : 0;
    runs++;
    i = j;
  }
  return runs;
}
