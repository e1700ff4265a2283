// Contiguous ranges of frames taken out of the buddy allocator: the per-page
// half of alloc_contig_range() (mm/page_alloc.c, under cma_alloc()) and of
// offline_pages() (mm/memory_hotplug.c). The façade (src/mm/contig.ts) has
// the folios in the range migrated with the shared migration code
// (assembly/migrate.ts) between contig_collect() and contig_take().
import {
  PG_buddy, PG_lru, PG_isolated, PG_head, PG_reserved, PG_ORDER_MASK, PG_ORDER_SHIFT, NR_PAGE_ORDERS, NR_ISOLATED,
  MIGRATE_BATCH, PAGEBLOCK_ORDER, MIGRATE_ISOLATE, MIGRATE_MOVABLE, CONTIG_CMA, NR_OFFLINE_PAGES,
} from './constants';
import { pb_migratetype, scratch, stats } from './mem';
import { take_free_block, free_range } from './buddy';
import { page_folio, folio_order } from './folio';
import {
  flags_at, set_flags_at, refcount_at, set_refcount_at, set_mapcount_at, set_mapping_at, set_index_at, set_head_at,
} from './raw';

let next_pfn = 0;

// Where the last contig_collect() stopped (the end of the range when done).
export function contig_next(): i32 { return next_pfn; }

// The first frame of the free buddy block holding pfn, or -1 (pfn is in use).
function buddy_block(pfn: i32): i32 {
  for (let o = 0; o < NR_PAGE_ORDERS; o++) {
    const b = pfn & ~((1 << o) - 1);
    const f = flags_at(b);
    if ((f & PG_buddy) != 0) return ((f & PG_ORDER_MASK) >>> PG_ORDER_SHIFT) >= o ? b : -1;
  }
  return -1;
}

// Frames from pfn to the end of its free block or folio, at least 1.
function span(pfn: i32): i32 {
  const b = buddy_block(pfn);
  if (b >= 0) return b + (1 << ((flags_at(b) & PG_ORDER_MASK) >>> PG_ORDER_SHIFT)) - pfn;
  const head = page_folio(pfn);
  if ((flags_at(head) & PG_head) == 0) return 1;
  return head + (1 << folio_order(head)) - pfn;
}

// isolate_migratepages_range() for [from, end): the distinct folios on the
// LRU with a page there, taken off it (PG_isolated) and listed in scratch,
// at most a batch; contig_next() tells where to go on. Free blocks and
// pages that are not on the LRU are passed over (contig_first_busy()
// finds them afterwards).
export function contig_collect(from: i32, end: i32): i32 {
  let count = 0;
  let pfn = from;
  while (pfn < end && count < MIGRATE_BATCH) {
    const head = page_folio(pfn);
    const f = flags_at(head);
    if ((flags_at(pfn) & PG_buddy) == 0 && (f & PG_lru) != 0 && (f & PG_isolated) == 0) {
      set_flags_at(head, (f | PG_isolated) & ~PG_lru);
      stats[NR_ISOLATED] += 1.0;
      scratch[count++] = <u32>head;
    }
    pfn += span(pfn);
  }
  next_pfn = pfn < end ? pfn : end;
  return count;
}

// test_pages_isolated(): the first frame of [start, end) that is not free,
// or -1 when the whole range sits in free blocks.
export function contig_first_busy(start: i32, end: i32): i32 {
  let pfn = start;
  while (pfn < end) {
    if (buddy_block(pfn) < 0) return pfn;
    pfn += span(pfn);
  }
  return -1;
}

// has_unmovable_pages(): the first frame of [start, end) that is neither
// free nor part of an LRU folio (a page table, a hugetlb or reserved page,
// a CMA allocation, an offlined frame), or -1.
export function contig_first_unmovable(start: i32, end: i32): i32 {
  let pfn = start;
  while (pfn < end) {
    if (buddy_block(pfn) < 0 && (flags_at(page_folio(pfn)) & (PG_lru | PG_isolated)) == 0) return pfn;
    pfn += span(pfn);
  }
  return -1;
}

// Takes the free range [start, end) (contig_first_busy() == -1) out of the
// buddy allocator: the parts of its first and last free blocks outside it
// go back. CONTIG_CMA hands the frames out as alloc_contig_range() does
// (refcount 1 each, no folio, not on the LRU); CONTIG_OFFLINE marks them
// offline (__offline_isolated_pages(): reserved, MIGRATE_ISOLATE).
export function contig_take(start: i32, end: i32, how: i32): void {
  let pfn = start;
  while (pfn < end) {
    const b = buddy_block(pfn);
    const bend = b + (1 << take_free_block(b));
    if (b < start) free_range(b, start);
    if (bend > end) free_range(end, bend);
    pfn = bend;
  }
  for (let p = start; p < end; p++) {
    set_flags_at(p, how == CONTIG_CMA ? 0 : PG_reserved);
    set_refcount_at(p, how == CONTIG_CMA ? 1 : 0);
    set_mapcount_at(p, 0);
    set_mapping_at(p, 0);
    set_index_at(p, 0.0);
    set_head_at(p, p);
  }
  if (how != CONTIG_CMA) {
    set_blocks(start, end, MIGRATE_ISOLATE);
    stats[NR_OFFLINE_PAGES] += <f64>(end - start);
  }
}

// The reverse of contig_take(). CONTIG_CMA mirrors free_contig_range():
// one reference dropped per page, a page freed when that was the last;
// returns how many pages held another count (the caller WARNs). CONTIG_OFFLINE
// is online_pages(): the frames join the allocator again.
export function contig_give(start: i32, end: i32, how: i32): i32 {
  let in_use = 0;
  if (how != CONTIG_CMA) {
    set_blocks(start, end, MIGRATE_MOVABLE);
    stats[NR_OFFLINE_PAGES] -= <f64>(end - start);
    for (let p = start; p < end; p++) set_flags_at(p, 0);
    free_range(start, end);
    return 0;
  }
  for (let p = start; p < end; p++) {
    const r = refcount_at(p);
    if (r != 1) in_use++;
    if (r <= 0) continue;
    set_refcount_at(p, r - 1);
    if (r == 1) free_range(p, p + 1);
  }
  return in_use;
}

function set_blocks(start: i32, end: i32, mt: i32): void {
  for (let b = start >>> PAGEBLOCK_ORDER; b < (end >>> PAGEBLOCK_ORDER); b++) pb_migratetype[b] = <u8>mt;
}
