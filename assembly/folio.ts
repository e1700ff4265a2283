// Folios: refcounts, mapcounts, pin state and the hugetlb pool.
// Large folios keep two folio-wide fields in their first tail page, as the
// kernel does: page[1].mapping is _entire_mapcount (PMD/PUD mappings of the
// whole folio) and page[1].index is _pincount.
import {
  PG_head, PG_tail, PG_ORDER_MASK, PG_ORDER_SHIFT, PG_anon, PG_anon_exclusive, PG_hugetlb, PG_lru, PG_swapbacked, GUP_PIN_COUNTING_BIAS,
  ZONE_DEVICE, NR_ANON_PAGES, NR_ANON_THPS, HPAGE_PUD_ORDER, HUGETLB_FREE, HUGETLB_FREE_1G,
  GFP_ZERO, PG_reserved, PG_table, PG_bad, NR_BAD_PAGES, BAD_MAPCOUNT, BAD_MAPPING, BAD_FLAGS, BAD_REFCOUNT, BAD_REASON_BITS, BAD_LOG_SIZE,
} from './constants';
import {
  pg_flags, pg_refcount, pg_mapcount, pg_mapping, pg_index, pg_data, stats, hugetlb_pool,
  hugetlb_cap_2m, page_zonenum, bad_log, huge_zero_pfn, pfn_to_page, memmap_pages,
} from './mem';
import { pc_lookup } from './pagecache';
import { free_folio_pages, prep_new_folio } from './buddy';
import { flags_at, set_flags_at, head_at, mapping_at, mapcount_at, refcount_at, set_refcount_at } from './raw';
import { flags_have_pincount } from './rules';
import { folio_add_lru } from './lru';

// compound_head(): only a tail page names another frame as its head (a
// frame never allocated since boot has no head recorded at all).
export function page_folio(pfn: i32): i32 { return (flags_at(pfn) & PG_tail) != 0 ? head_at(pfn) : pfn; }

export function folio_order(head: i32): i32 {
  return (flags_at(head) & PG_head) != 0 ? (flags_at(head) & PG_ORDER_MASK) >>> PG_ORDER_SHIFT : 0;
}

export function folio_entire_mapcount(head: i32): i32 {
  return (flags_at(head) & PG_head) != 0 ? mapping_at(head + 1) : 0;
}

// Adds PMD/PUD mappings of the whole folio. NR_ANON_THPS counts anon THPs
// that are PMD-mapped at least once (AnonHugePages), as __folio_add_anon_rmap()
// and __folio_remove_rmap() keep it.
export function folio_add_entire_mapcount(head: i32, n: i32): void {
  const before = mapping_at(head + 1);
  pg_mapping[pfn_to_page(head + 1)] = before + n;
  if ((flags_at(head) & (PG_anon | PG_hugetlb)) == PG_anon && (before == 0) != (before + n == 0)) {
    stats[NR_ANON_THPS] += before == 0 ? 1.0 : -1.0;
  }
}

// folio_has_pincount(): any large folio on 64-bit today; by era, see rules.ts.
export function folio_has_pincount(head: i32): bool { return flags_have_pincount(flags_at(head)); }

// Mirrors folio_maybe_dma_pinned(): exact for large folios; for small ones
// the refcount read as unsigned against GUP_PIN_COUNTING_BIAS, so a
// negative (overflowed) refcount also reads as pinned.
export function folio_maybe_dma_pinned(head: i32): bool {
  if (folio_has_pincount(head)) return pg_index[pfn_to_page(head + 1)] > 0.0;
  const rc = refcount_at(head);
  return rc < 0 || rc >= GUP_PIN_COUNTING_BIAS;
}

export function folio_get(head: i32, refs: i32): void { set_refcount_at(head, refcount_at(head) + refs); }

// Mirrors folio_put_refs(): drop refs, free the folio when none are left.
// A batch that takes the count from positive past zero (more references
// put than the folio had: a page-cache folio's nr references dropped after
// someone put one that was not theirs) never reaches zero, and the kernel
// would leak the folio with a negative count, silently without
// CONFIG_DEBUG_VM. pinsim sends it to bad_page() instead ("nonzero
// _refcount", what free_page_is_bad() says of a page that reaches the
// free path with a count), so it is isolated and reported.
export function folio_put_refs(head: i32, refs: i32): void {
  const rc = refcount_at(head) - refs;
  set_refcount_at(head, rc);
  if (rc == 0) free_folio(head);
  else if (rc < 0 && rc + refs > 0 && (flags_at(head) & PG_bad) == 0) bad_page(head, BAD_REFCOUNT);
}

// __folio_put(): where a folio goes when its last reference is dropped.
function free_folio(head: i32): void {
  const order = folio_order(head);
  if (page_zonenum(head) == ZONE_DEVICE) {
    // An fsdax page going idle: it stays the file's block (free_zone_device_folio()).
    return;
  }
  if ((flags_at(head) & PG_bad) != 0) return; // already taken out of circulation
  const why = free_page_bad_reason(head, order);
  if (why != 0) {
    bad_page(head, why);
    return;
  }
  if ((flags_at(head) & PG_hugetlb) != 0) {
    free_huge_folio(head, order);
    return;
  }
  if ((flags_at(head) & PG_anon) != 0) {
    stats[NR_ANON_PAGES] -= <f64>(1 << order);
  }
  free_folio_pages(head, order);
}

