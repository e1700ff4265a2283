// Protection changes (mm/mprotect.c change_protection) and the write-protect
// half of writeback (mm/rmap.c folio_mkclean, done per VMA range here).
import {
  PG_anon, PG_anon_exclusive, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_PROTNONE, _PAGE_SPECIAL,
  VM_READ, VM_WRITE, VM_EXEC, RULE_COW_REUSE_SHIFT, REUSE_EXCLUSIVE,
} from './constants';
import { rule_field } from './rules';
import { page_folio } from './folio';
import { pte_pfn, pte_present, pt_set, range_step, step_level, step_next, step_count, step_covers_leaf } from './pgtable';
import { split_huge_pmd } from './huge_memory';
import { folio_mark_dirty } from './pagecache';
import { vma_flags, vma_is_shared, vma_writenotify } from './vma';
import { flags_at, mapping_at, pte_at } from './raw';

// can_change_pte_writable(): may mprotect() make this entry writable
// without a write fault? A private anon page only if exclusive, which only
// the eras that read PG_anon_exclusive do (6.0's 64fe24a3e05e; pinsim ties
// it to the 5.19 'exclusive' COW rule): before, its next write faults and
// the era's reuse rule decides (cow.c's R/W pin + mprotect case).
function can_change_pte_writable(e: u32): bool {
  if ((e & _PAGE_SPECIAL) != 0) return false;
  if (vma_is_shared()) return !vma_writenotify() || (e & _PAGE_DIRTY) != 0;
  if (rule_field(RULE_COW_REUSE_SHIFT) != REUSE_EXCLUSIVE) return false;
  const pfn = pte_pfn(e);
  return (flags_at(page_folio(pfn)) & PG_anon) != 0 && (flags_at(pfn) & PG_anon_exclusive) != 0;
}

// The entry under the VMA's new protection (pte_modify() + the writable upgrade).
function prot_entry(e: u32): u32 {
  if (!pte_present(e)) return e;
  if ((vma_flags & (VM_READ | VM_WRITE | VM_EXEC)) == 0) {
    return (e & ~(<u32>(_PAGE_PRESENT | _PAGE_RW))) | <u32>_PAGE_PROTNONE;
  }
  let r = (e & ~(<u32>(_PAGE_PROTNONE | _PAGE_RW))) | <u32>_PAGE_PRESENT;
  if ((vma_flags & VM_WRITE) != 0 && can_change_pte_writable(e)) r |= <u32>_PAGE_RW;
  return r;
}

// Applies the current VMA's (new) protection to [vpn, vpn + nr).
export function change_protection(pgd: i32, vpn: f64, nr: f64): void {
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(pgd, addr, end);
    if (ei >= 0 && step_level > 0) {
      if (!step_covers_leaf(addr, end)) {
        split_huge_pmd(ei);
        continue;
      }
      pt_set(ei, prot_entry(pte_at(ei)));
    } else if (ei >= 0) {
      for (let k = 0; k < step_count; k++) {
        const e = pte_at(ei + k);
        if (e != 0) pt_set(ei + k, prot_entry(e));
      }
    }
    addr = step_next;
  }
}

let clean_first = -1.0;
let clean_last = -1.0;

// The span of PTEs the last mkclean_range() cleaned (or would have):
// page_vma_mkclean_one()'s PROTECTION_PAGE range. -1 when none.
export function mkclean_first(): f64 { return clean_first; }
export function mkclean_last(): f64 { return clean_last; }

// folio_mkclean() for the pages of `mapping` mapped in [vpn, vpn + nr):
// each writable or dirty PTE is write-protected and cleaned, its dirty bit
// moved to the folio. Returns the number of PTEs cleaned; `dry` only
// counts them (and records their span) so that notifiers can be told first.
export function mkclean_range(pgd: i32, vpn: f64, nr: f64, mapping: i32, dry: bool): i32 {
  let cleaned = 0;
  clean_first = -1.0;
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(pgd, addr, end);
    for (let k = 0; ei >= 0 && k < step_count; k++) {
      const e = pte_at(ei + k);
      if (e == 0 || (e & _PAGE_SPECIAL) != 0 || (e & <u32>(_PAGE_RW | _PAGE_DIRTY)) == 0) continue;
      const head = page_folio(pte_pfn(e));
      if ((flags_at(head) & PG_anon) != 0 || mapping_at(head) != mapping) continue;
      if (clean_first < 0.0) clean_first = addr + <f64>k;
      clean_last = addr + <f64>k;
      cleaned++;
      if (dry) continue;
      if ((e & _PAGE_DIRTY) != 0) folio_mark_dirty(head);
      pt_set(ei + k, e & ~(<u32>(_PAGE_RW | _PAGE_DIRTY)));
    }
    addr = step_next;
  }
  return cleaned;
}
