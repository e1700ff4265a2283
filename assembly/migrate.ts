// Migration for FOLL_LONGTERM (mm/gup.c collect_longterm_unpinnable_folios,
// migrate_longterm_unpinnable_folios; mm/migrate.c migrate_pages_batch()).
// A batch of folios is listed in scratch[0, count); their targets go to
// scratch[MIGRATE_BATCH + i]. The core checks references, copies and swaps
// the folios; the façade walks the rmap (which mms map a run of folios of
// one anon_vma or file, and where) and has the core repoint those PTEs.
import {
  PG_isolated, PG_head, PG_lru, GFP_HIGHUSER_PIN, EAGAIN, ENOMEM, NR_ISOLATED, PGMIGRATE_SUCCESS, PGMIGRATE_FAIL,
  PG_anon, PG_hugetlb, MIGRATE_BATCH, RULE_LT_DRAIN_BY_REFCOUNT,
} from './constants';
import {
  pg_flags, pg_refcount, pg_mapcount, pg_data, pg_mapping, pg_index, gup_pages, scratch, stats, pfn_to_page, memmap_pages,
} from './mem';
import { alloc_pages, free_folio_pages } from './buddy';
import { page_folio, folio_order, folio_entire_mapcount } from './folio';
import { walk_cached, cached_level, mk_pte, pte_pfn, pte_bits, pt_set, level_span } from './pgtable';
import { pc_lookup, pc_replace } from './pagecache';
import { folio_is_longterm_pinnable } from './gup';
import { flags_at, mapping_at, pte_at, refcount_at, folio_run, pinnable_small_quads } from './raw';
import { lru_batch_count, in_lru_batch, lru_add_drain } from './lru';
import { kernel_rules } from './rules';

// Distinct folios of gup_pages[off, off + n) that may not be long-term
// pinned, isolated from the LRU (PG_isolated) and listed in scratch (as
// many as a batch holds). Returns how many. A folio that is already isolated is skipped, as a
// failed folio_isolate_lru() is.
export function collect_unpinnable(off: i32, n: i32): i32 {
  let count = 0;
  let prev = -1;
  // At most a batch per round: the caller re-pins after migrating them
  // (-EAGAIN) and the next round collects the rest.
  const cap = MIGRATE_BATCH;
  let quads_at = 0; // as in gup_fast_pte_range()
  let drain_allow = (kernel_rules & RULE_LT_DRAIN_BY_REFCOUNT) != 0;
  for (let i = 0; i < n && count < cap; i++) {
    if (i >= quads_at) {
      // Runs of small pinnable pages, four at a time where the build can.
      i += pinnable_small_quads(off + i, n - i);
      quads_at = i + 4;
      if (i >= n) break;
    }
    const pfn = gup_pages[off + i];
    if (pfn < 0) continue;
    const head = page_folio(pfn);
    // The rest of a large folio's run of entries needs no second look.
    if ((flags_at(head) & PG_head) != 0) i += folio_run(off + i + 1, n - i - 1, head, head + (1 << folio_order(head)));
    if (head == prev) continue;
    prev = head;
    if (folio_is_longterm_pinnable(head) || (flags_at(head) & PG_isolated) != 0) continue;
    if ((flags_at(head) & PG_hugetlb) != 0) continue; // hugetlb pools never sit in CMA or ZONE_MOVABLE here
    // Since Hugh Dickins' 98c6d259319e (J5) a folio whose refcount an LRU
    // batch raises makes the pass drain the batches, once. Earlier kernels
    // drained only for a folio without PG_lru, which missed references held
    // by batches of folios still flagged on the LRU (the mlock batch of
    // Will Deacon's report); pinsim's one batch stands for those: before J5
    // the pass does not drain it and migration fails on its reference.
    if (drain_allow && lru_batch_count() > 0 && in_lru_batch(head)) {
      lru_add_drain();
      drain_allow = false;
    }
    pg_flags[pfn_to_page(head)] = (flags_at(head) | PG_isolated) & ~PG_lru;
    stats[NR_ISOLATED] += 1.0;
    scratch[count++] = <u32>head;
  }
  return count;
}

// folio_putback_lru(): back on the LRU after (failed or skipped) migration.
export function putback_folio(head: i32): void {
  if ((flags_at(head) & PG_isolated) == 0) return;
  // A folio still in the LRU batch gets PG_lru when the batch drains.
  pg_flags[pfn_to_page(head)] = (flags_at(head) & ~PG_isolated) | (lru_batch_count() > 0 && in_lru_batch(head) ? 0 : PG_lru);
  stats[NR_ISOLATED] -= 1.0;
}

// References a folio holds when only its mappings and the page cache use
// it (folio_expected_ref_count()).
function expected_refs(head: i32): i32 {
  const nr = 1 << folio_order(head);
  let refs = folio_entire_mapcount(head);
  const pages = memmap_pages(head, nr);
  for (let i = 0; i < pages; i++) refs += pg_mapcount[pfn_to_page(head + i)];
  if ((flags_at(head) & PG_anon) == 0 && mapping_at(head) != 0 && pc_lookup(mapping_at(head), pg_index[pfn_to_page(head)]) == head) {
    refs += nr;
  }
  return refs;
}