// Mirrors free_page_is_bad() / page_bad_reason() for what a put can get
// wrong here: a folio still mapped (the huge zero folio always is; a
// page-table page, whose page type the kernel kept in the mapcount's
// word), one still in a page cache, or a reserved page (the zero page).
// 0 when it may be freed.
function free_page_bad_reason(head: i32, order: i32): i32 {
  const f = flags_at(head);
  if ((f & PG_reserved) != 0) return BAD_FLAGS;
  if ((f & PG_table) != 0 || folio_entire_mapcount(head) != 0) return BAD_MAPCOUNT;
  // The huge zero folio is mapped by special PMDs that keep no mapcount:
  // the kernel would free it while mapped. pinsim reports it as mapped.
  if (head == huge_zero_pfn) return BAD_MAPCOUNT;
  const nr = memmap_pages(head, 1 << order);
  for (let i = 0; i < nr; i++) if (mapcount_at(head + i) != 0) return BAD_MAPCOUNT;
  const mapping = mapping_at(head);
  if ((f & PG_anon) == 0 && mapping != 0 && pc_lookup(mapping, pg_index[pfn_to_page(head)]) == head) return BAD_MAPPING;
  return 0;
}

let bad_reports = 0;

// How many bad_page() reports there were; report i is in bad_log[i % BAD_LOG_SIZE].
export function bad_page_reports(): i32 { return bad_reports; }

// Mirrors bad_page(): report the folio (the façade prints "BUG: Bad page
// state" from bad_log) and leak it, fields left as they were for the
// report; its frames are counted in NR_BAD_PAGES. PG_bad keeps any later
// put from freeing it.
function bad_page(head: i32, why: i32): void {
  bad_log[bad_reports % BAD_LOG_SIZE] = (head << BAD_REASON_BITS) | why;
  bad_reports++;
  stats[NR_BAD_PAGES] += <f64>(1 << folio_order(head));
  set_flags_at(head, flags_at(head) | PG_bad);
  if ((flags_at(head) & (PG_anon | PG_hugetlb)) == PG_anon) stats[NR_ANON_PAGES] -= <f64>(1 << folio_order(head));
}

// A freshly allocated folio becomes anonymous (folio_add_new_anon_rmap()):
// owned by anon_vma `av` at virtual page `vpn`, exclusive to its mapper.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function folio_make_anon(head: i32, av: i32, vpn: f64, exclusive_flag: i32): void {
  const order = folio_order(head);
  const nr = 1 << order;
  // hugetlb folios never join the LRU batch (pinsim marks them PG_lru as before).
  const lru = (flags_at(head) & PG_hugetlb) != 0 ? PG_lru : folio_add_lru(head, order);
  pg_flags[pfn_to_page(head)] |= PG_anon | PG_swapbacked | lru;
  pg_mapping[pfn_to_page(head)] = av;
  pg_index[pfn_to_page(head)] = vpn;
  const pages = memmap_pages(head, nr);
  for (let i = 0; i < pages; i++) pg_flags[pfn_to_page(head + i)] |= exclusive_flag;
  if ((flags_at(head) & PG_hugetlb) == 0) {
    stats[NR_ANON_PAGES] += <f64>nr;
  }
}

// ---- hugetlb pool (mm/hugetlb.c): free folios wait with refcount 0 ----

function pool_base(order: i32): i32 { return order == HPAGE_PUD_ORDER ? hugetlb_cap_2m : 0; }
function pool_stat(order: i32): i32 { return order == HPAGE_PUD_ORDER ? HUGETLB_FREE_1G : HUGETLB_FREE; }

export function enqueue_hugetlb_folio(head: i32, order: i32): void {
  const s = pool_stat(order);
  const n = <i32>stats[s];
  hugetlb_pool[pool_base(order) + n] = head;
  stats[s] = <f64>(n + 1);
}

// Boot-time: turn 2^order frames into a free hugetlb folio of the pool.
export function prep_hugetlb_folio(pfn: i32, order: i32): void {
  prep_new_folio(pfn, order, true);
  pg_flags[pfn_to_page(pfn)] |= PG_hugetlb;
  pg_refcount[pfn_to_page(pfn)] = 0;
  enqueue_hugetlb_folio(pfn, order);
}

// Mirrors alloc_hugetlb_folio() without reservations: -1 when the pool is empty.
export function alloc_hugetlb_folio(order: i32, gfp: i32): i32 {
  const s = pool_stat(order);
  const n = <i32>stats[s];
  if (n == 0) return -1;
  const head = hugetlb_pool[pool_base(order) + n - 1];
  stats[s] = <f64>(n - 1);
  const nr = memmap_pages(head, 1 << order); // a sparse folio's shared tails share one data word
  pg_refcount[pfn_to_page(head)] = 1;
  if ((gfp & GFP_ZERO) != 0) for (let i = 0; i < nr; i++) pg_data[pfn_to_page(head + i)] = 0;
  return head;
}

function free_huge_folio(head: i32, order: i32): void {
  const nr = memmap_pages(head, 1 << order);
  pg_flags[pfn_to_page(head)] = PG_head | PG_hugetlb | (order << PG_ORDER_SHIFT);
  for (let i = 0; i < nr; i++) pg_mapcount[pfn_to_page(head + i)] = 0;
  for (let i = 1; i < nr; i++) pg_flags[pfn_to_page(head + i)] = PG_tail;
  pg_mapping[pfn_to_page(head)] = 0;
  pg_index[pfn_to_page(head)] = 0.0;
  pg_mapping[pfn_to_page(head + 1)] = 0;
  pg_index[pfn_to_page(head + 1)] = 0.0;
  enqueue_hugetlb_folio(head, order);
}

// Sets or clears PageAnonExclusive on every page of the folio.
export function folio_set_exclusive(head: i32, exclusive: bool): void {
  const nr = memmap_pages(head, 1 << folio_order(head));
  if (exclusive) for (let i = 0; i < nr; i++) pg_flags[pfn_to_page(head + i)] |= PG_anon_exclusive;
  else for (let i = 0; i < nr; i++) pg_flags[pfn_to_page(head + i)] &= ~PG_anon_exclusive;
}
