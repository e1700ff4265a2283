// The page cache: folios keyed by (mapping, index). The kernel keeps one
// xarray per address_space; pinsim keeps one open-addressing hash for all
// of them (linear probing, backward-shift deletion), storing pfn + 1 and
// reading the key back from the folio's own mapping/index fields. Indexes
// are f64 (pgoff_t): a file may be larger than 2^31 pages.
import {
  PG_uptodate, PG_lru, PG_swapbacked, PG_dirty, PG_private, BACKING_SHMEM, BACKING_FILE, BACKING_HUGETLBFS,
  NR_FILE_PAGES, NR_SHMEM, NR_DIRTIED, NR_WRITTEN, WB_NO_MKWRITE, WB_BATCH, GFP_ZERO,
  WB_NOBUF_DROP, WB_NOBUF_STOP, WB_WRITTEN, RULE_RECLAIM_KEEPS_PINNED_PRIVATE,
} from './constants';
import { pg_flags, pg_mapping, pg_index, pg_data, pcache, pcache_mask, scratch, stats, pfn_to_page } from './mem';
import { alloc_pages } from './buddy';
import { folio_get, folio_order, folio_put_refs, alloc_hugetlb_folio, folio_maybe_dma_pinned } from './folio';
import { kernel_rules } from './rules';
import { alloc_gfp } from './vma';
import { flags_at, mapping_at } from './raw';
import { folio_add_lru } from './lru';

function pc_hash(mapping: i32, index: f64): i32 {
  const hi = Math.floor(index / 16777216.0); // < 2^29: index < 2^53
  let h = <i32>(index - hi * 16777216.0) ^ (<i32>hi << 24) ^ (<i32>hi >>> 8) ^ (mapping << 20) ^ (mapping >>> 12);
  h = h ^ (h >>> 16);
  h = h ^ (h << 7);
  h = h ^ (h >>> 11);
  return h & pcache_mask;
}

// filemap_get_folio(): the pfn caching (mapping, index), or -1.
export function pc_lookup(mapping: i32, index: f64): i32 {
  let i = pc_hash(mapping, index);
  let v = pcache[i];
  while (v != 0) {
    const pfn = v - 1;
    if (mapping_at(pfn) == mapping && pg_index[pfn_to_page(pfn)] == index) return pfn;
    i = (i + 1) & pcache_mask;
    v = pcache[i];
  }
  return -1;
}

function pc_insert(pfn: i32): void {
  let i = pc_hash(mapping_at(pfn), pg_index[pfn_to_page(pfn)]);
  while (pcache[i] != 0) i = (i + 1) & pcache_mask;
  pcache[i] = pfn + 1;
}

// Removes pfn from the hash, shifting later members of its probe run back.
export function pc_delete(pfn: i32): void {
  let i = pc_hash(mapping_at(pfn), pg_index[pfn_to_page(pfn)]);
  while (pcache[i] != pfn + 1) i = (i + 1) & pcache_mask;
  let j = i;
  for (;;) {
    j = (j + 1) & pcache_mask;
    const v = pcache[j];
    if (v == 0) break;
    const home = pc_hash(mapping_at(v - 1), pg_index[pfn_to_page(v - 1)]);
    // Move v into the hole at i unless its home lies cyclically in (i, j].
    const in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!in_between) {
      pcache[i] = v;
      i = j;
    }
  }
  pcache[i] = 0;
}

// The cache entry of old_head now names new_head (same mapping and index):
// the xas_store() of folio migration.
export function pc_replace(old_head: i32, new_head: i32): void {
  pc_delete(old_head);
  pc_insert(new_head);
}

// Mirrors filemap_add_folio(): the cache holds one reference per page.
export function pc_add_folio(head: i32, mapping: i32, index: f64, backing: i32): void {
  const nr = 1 << folio_order(head);
  pg_mapping[pfn_to_page(head)] = mapping;
  pg_index[pfn_to_page(head)] = index;
  pg_flags[pfn_to_page(head)] |= PG_uptodate | (backing == BACKING_HUGETLBFS ? PG_lru : folio_add_lru(head, folio_order(head)))
    | (backing == BACKING_FILE ? 0 : PG_swapbacked);
  folio_get(head, nr);
  pc_insert(head);
  stats[NR_FILE_PAGES] += <f64>nr;
  if (backing == BACKING_SHMEM) stats[NR_SHMEM] += <f64>nr;
}

