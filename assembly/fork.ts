// fork()'s page-table copy (mm/memory.c copy_page_range and friends).
// Anon pages are shared copy-on-write: both PTEs write-protected and
// PageAnonExclusive cleared. The exception is a page that may be pinned
// for DMA in an mm that has pinned (folio_needs_cow_for_dma()): the child
// gets its own copy at once and the parent keeps the pinned page, writable
// (copy_present_page()). Which pages are copied is the era's
// (forkCopyPinned). Returns 0, -ENOMEM with the child half-built (the
// façade then tears the child down, as the kernel does), or
// FORK_BUG_NO_ANON_VMA (the 5.9-5.18 oops).
import {
  PG_anon, PG_anon_exclusive, PG_hugetlb, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_ACCESSED,
  _PAGE_SPECIAL, ENOMEM, COW_COPIES, RULE_FORK_COPY_SHIFT, FORK_COPY_NONE, FORK_COPY_ANON, FORK_COPY_PTE_THP_HUGETLB,
  FORK_BUG_NO_ANON_VMA,
} from './constants';
import { pg_flags, pg_mapcount, pg_data, stats, pfn_to_page } from './mem';
import { alloc_pages } from './buddy';
import {
  page_folio, folio_get, folio_maybe_dma_pinned, folio_make_anon, folio_add_entire_mapcount,
  folio_set_exclusive, folio_order,
} from './folio';
import {
  mk_pte, pte_pfn, pt_walk, pt_set, level_span, range_step, step_level, step_next, step_count,
} from './pgtable';
import { split_huge_pmd, copy_huge_pmd, is_huge_zero_pmd } from './huge_memory';
import { hugetlb_copy } from './hugetlb';
import { alloc_gfp, vma_anon_vma, vma_is_cow, vma_is_shared, vma_rw_bit } from './vma';
import { flags_at, pte_at, mapcount_at, set_mapcount_at } from './raw';
import { rule_field } from './rules';

// The era's FORK_COPY_* for this fork, read once per copy_page_range():
// FORK_COPY_NONE when the mm never pinned (has_pinned / MMF_HAS_PINNED).
function fork_copy_mode(has_pinned: bool): i32 { return has_pinned ? rule_field(RULE_FORK_COPY_SHIFT) : FORK_COPY_NONE; }

// Must fork copy this maybe-pinned page now? Since 5.19
// (folio_needs_cow_for_dma()): an exclusive anon page only, every size.
// 5.9-5.18 (page_needs_cow_for_dma()): any page of a COW mapping, page
// cache included, hugetlb only from 5.12. Before 5.9: never (A4).
function needs_cow_for_dma(head: i32, page: i32, mode: i32, hugetlb: bool): bool {
  if (mode == FORK_COPY_NONE) return false;
  if (mode == FORK_COPY_ANON) {
    return (flags_at(head) & PG_anon) != 0 && (flags_at(page) & PG_anon_exclusive) != 0 && folio_maybe_dma_pinned(head);
  }
  if (hugetlb && mode != FORK_COPY_PTE_THP_HUGETLB) return false;
  return vma_is_cow() && folio_maybe_dma_pinned(head);
}

// The copy of a non-anon page becomes anon in the child VMA: without an
// anon_vma there, __page_set_anon_rmap() hits BUG_ON(!anon_vma) (5.9-5.18;
// 5.10.y and 5.15.y later skipped non-anon pages, fb3d824d1a46 in 5.19).
function no_anon_vma_for(head: i32): bool { return (flags_at(head) & PG_anon) == 0 && vma_anon_vma == 0; }