// First half of migrate_folio(): the folio must hold no reference beyond
// its mappings and the page cache (a pin or GUP reference makes the
// refcount freeze fail: -EAGAIN); then a target outside ZONE_MOVABLE and
// CMA gets its contents and state. Returns the target's pfn, or -errno.
function migrate_folio_start(head: i32): i32 {
  if (refcount_at(head) != expected_refs(head)) {
    stats[PGMIGRATE_FAIL] += 1.0;
    return -EAGAIN;
  }
  const order = folio_order(head);
  const dst = alloc_pages(order, GFP_HIGHUSER_PIN);
  if (dst < 0) {
    stats[PGMIGRATE_FAIL] += 1.0;
    return -ENOMEM;
  }
  const nr = 1 << order;
  for (let i = 0; i < nr; i++) {
    pg_flags[pfn_to_page(dst + i)] = flags_at(head + i) & ~PG_isolated;
    pg_mapcount[pfn_to_page(dst + i)] = pg_mapcount[pfn_to_page(head + i)];
    pg_data[pfn_to_page(dst + i)] = pg_data[pfn_to_page(head + i)];
  }
  pg_flags[pfn_to_page(dst)] |= PG_lru;
  pg_refcount[pfn_to_page(dst)] = refcount_at(head);
  pg_mapping[pfn_to_page(dst)] = mapping_at(head);
  pg_index[pfn_to_page(dst)] = pg_index[pfn_to_page(head)];
  if ((flags_at(head) & PG_head) != 0) {
    pg_mapping[pfn_to_page(dst + 1)] = mapping_at(head + 1);
    pg_index[pfn_to_page(dst + 1)] = pg_index[pfn_to_page(head + 1)];
  }
  return dst;
}

// remove_migration_ptes() for one mapping: entries at [vpn, vpn + nr) that
// map the old folio are pointed at the new one, their bits kept.
function remap_folio(pgd: i32, vpn: f64, nr: i32, old_head: i32, new_head: i32): void {
  const old_nr = 1 << folio_order(old_head);
  let i = 0;
  while (i < nr) {
    const v = vpn + <f64>i;
    const ei = walk_cached(pgd, v);
    const level = cached_level;
    let step = 1;
    if (level > 0) step = <i32>(Math.floor(v / level_span(level)) * level_span(level) + level_span(level) - v);
    if (ei >= 0) {
      const e = pte_at(ei);
      const off = pte_pfn(e) - old_head;
      if (e != 0 && off >= 0 && off < old_nr) pt_set(ei, mk_pte(new_head + off, pte_bits(e)));
    }
    i += step;
  }
}

// Second half: the page cache points at the new folio, the old one is freed.
function migrate_folio_finish(old_head: i32, new_head: i32): void {
  const order = folio_order(old_head);
  if ((flags_at(old_head) & PG_anon) == 0 && mapping_at(old_head) != 0) pc_replace(old_head, new_head);
  putback_folio(old_head);
  pg_refcount[pfn_to_page(old_head)] = 0;
  free_folio_pages(old_head, order);
  stats[PGMIGRATE_SUCCESS] += <f64>(1 << order);
}

// The unmap-and-copy half of migrate_pages_batch() for the listed folios:
// each target (or -errno) goes to scratch[MIGRATE_BATCH + i]; a folio that
// cannot move goes back to the LRU. Returns how many failed.
export function migrate_folios_start(count: i32): i32 {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const head = <i32>scratch[i];
    const dst = migrate_folio_start(head);
    scratch[MIGRATE_BATCH + i] = <u32>dst;
    if (dst < 0) {
      putback_folio(head);
      failed++;
    }
  }
  return failed;
}

// Where the run of listed folios from `from` that share one mapping (an
// anon_vma, or a file) ends: they have the same rmap.
export function mapping_run(from: i32, count: i32): i32 {
  const mapping = mapping_at(<i32>scratch[from]);
  let i = from + 1;
  while (i < count && mapping_at(<i32>scratch[i]) == mapping) i++;
  return i;
}

// remove_migration_ptes() for listed folios [from, to) in one VMA of the
// mm at pgd, covering vpns [vstart, vend): a folio with index x sits at
// vpn x + delta (delta 0 for anon folios, whose index is their vpn).
export function migrate_folios_remap(from: i32, to: i32, pgd: i32, vstart: f64, vend: f64, delta: f64): void {
  for (let i = from; i < to; i++) {
    const dst = <i32>scratch[MIGRATE_BATCH + i] | 0; // | 0: -errno in the pure-TS build too
    if (dst < 0) continue;
    const head = <i32>scratch[i];
    const nr = 1 << folio_order(head);
    const vpn = pg_index[pfn_to_page(head)] + delta;
    if (vpn + <f64>nr > vstart && vpn < vend) remap_folio(pgd, vpn, nr, head, dst);
  }
}

// The move half: the page cache points at the targets, the old folios are
// freed.
export function migrate_folios_finish(count: i32): void {
  for (let i = 0; i < count; i++) {
    const dst = <i32>scratch[MIGRATE_BATCH + i] | 0; // | 0: -errno in the pure-TS build too
    if (dst >= 0) migrate_folio_finish(<i32>scratch[i], dst);
  }
}