// Mirrors filemap_remove_folio() + the cache's folio_put_refs(): the folio
// leaves its file (folio->mapping = NULL), even if a pin keeps it alive.
export function pc_remove_folio(head: i32, backing: i32): void {
  const nr = 1 << folio_order(head);
  pc_delete(head);
  pg_mapping[pfn_to_page(head)] = 0;
  pg_flags[pfn_to_page(head)] &= ~(PG_dirty | PG_private); // folio_cancel_dirty(): the data is discarded
  stats[NR_FILE_PAGES] -= <f64>nr;
  if (backing == BACKING_SHMEM) stats[NR_SHMEM] -= <f64>nr;
  folio_put_refs(head, nr);
}

// Is a range of `span` indexes wider than the hash? Then walking the hash's
// slots costs less than looking every index up, and follows the folios that
// exist rather than the file's size.
function walk_slots(span: f64): bool { return span > <f64>(pcache_mask + 1); }

// The folio in hash slot `slot` if it caches (mapping, [index, end)), else -1.
function slot_folio(slot: i32, mapping: i32, index: f64, end: f64): i32 {
  const pfn = pcache[slot] - 1;
  if (pfn < 0 || mapping_at(pfn) != mapping || pg_index[pfn_to_page(pfn)] < index || pg_index[pfn_to_page(pfn)] >= end) return -1;
  return pfn;
}

// truncate_inode_pages_range(): drops the cached folios of [index, end).
// Mappings of them must already be zapped; pinned folios live on, orphaned.
export function pc_truncate(mapping: i32, index: f64, end: f64, backing: i32): void {
  if (!walk_slots(end - index)) {
    for (let i = index; i < end; i += 1.0) {
      const pfn = pc_lookup(mapping, i);
      if (pfn >= 0) pc_remove_folio(pfn, backing);
    }
    return;
  }
  // Deletion shifts later members of a probe run back into the freed slot,
  // never into one already passed: look at the same slot again.
  let slot = 0;
  while (slot <= pcache_mask) {
    const pfn = slot_folio(slot, mapping, index, end);
    if (pfn >= 0) pc_remove_folio(pfn, backing);
    else slot++;
  }
}

// Finds or creates the folio for (mapping, index): a page read from the
// backing store (the word is in `word`) or, for shmem, a zero page. hugetlbfs
// folios come from the pool at `huge_order`. Returns -1 when out of memory.
export function pc_get_folio(mapping: i32, index: f64, backing: i32, huge_order: i32, word: u32): i32 {
  const found = pc_lookup(mapping, index);
  if (found >= 0) return found;
  let pfn = -1;
  if (backing == BACKING_HUGETLBFS) pfn = alloc_hugetlb_folio(huge_order, GFP_ZERO);
  else pfn = alloc_pages(0, alloc_gfp | GFP_ZERO); // GFP_HIGHUSER_PIN inside a long-term pin
  if (pfn < 0) return -1;
  pg_data[pfn_to_page(pfn)] = word;
  pc_add_folio(pfn, mapping, index, backing);
  folio_put_refs(pfn, 1); // the allocation's own reference; the cache keeps its own
  return pfn;
}

// Reads pages [index, index + n) into the cache, their backing-store words
// taken from scratch[0..n). Returns the number of pages present afterwards
// (less than n only when memory ran out).
export function pc_fill(mapping: i32, index: f64, n: i32, backing: i32): i32 {
  for (let i = 0; i < n; i++) {
    if (pc_get_folio(mapping, index + <f64>i, backing, 0, scratch[i]) < 0) return i;
  }
  return n;
}

// folio_mark_dirty(): count a clean->dirty transition.
export function folio_mark_dirty(head: i32): void {
  if ((flags_at(head) & PG_dirty) == 0) {
    pg_flags[pfn_to_page(head)] |= PG_dirty;
    stats[NR_DIRTIED] += 1.0;
  }
}

