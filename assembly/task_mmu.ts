// The per-mm numbers of /proc/<pid>/status (fs/proc/task_mmu.c task_mem()):
// pinsim keeps no rss counters, so they come from a walk of the mm's tables.
import { PG_anon, PG_swapbacked, PG_hugetlb, _PAGE_SPECIAL } from './constants';
import { scratch } from './mem';
import { pte_pfn, pte_is_table, table_base, level_span } from './pgtable';
import { page_folio } from './folio';
import { flags_at, pte_at } from './raw';

const RSS_ANON = 0;
const RSS_FILE = 1;
const RSS_SHMEM = 2;
const RSS_HUGETLB = 3;
const RSS_TABLES = 4;

function walk(table: i32, level: i32): void {
  const base = table_base(table);
  for (let i = 0; i < 512; i++) {
    const e = pte_at(base + i);
    if (e == 0) continue;
    if (level > 0 && pte_is_table(e)) {
      scratch[RSS_TABLES] += 1;
      walk(pte_pfn(e), level - 1);
      continue;
    }
    const pages = <u32>level_span(level);
    const f = (e & _PAGE_SPECIAL) != 0 ? 0 : flags_at(page_folio(pte_pfn(e)));
    if ((f & PG_hugetlb) != 0) {
      scratch[RSS_HUGETLB] += pages;
      continue;
    }
    if (level > 0) scratch[RSS_TABLES] += 1; // the PTE table deposited beside a huge PMD
    if ((e & _PAGE_SPECIAL) != 0) continue; // the zero pages are in no rss counter
    if ((f & PG_anon) != 0) scratch[RSS_ANON] += pages;
    else if ((f & PG_swapbacked) != 0) scratch[RSS_SHMEM] += pages;
    else scratch[RSS_FILE] += pages;
  }
}

// Pages mapped by pgd: scratch[0..4] = anon, file, shmem (MM_*PAGES),
// hugetlb, and page-table pages below the PGD (mm_pgtables_bytes()).
export function mm_rss(pgd: i32): void {
  for (let i = 0; i <= RSS_TABLES; i++) scratch[i] = 0;
  walk(pgd, 3);
}
