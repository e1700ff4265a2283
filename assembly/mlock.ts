// PG_mlocked on the folios of VM_LOCKED VMAs (mm/mlock.c): set when a
// locked range is populated or faulted, cleared when a locked mapping goes.
// pinsim keeps a flag where Linux keeps folio->mlock_count: a folio mapped
// by two locked VMAs loses PG_mlocked when either lets go of it.
import { PG_mlocked, PG_hugetlb, PG_head, _PAGE_SPECIAL, VM_LOCKED } from './constants';
import { pg_flags, pfn_to_page } from './mem';
import { pte_pfn, range_step, step_level, step_next, step_count } from './pgtable';
import { page_folio, folio_order } from './folio';
import { vma_flags } from './vma';
import { flags_at, pte_at } from './raw';

function folio_set_mlocked(e: u32, lock: bool): void {
  if (e == 0 || (e & _PAGE_SPECIAL) != 0) return;
  const head = page_folio(pte_pfn(e));
  if ((flags_at(head) & PG_hugetlb) != 0) return; // hugetlb is never mlocked
  if (lock) pg_flags[pfn_to_page(head)] = flags_at(head) | PG_mlocked;
  else pg_flags[pfn_to_page(head)] = flags_at(head) & ~PG_mlocked;
}

// mlock_vma_pages_range() / munlock over the present entries of
// [vpn, vpn + nr) of the current VMA: its folios get (lock) or lose PG_mlocked.
export function mlock_range(pgd: i32, vpn: f64, nr: f64, lock: bool): void {
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(pgd, addr, end);
    if (ei >= 0) {
      if (step_level > 0) folio_set_mlocked(pte_at(ei), lock);
      else for (let k = 0; k < step_count; k++) folio_set_mlocked(pte_at(ei + k), lock);
    }
    addr = step_next;
  }
}

// After a fault in a VM_LOCKED VMA (mlock_new_folio(), and the
// munlock_vma_folio() of a COW-replaced folio): `old` is the entry that
// mapped vpn before, `now` the one that maps it after.
export function mlock_fault(old: u32, now: u32): void {
  if ((vma_flags & VM_LOCKED) == 0 || pte_pfn(old) == pte_pfn(now)) return;
  folio_set_mlocked(old, false);
  folio_set_mlocked(now, true);
}

// The base pages of mlocked folios (meminfo's Mlocked and Unevictable).
export function count_mlocked(): f64 {
  let n = 0.0;
  const frames = pg_flags.length;
  for (let pfn = 0; pfn < frames; pfn++) {
    const f = flags_at(pfn);
    if ((f & PG_mlocked) != 0) n += (f & PG_head) != 0 ? <f64>(1 << folio_order(pfn)) : 1.0;
  }
  return n;
}
