// The buddy allocator (mm/page_alloc.c): free blocks of 2^order frames,
// order 0..MAX_PAGE_ORDER, on one free list per zone, per CMA-or-not, per order.
// A free block's first frame has PG_buddy and its order; the lists are linked
// through pg_mapping (next) and pg_index (prev), as the kernel links buddy
// pages through page->buddy_list.
import {
  NR_PAGE_ORDERS, MAX_PAGE_ORDER, PG_buddy, PG_ORDER_SHIFT, PG_ORDER_MASK, ZONE_NORMAL, ZONE_MOVABLE,
  PG_head, PG_tail, GFP_HIGHUSER_MOVABLE, GFP_ZERO, NR_FREE_PAGES, NR_FREE_CMA_PAGES, NR_FREE_MOVABLE,
} from './constants';
import {
  pg_data, free_area, zone_free, stats,
  page_zonenum, is_migrate_cma_page, movable_start, device_start, pfn_to_page, memmap_pages,
} from './mem';
import {
  flags_at, set_flags_at, set_refcount_at, set_mapcount_at, mapping_at, set_mapping_at, index_at, set_index_at,
  set_head_at,
} from './raw';

function area(zone: i32, cma: i32, order: i32): i32 {
  return (zone * 2 + cma) * NR_PAGE_ORDERS + order;
}

function account_free(zone: i32, cma: i32, nr: i32): void {
  zone_free[zone] += nr;
  stats[NR_FREE_PAGES] += <f64>nr;
  if (cma != 0) stats[NR_FREE_CMA_PAGES] += <f64>nr;
  if (zone == ZONE_MOVABLE) stats[NR_FREE_MOVABLE] += <f64>nr;
}

function add_to_free_list(pfn: i32, zone: i32, cma: i32, order: i32): void {
  const a = area(zone, cma, order);
  const first = free_area[a];
  set_flags_at(pfn, PG_buddy | (order << PG_ORDER_SHIFT));
  set_mapping_at(pfn, first);
  set_index_at(pfn, -1.0);
  if (first >= 0) set_index_at(first, <f64>pfn);
  free_area[a] = pfn;
}

// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function del_from_free_list(pfn: i32, zone: i32, cma: i32, order: i32): void {
  const next = mapping_at(pfn);
  const prev = <i32>index_at(pfn);
  if (prev >= 0) set_mapping_at(prev, next);
  else free_area[area(zone, cma, order)] = next;
  if (next >= 0) set_index_at(next, <f64>prev);
  set_flags_at(pfn, 0);
  set_mapping_at(pfn, 0);
  set_index_at(pfn, 0.0);
}

function buddy_order(pfn: i32): i32 {
  return (flags_at(pfn) & PG_ORDER_MASK) >>> PG_ORDER_SHIFT;
}

// Mirrors __free_one_page(): merge with free buddies of the same zone and
// migratetype class while possible, then put the block on its free list.
export function free_pages(pfn: i32, order: i32): void {
  const zone = page_zonenum(pfn);
  const cma = is_migrate_cma_page(pfn) ? 1 : 0;
  account_free(zone, cma, 1 << order);
  while (order < MAX_PAGE_ORDER) {
    const buddy = pfn ^ (1 << order);
    if (buddy < 0 || buddy >= device_start) break;
    if ((flags_at(buddy) & PG_buddy) == 0 || buddy_order(buddy) != order) break;
    if (page_zonenum(buddy) != zone || (is_migrate_cma_page(buddy) ? 1 : 0) != cma) break;
    del_from_free_list(buddy, zone, cma, order);
    pfn = pfn & buddy;
    order++;
  }
  add_to_free_list(pfn, zone, cma, order);
}

// Takes the free block whose first frame is pfn off its free list, as
// __isolate_free_page() does; returns its order.
export function take_free_block(pfn: i32): i32 {
  const zone = page_zonenum(pfn);
  const cma = is_migrate_cma_page(pfn) ? 1 : 0;
  const order = buddy_order(pfn);
  del_from_free_list(pfn, zone, cma, order);
  account_free(zone, cma, -(1 << order));
  return order;
}