// A write(2) into a cached page: write_begin attaches the filesystem's
// per-folio state (buffer heads) for disk filesystems, then the folio is
// dirtied. The page must be cached (pc_fill first). Returns 0 or -1.
export function pc_write(mapping: i32, index: f64, word: u32, backing: i32): i32 {
  const pfn = pc_lookup(mapping, index);
  if (pfn < 0) return -1;
  pg_data[pfn_to_page(pfn)] = word;
  if (backing == BACKING_FILE) pg_flags[pfn_to_page(pfn)] |= PG_private;
  folio_mark_dirty(pfn);
  return 0;
}

// The data word of a cached page (pc_fill first; an absent page reads 0).
export function pc_read(mapping: i32, index: f64): u32 {
  const pfn = pc_lookup(mapping, index);
  return pfn < 0 ? 0 : pg_data[pfn_to_page(pfn)];
}

let wb_next = 0.0;

// Where the last writeback_range() stopped: the cursor to continue from, or
// -1 when the range is done.
export function writeback_next(): f64 { return wb_next; }

// Writeback of the cached pages [index, end) of a disk filesystem's file,
// after mkclean_range() has write-protected their mappings: each dirty folio
// is cleaned and (index low 32 bits, index high bits, word, outcome)
// appended to scratch for the façade, at most WB_BATCH of them per call;
// call again from writeback_next() (start with cursor 0). The filesystem
// then drops its per-folio state: pinsim's stand-in for reclaim stripping
// the buffers of a clean folio, which 6.4+ (d824ec2a1546) skips for a
// maybe-pinned folio. A dirty folio without that state was dirtied behind
// the filesystem's back (no ->page_mkwrite), counted in WB_NO_MKWRITE and
// handled as `nobuf` says (WB_NOBUF_*): its outcome word is `nobuf`,
// WB_WRITTEN for the others. Returns the number of entries.
export function writeback_range(mapping: i32, index: f64, end: f64, cursor: f64, nobuf: i32): i32 {
  const by_slot = walk_slots(end - index);
  const stop = by_slot ? <f64>(pcache_mask + 1) : end - index; // the cursor counts slots or indexes
  const keep_pinned = (kernel_rules & RULE_RECLAIM_KEEPS_PINNED_PRIVATE) != 0;
  let out = 0;
  let c = cursor;
  for (; c < stop && out < WB_BATCH; c += 1.0) {
    const pfn = by_slot ? slot_folio(<i32>c, mapping, index, end) : pc_lookup(mapping, index + c);
    if (pfn < 0 || (flags_at(pfn) & PG_dirty) == 0) continue;
    const had_state = (flags_at(pfn) & PG_private) != 0;
    let outcome = WB_WRITTEN;
    if (!had_state) {
      stats[WB_NO_MKWRITE] += 1.0;
      outcome = nobuf;
    }
    if (outcome == WB_NOBUF_STOP) {
      wb_entry(out++, pfn, outcome);
      wb_next = -1.0;
      return out;
    }
    const drop = keep_pinned && folio_maybe_dma_pinned(pfn) ? PG_dirty : PG_dirty | PG_private;
    pg_flags[pfn_to_page(pfn)] &= ~drop;
    if (outcome != WB_NOBUF_DROP) stats[NR_WRITTEN] += 1.0;
    wb_entry(out++, pfn, outcome);
  }
  wb_next = c < stop ? c : -1.0;
  return out;
}

// One writeback_range() entry of scratch.
function wb_entry(i: i32, pfn: i32, outcome: i32): void {
  const hi = Math.floor(pg_index[pfn_to_page(pfn)] / 4294967296.0);
  scratch[i * 4] = <u32>(pg_index[pfn_to_page(pfn)] - hi * 4294967296.0);
  scratch[i * 4 + 1] = <u32>hi;
  scratch[i * 4 + 2] = pg_data[pfn_to_page(pfn)];
  scratch[i * 4 + 3] = <u32>outcome;
}
