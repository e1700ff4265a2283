// May a write (or unshare) fault reuse an anon page in place rather than
// copy it? The predicate of each kernel era, as kernel_rules selects it
// (the cowReuse, thpCowReuse and hugetlbCowReuse keys of src/eras/).
// PG_anon_exclusive is state in every era (set on a reuse, cleared by
// fork); only the 5.19+ rules read it.
import {
  PG_anon, PG_anon_exclusive, PG_bad, REUSE_MAPCOUNT, REUSE_REFCOUNT, RULE_COW_REUSE_SHIFT, RULE_THP_COW_REUSE_SHIFT,
  RULE_HUGETLB_REUSE_EXCLUSIVE, RULE_WP_DRAINS_LOCAL_LRU, PG_lru, REUSE_EXCLUSIVE,
} from './constants';
import { kernel_rules, rule_field } from './rules';
import { folio_order, folio_entire_mapcount } from './folio';
import { flags_at, refcount_at, mapcount_at } from './raw';
import { lru_add_drain } from './lru';
import { memmap_pages } from './mem';

// Before 5.9, reuse_swap_page() (no swap here): page_trans_huge_mapcount(),
// the highest mapcount of any page of the folio plus its PMD mappings, is
// at most 1. References that are not mappings (GUP, pipe buffers) do not
// count: the vmsplice leak. For a PTE-mapped THP the fault reuses its page
// only if no page of the folio is mapped twice (our reading of the helper,
// which takes the maximum over the subpages).
function mapped_once(head: i32, pfn: i32): bool {
  const order = folio_order(head);
  if (order == 0) return mapcount_at(pfn) <= 1;
  const nr = memmap_pages(head, 1 << order);
  let most = 0;
  for (let i = 0; i < nr; i++) if (mapcount_at(head + i) > most) most = mapcount_at(head + i);
  return most + folio_entire_mapcount(head) <= 1;
}

// do_wp_page() on a PTE-mapped anon page pfn of folio head.
// 5.9-5.18 (09854ba94c6a): a small folio whose only reference is this
// mapping; any other reference (GUP, pin, pipe buffer, an LRU batch) forces
// a copy, and a PTE-mapped large folio, holding one reference per mapped
// page, is always copied. A frame bad_page() leaked (PG_bad) is copied too:
// its refcount no longer counts its mappings. 5.19+ (wp_can_reuse_anon_folio()):
// PageAnonExclusive whatever the refcount, else the same.
export function wp_can_reuse_anon(head: i32, pfn: i32): bool {
  const rule = rule_field(RULE_COW_REUSE_SHIFT);
  if (rule == REUSE_MAPCOUNT) return mapped_once(head, pfn);
  if (rule == REUSE_EXCLUSIVE && (flags_at(pfn) & PG_anon_exclusive) != 0) return true;
  if (folio_order(head) != 0 || (flags_at(head) & PG_bad) != 0) return false;
  drain_local_lru(head);
  return refcount_at(head) == 1;
}

// Since 5.18 (d4c470970d45) a page off the LRU whose few references may
// include this CPU's LRU batch has the batch drained before they are
// counted (the only CPU here, so a batch reference never forces a copy).
function drain_local_lru(head: i32): void {
  if ((kernel_rules & RULE_WP_DRAINS_LOCAL_LRU) != 0 && (flags_at(head) & PG_lru) == 0 && refcount_at(head) <= 3) lru_add_drain();
}

// do_huge_pmd_wp_page() on a PMD-mapped anon THP: before 5.18 mapped once
// in total (one PMD, no PTE maps its pages); 5.18 (3bff7e3f1f16) the PMD's
// reference is the only one; 5.19+ exclusive, or that.
export function huge_pmd_can_reuse(head: i32): bool {
  const rule = rule_field(RULE_THP_COW_REUSE_SHIFT);
  if (rule == REUSE_MAPCOUNT) return mapped_once(head, head);
  if (rule == REUSE_REFCOUNT) return refcount_at(head) == 1;
  return (flags_at(head) & PG_anon_exclusive) != 0 || refcount_at(head) == 1;
}

// hugetlb_wp(): an anon folio mapped once, whatever else holds it (so the
// hugetlb vmsplice leak was never fixed); 5.19+ also an exclusive one.
export function hugetlb_can_reuse(head: i32): bool {
  const f = flags_at(head);
  if ((kernel_rules & RULE_HUGETLB_REUSE_EXCLUSIVE) != 0 && (f & PG_anon_exclusive) != 0) return true;
  return (f & PG_anon) != 0 && folio_entire_mapcount(head) == 1;
}
