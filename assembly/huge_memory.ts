// Transparent huge pages mapped by PMD leaves (mm/huge_memory.c) and the
// huge zero folio. Every huge PMD has a PTE table deposited beside it
// (pgtable_trans_huge_deposit()) so that splitting it never allocates.
import {
  HPAGE_PMD_ORDER, HPAGE_PMD_NR, PG_anon_exclusive, GFP_ZERO, GFP_KERNEL, VM_FAULT_OOM, VM_FAULT_FALLBACK,
  _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_ACCESSED, _PAGE_SPECIAL,
  THP_FAULT_ALLOC, THP_FAULT_FALLBACK, THP_SPLIT_PMD, COW_REUSES, COW_COPIES, PG_hugetlb, MMU_NOTIFY_CLEAR, VM_FAULT_NOTIFY,
  RULE_HUGE_ZERO_THP, RULE_THP_SPLIT_COW,
} from './constants';
import { notify_gate } from './notify';
import { pg_mapcount, pg_data, pt_entries, stats, huge_zero_pfn, set_huge_zero_pfn, ZERO_PFN, pfn_to_page } from './mem';
import { kernel_rules } from './rules';
import { huge_pmd_can_reuse } from './reuse';
import { alloc_pages } from './buddy';
import { folio_make_anon, folio_set_exclusive, folio_add_entire_mapcount, folio_put_refs, folio_get } from './folio';
import {
  mk_pte, mk_table_entry, pte_bits, pte_pfn, pt_alloc, pt_free, pt_set, table_base, pt_walk, walk_level, pmd_is_leaf,
  walk_cache_reset,
} from './pgtable';
import { alloc_gfp, vma_anon_vma, wp_bits } from './vma';
import { flags_at, pte_at } from './raw';

// mm_get_huge_zero_folio(): allocated on first use, kept for the machine's life.
function get_huge_zero(): i32 {
  if (huge_zero_pfn < 0) {
    const pfn = alloc_pages(HPAGE_PMD_ORDER, GFP_KERNEL | GFP_ZERO);
    if (pfn >= 0) set_huge_zero_pfn(pfn);
  }
  return huge_zero_pfn;
}

export function is_huge_zero_pmd(e: u32): bool { return huge_zero_pfn >= 0 && pte_pfn(e) == huge_zero_pfn; }

function deposit(pmd_ei: i32, table: i32): void { pt_entries[pmd_ei + 512] = <u32>table; }

function withdraw(pmd_ei: i32): i32 {
  const t = <i32>pte_at(pmd_ei + 512);
  pt_entries[pmd_ei + 512] = 0;
  return t;
}

// Mirrors do_huge_pmd_anonymous_page(): a read maps the huge zero folio, a
// write a fresh order-9 anon folio. VM_FAULT_FALLBACK: use base pages.
export function do_huge_pmd_anonymous_page(pmd_ei: i32, haddr: f64, write: bool): i32 {
  const table = pt_alloc();
  if (table < 0) return VM_FAULT_OOM;
  if (!write) {
    const hz = get_huge_zero();
    if (hz < 0) {
      pt_free(table);
      return VM_FAULT_FALLBACK;
    }
    deposit(pmd_ei, table);
    pt_set(pmd_ei, mk_pte(hz, _PAGE_PRESENT | _PAGE_SPECIAL));
    return 0;
  }
  const head = alloc_pages(HPAGE_PMD_ORDER, alloc_gfp | GFP_ZERO);
  if (head < 0) {
    pt_free(table);
    stats[THP_FAULT_FALLBACK] += 1.0;
    return VM_FAULT_FALLBACK;
  }
  folio_make_anon(head, vma_anon_vma, haddr, PG_anon_exclusive);
  folio_add_entire_mapcount(head, 1);
  deposit(pmd_ei, table);
  pt_set(pmd_ei, mk_pte(head, _PAGE_PRESENT | wp_bits(false)));
  stats[THP_FAULT_ALLOC] += 1.0;
  return 0;
}

// Mirrors do_huge_pmd_wp_page(): reuse the THP in place if the era's
// predicate allows (assembly/reuse.ts); otherwise split the PMD and let the
// PTE-level fault copy one base page (5.8+, 3917c80280c9), or, before 5.8,
// copy the whole THP into a fresh one (else into 512 small pages, else split). A write to the huge zero folio gets
// a fresh THP (do_huge_zero_wp_pmd(), 6.13+; before 5.8 the same by the
// copy path), else it splits; an unshare of it falls back to PTEs.
export function do_huge_pmd_wp_page(pmd_ei: i32, haddr: f64, unshare: bool): i32 {
  const e = pte_at(pmd_ei);
  const head = pte_pfn(e);
  const zero = is_huge_zero_pmd(e);
  const reuse = !zero && huge_pmd_can_reuse(head);
  // Splitting the PMD, or replacing the folio it maps, fires CLEAR over
  // the huge range (__split_huge_pmd(), do_huge_zero_wp_pmd()).
  if (!reuse && !notify_gate(MMU_NOTIFY_CLEAR, haddr, 512.0)) return VM_FAULT_NOTIFY;
  if (reuse) {
    folio_set_exclusive(head, true);
    pt_set(pmd_ei, e | <u32>wp_bits(unshare));
    stats[COW_REUSES] += 1.0;
    return 0;
  }
  const thp_copy = zero ? (kernel_rules & RULE_HUGE_ZERO_THP) != 0 : (kernel_rules & RULE_THP_SPLIT_COW) == 0;
  if (!unshare && thp_copy) {
    const fresh = alloc_pages(HPAGE_PMD_ORDER, alloc_gfp | (zero ? GFP_ZERO : 0));
    if (fresh >= 0) {
      huge_pmd_replace(pmd_ei, haddr, head, fresh, zero);
      return 0;
    }
    stats[THP_FAULT_FALLBACK] += 1.0;
    if (!zero && huge_pmd_copy_small(pmd_ei, haddr, head)) return 0;
  }
  split_huge_pmd(pmd_ei);
  return VM_FAULT_FALLBACK;
}