// copy_present_pte() / copy_present_page() for one PTE.
function copy_pte(src_ei: i32, dst_ei: i32, vpn: f64, mode: i32): i32 {
  let e = pte_at(src_ei);
  if ((e & _PAGE_SPECIAL) != 0) {
    pt_set(dst_ei, e & ~(<u32>_PAGE_ACCESSED));
    return 0;
  }
  const pfn = pte_pfn(e);
  const head = page_folio(pfn);
  if (needs_cow_for_dma(head, pfn, mode, false)) {
    if (no_anon_vma_for(head)) return FORK_BUG_NO_ANON_VMA;
    const fresh = alloc_pages(0, alloc_gfp);
    if (fresh < 0) return -ENOMEM;
    pg_data[pfn_to_page(fresh)] = pg_data[pfn_to_page(pfn)];
    folio_make_anon(fresh, vma_anon_vma, vpn, PG_anon_exclusive);
    pg_mapcount[pfn_to_page(fresh)] = 1;
    pt_set(dst_ei, mk_pte(fresh, _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | vma_rw_bit()));
    stats[COW_COPIES] += 1.0;
    return 0;
  }
  folio_get(head, 1);
  set_mapcount_at(pfn, mapcount_at(pfn) + 1);
  if ((flags_at(head) & PG_anon) != 0) pg_flags[pfn_to_page(pfn)] &= ~PG_anon_exclusive;
  if (vma_is_cow() && (e & _PAGE_RW) != 0) {
    e = e & ~(<u32>_PAGE_RW);
    pt_set(src_ei, e);
  }
  let child = e & ~(<u32>_PAGE_ACCESSED);
  if (vma_is_shared()) child = child & ~(<u32>_PAGE_DIRTY);
  pt_set(dst_ei, child);
  return 0;
}

// copy_hugetlb_page_range() for one leaf.
function copy_hugetlb_leaf(src_ei: i32, dst: i32, haddr: f64, level: i32, mode: i32): i32 {
  const dst_ei = pt_walk(dst, haddr, level, true);
  if (dst_ei == -2) return -ENOMEM;
  let e = pte_at(src_ei);
  const head = pte_pfn(e);
  if (needs_cow_for_dma(head, head, mode, true)) {
    if (no_anon_vma_for(head)) return FORK_BUG_NO_ANON_VMA;
    const fresh = hugetlb_copy(head, folio_order(head));
    if (fresh < 0) return -ENOMEM;
    folio_make_anon(fresh, vma_anon_vma, haddr, PG_anon_exclusive);
    folio_add_entire_mapcount(fresh, 1);
    pt_set(dst_ei, mk_pte(fresh, _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | vma_rw_bit()));
    return 0;
  }
  folio_get(head, 1);
  folio_add_entire_mapcount(head, 1);
  if ((flags_at(head) & PG_anon) != 0) folio_set_exclusive(head, false);
  if (vma_is_cow() && (e & _PAGE_RW) != 0) {
    e = e & ~(<u32>_PAGE_RW);
    pt_set(src_ei, e);
  }
  pt_set(dst_ei, e & ~(<u32>_PAGE_ACCESSED));
  return 0;
}

export function copy_page_range(src: i32, dst: i32, vpn: f64, nr: f64, has_pinned: bool): i32 {
  const mode = fork_copy_mode(has_pinned);
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(src, addr, end);
    if (ei >= 0 && step_level > 0) {
      const haddr = step_next - level_span(step_level);
      const e = pte_at(ei);
      const head = pte_pfn(e);
      let r = 0;
      if (!is_huge_zero_pmd(e) && (flags_at(head) & PG_hugetlb) != 0) {
        r = copy_hugetlb_leaf(ei, dst, haddr, step_level, mode);
      } else if (!is_huge_zero_pmd(e) && (flags_at(head) & PG_anon) != 0 && needs_cow_for_dma(head, head, mode, false)) {
        // (copy_huge_pmd() only runs for anon VMAs: a file THP is refaulted by the child)
        split_huge_pmd(ei); // then copied page by page, like copy_huge_pmd()'s -EAGAIN
        continue;
      } else {
        const dst_ei = pt_walk(dst, haddr, 1, true);
        r = dst_ei == -2 || copy_huge_pmd(ei, dst_ei, vma_is_cow()) < 0 ? -ENOMEM : 0;
      }
      if (r < 0) return r;
    } else if (ei >= 0) {
      const dst_ei = pt_walk(dst, addr, 0, true);
      if (dst_ei == -2) return -ENOMEM;
      for (let k = 0; k < step_count; k++) {
        if (pte_at(ei + k) == 0) continue;
        const r = copy_pte(ei + k, dst_ei + k, addr + <f64>k, mode);
        if (r < 0) return r;
      }
    }
    addr = step_next;
  }
  return 0;
}
