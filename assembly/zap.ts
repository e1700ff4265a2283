// Unmapping (mm/memory.c zap_page_range / unmap_page_range) and freeing
// page tables (free_pgtables / free_pgd_range).
import { PG_anon, PG_hugetlb, _PAGE_SPECIAL, _PAGE_DIRTY, VM_LOCKED } from './constants';
import { vma_flags } from './vma';
import { mlock_range } from './mlock';
import { page_folio, folio_put_refs, folio_add_entire_mapcount } from './folio';
import {
  pte_pfn, pte_is_table, pt_set, pt_free, level_span, table_base, vpn_index, range_step, step_level, step_next,
  step_count, step_covers_leaf,
} from './pgtable';
import { split_huge_pmd, zap_huge_pmd } from './huge_memory';
import { folio_mark_dirty } from './pagecache';
import { flags_at, pte_at, mapcount_at, set_mapcount_at } from './raw';

// zap_pte_range() for one entry: the mapping's reference and mapcount go;
// a dirty PTE of a file page dirties its folio first.
function zap_pte(ei: i32): void {
  const e = pte_at(ei);
  if ((e & _PAGE_SPECIAL) == 0) {
    const pfn = pte_pfn(e);
    const head = page_folio(pfn);
    if ((flags_at(head) & PG_anon) == 0 && (e & _PAGE_DIRTY) != 0) folio_mark_dirty(head);
    set_mapcount_at(pfn, mapcount_at(pfn) - 1);
    folio_put_refs(head, 1);
  }
  pt_set(ei, 0);
}

// Unmaps [vpn, vpn + nr). A huge PMD only partly inside is split first
// (hugetlb leaves are always wholly inside: the façade aligns hugetlb VMAs).
export function zap_range(pgd: i32, vpn: f64, nr: f64): void {
  if ((vma_flags & VM_LOCKED) != 0) mlock_range(pgd, vpn, nr, false); // munlock_vma_folio()
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(pgd, addr, end);
    if (ei >= 0 && step_level > 0) {
      const head = pte_pfn(pte_at(ei));
      if ((flags_at(head) & PG_hugetlb) != 0) {
        folio_add_entire_mapcount(head, -1);
        folio_put_refs(head, 1);
        pt_set(ei, 0);
      } else if (step_covers_leaf(addr, end)) {
        zap_huge_pmd(ei);
      } else {
        split_huge_pmd(ei);
        continue;
      }
    } else if (ei >= 0) {
      for (let k = 0; k < step_count; k++) if (pte_at(ei + k) != 0) zap_pte(ei + k);
    }
    addr = step_next;
  }
}

function free_subtree(table: i32, level: i32): void {
  if (level > 0) {
    const base = table_base(table);
    for (let i = 0; i < 512; i++) {
      const e = pte_at(base + i);
      if (e != 0 && pte_is_table(e)) {
        free_subtree(pte_pfn(e), level - 1);
        pt_set(base + i, 0);
      }
    }
  }
  pt_free(table);
}

// Frees the tables below `table` (at `level`, covering vpns from
// table_vpn) that lie wholly inside [floor, ceil): no VMA can use them.
function free_level(table: i32, level: i32, table_vpn: f64, floor: f64, ceil: f64): void {
  const span = level_span(level);
  const base = table_base(table);
  const first = floor > table_vpn ? vpn_index(floor, level) : 0;
  const last_vpn = ceil - 1.0 < table_vpn + span * 512.0 - 1.0 ? ceil - 1.0 : table_vpn + span * 512.0 - 1.0;
  const last = vpn_index(last_vpn, level);
  for (let i = first; i <= last; i++) {
    const e = pte_at(base + i);
    if (e == 0 || !pte_is_table(e) || level == 0) continue;
    const b = table_vpn + <f64>i * span;
    if (b >= floor && b + span <= ceil) {
      free_subtree(pte_pfn(e), level - 1);
      pt_set(base + i, 0);
    } else {
      free_level(pte_pfn(e), level - 1, b, floor, ceil);
    }
  }
}

// Mirrors free_pgd_range(): the gap [floor, ceil) between two VMAs.
export function free_pgtables(pgd: i32, floor: f64, ceil: f64): void {
  if (ceil > floor) free_level(pgd, 3, 0.0, floor, ceil);
}

// The last of an mm: every table, then the PGD itself (VMAs zapped first).
export function mm_free(pgd: i32): void {
  free_level(pgd, 3, 0.0, 0.0, level_span(4));
  pt_free(pgd);
}