// Maps the fresh THP `fresh` (zeroed, or a copy of `old`'s 2 MiB) writable
// in place of the PMD; the old folio loses this mapping.
function huge_pmd_replace(pmd_ei: i32, haddr: f64, old: i32, fresh: i32, zero: bool): void {
  if (!zero) {
    for (let i = 0; i < HPAGE_PMD_NR; i++) pg_data[pfn_to_page(fresh + i)] = pg_data[pfn_to_page(old + i)];
    folio_add_entire_mapcount(old, -1);
    folio_put_refs(old, 1);
    stats[COW_COPIES] += 1.0;
  }
  folio_make_anon(fresh, vma_anon_vma, haddr, PG_anon_exclusive);
  folio_add_entire_mapcount(fresh, 1);
  pt_set(pmd_ei, mk_pte(fresh, _PAGE_PRESENT | wp_bits(false)));
  stats[THP_FAULT_ALLOC] += 1.0;
}

// Mirrors do_huge_pmd_wp_page_fallback() (before 5.8): no THP for the copy,
// so 512 small pages take the folio's contents, mapped writable by PTEs in
// the deposited table. False, nothing changed, if one cannot be allocated
// (the caller splits then).
function huge_pmd_copy_small(pmd_ei: i32, haddr: f64, old: i32): bool {
  const base = table_base(<i32>pte_at(pmd_ei + 512));
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = alloc_pages(0, alloc_gfp);
    if (pfn < 0) {
      for (let j = 0; j < i; j++) {
        const p = pte_pfn(pte_at(base + j));
        pg_mapcount[pfn_to_page(p)] = 0;
        pt_set(base + j, 0);
        folio_put_refs(p, 1);
      }
      return false;
    }
    pg_data[pfn_to_page(pfn)] = pg_data[pfn_to_page(old + i)];
    folio_make_anon(pfn, vma_anon_vma, haddr + <f64>i, PG_anon_exclusive);
    pg_mapcount[pfn_to_page(pfn)] = 1;
    pt_set(base + i, mk_pte(pfn, _PAGE_PRESENT | wp_bits(false)));
  }
  pt_set(pmd_ei, mk_table_entry(withdraw(pmd_ei)));
  walk_cache_reset(); // the PMD no longer maps a leaf
  folio_add_entire_mapcount(old, -1);
  folio_put_refs(old, 1);
  stats[COW_COPIES] += <f64>HPAGE_PMD_NR;
  return true;
}

// Mirrors __split_huge_pmd(): the deposited table takes over, one PTE per
// subpage with the PMD's bits; each PTE holds a reference and a mapcount.
export function split_huge_pmd(pmd_ei: i32): void {
  const e = pte_at(pmd_ei);
  const head = pte_pfn(e);
  const table = withdraw(pmd_ei);
  const base = table_base(table);
  const zero = is_huge_zero_pmd(e);
  const bits = pte_bits(e);
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    if (zero) pt_set(base + i, mk_pte(ZERO_PFN, (bits & ~(_PAGE_RW | _PAGE_DIRTY)) | _PAGE_SPECIAL));
    else {
      pt_set(base + i, mk_pte(head + i, bits));
      pg_mapcount[pfn_to_page(head + i)] += 1;
    }
  }
  if (!zero) {
    folio_add_entire_mapcount(head, -1);
    folio_get(head, HPAGE_PMD_NR - 1);
  }
  pt_set(pmd_ei, mk_table_entry(table));
  walk_cache_reset(); // the PMD no longer maps a leaf
  stats[THP_SPLIT_PMD] += 1.0;
}

// Mirrors split_huge_pmd_address(): a VMA boundary is about to fall inside
// the huge PMD covering vpn (vma_adjust_trans_huge()), so split it.
export function split_huge_pmd_address(pgd: i32, vpn: f64): void {
  const ei = pt_walk(pgd, vpn, 1, false);
  if (ei < 0 || walk_level != 1) return;
  const e = pte_at(ei);
  if (e != 0 && pmd_is_leaf(e) && (flags_at(pte_pfn(e)) & PG_hugetlb) == 0) split_huge_pmd(ei);
}

// Mirrors zap_huge_pmd(): drop the mapping and its deposited table.
export function zap_huge_pmd(pmd_ei: i32): void {
  const e = pte_at(pmd_ei);
  pt_free(withdraw(pmd_ei));
  pt_set(pmd_ei, 0);
  if (is_huge_zero_pmd(e)) return;
  const head = pte_pfn(e);
  folio_add_entire_mapcount(head, -1);
  folio_put_refs(head, 1);
}

// Mirrors copy_huge_pmd() for the sharing case: the child gets its own
// deposited table; an anon THP becomes non-exclusive and write-protected on
// both sides. Returns -1 when the child's table cannot be allocated.
export function copy_huge_pmd(src_ei: i32, dst_ei: i32, cow: bool): i32 {
  const table = pt_alloc();
  if (table < 0) return -1;
  let e = pte_at(src_ei);
  if (!is_huge_zero_pmd(e)) {
    const head = pte_pfn(e);
    folio_get(head, 1);
    folio_add_entire_mapcount(head, 1);
    folio_set_exclusive(head, false);
    if (cow) {
      e = e & ~(<u32>_PAGE_RW);
      pt_set(src_ei, e);
    }
  }
  deposit(dst_ei, table);
  pt_set(dst_ei, e & ~(<u32>_PAGE_ACCESSED));
  return 0;
}