// Hands [start, end) to the allocator in the largest aligned blocks, as
// memblock_free_all() does at boot.
export function free_range(start: i32, end: i32): void {
  while (start < end) {
    let order = 0;
    while (order < MAX_PAGE_ORDER && (start & ((2 << order) - 1)) == 0 && start + (2 << order) <= end) order++;
    free_pages(start, order);
    start += 1 << order;
  }
}

// Mirrors __rmqueue_smallest() + expand(): take the smallest free block of
// at least `order` and return the halves above `order` to the free lists.
function rmqueue_smallest(zone: i32, cma: i32, order: i32): i32 {
  for (let o = order; o < NR_PAGE_ORDERS; o++) {
    const pfn = free_area[area(zone, cma, o)];
    if (pfn < 0) continue;
    del_from_free_list(pfn, zone, cma, o);
    let size = 1 << o;
    let cur = o;
    while (cur > order) {
      cur--;
      size = size >>> 1;
      add_to_free_list(pfn + size, zone, cma, cur);
    }
    const nr = 1 << order;
    zone_free[zone] -= nr;
    stats[NR_FREE_PAGES] -= <f64>nr;
    if (cma != 0) stats[NR_FREE_CMA_PAGES] -= <f64>nr;
    if (zone == ZONE_MOVABLE) stats[NR_FREE_MOVABLE] -= <f64>nr;
    return pfn;
  }
  return -1;
}

// Movable allocations in ZONE_NORMAL use CMA first when CMA holds more than
// half of the zone's free memory, else regular blocks with CMA as the
// fallback (__rmqueue() with ALLOC_CMA).
function rmqueue_normal(order: i32, allow_cma: bool): i32 {
  if (!allow_cma) return rmqueue_smallest(ZONE_NORMAL, 0, order);
  const cma_free = <i32>stats[NR_FREE_CMA_PAGES];
  if (cma_free > (zone_free[ZONE_NORMAL] >>> 1)) {
    const pfn = rmqueue_smallest(ZONE_NORMAL, 1, order);
    if (pfn >= 0) return pfn;
  }
  const pfn = rmqueue_smallest(ZONE_NORMAL, 0, order);
  if (pfn >= 0) return pfn;
  return rmqueue_smallest(ZONE_NORMAL, 1, order);
}

// Returns the first pfn of 2^order free frames, or -1 (no memory). The
// frames come back as a fresh folio: refcount 1, head/tail set up.
// gfp: GFP_KERNEL, GFP_HIGHUSER_MOVABLE or GFP_HIGHUSER_PIN, | GFP_ZERO.
export function alloc_pages(order: i32, gfp: i32): i32 {
  const kind = gfp & 15;
  let pfn = -1;
  if (kind == GFP_HIGHUSER_MOVABLE && movable_start < device_start) pfn = rmqueue_smallest(ZONE_MOVABLE, 0, order);
  if (pfn < 0) pfn = rmqueue_normal(order, kind == GFP_HIGHUSER_MOVABLE);
  if (pfn < 0) return -1;
  prep_new_folio(pfn, order, (gfp & GFP_ZERO) != 0);
  return pfn;
}

// Mirrors prep_new_page() + prep_compound_page().
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function prep_new_folio(pfn: i32, order: i32, zero: bool): void {
  const nr = memmap_pages(pfn, 1 << order);
  for (let i = 0; i < nr; i++) {
    const p = pfn + i;
    set_flags_at(p, i == 0 ? 0 : PG_tail);
    set_refcount_at(p, 0);
    set_mapcount_at(p, 0);
    set_mapping_at(p, 0);
    set_index_at(p, 0.0);
    set_head_at(p, pfn);
    if (zero) pg_data[pfn_to_page(p)] = 0;
  }
  set_refcount_at(pfn, 1);
  if (order > 0) set_flags_at(pfn, PG_head | (order << PG_ORDER_SHIFT));
}

// Releases a folio whose refcount reached zero to the buddy allocator.
export function free_folio_pages(pfn: i32, order: i32): void {
  const nr = 1 << order;
  for (let i = 0; i < nr; i++) {
    const p = pfn + i;
    set_flags_at(p, 0);
    set_mapcount_at(p, 0);
    set_mapping_at(p, 0);
    set_index_at(p, 0.0);
    set_head_at(p, p);
  }
  free_pages(pfn, order);
}
