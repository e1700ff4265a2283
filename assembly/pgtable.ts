// 4-level page tables whose table pages are frames of the simulated RAM
// (PageTable, counted in NR_PAGETABLE). A table's 512 entries live in a slot
// of pt_entries; the table frame's pg_mapping holds its slot and pg_mapcount
// the number of non-empty entries (so that empty tables can be found).
//
// Levels: 3 = PGD, 2 = PUD, 1 = PMD, 0 = PTE. Addresses are virtual page
// numbers (vpn = addr >> PAGE_SHIFT), carried as f64 because 35 bits do not
// fit an i32 and the JS<->Wasm boundary should not carry i64.
import {
  PG_table, PG_bad, GFP_KERNEL, NR_PAGETABLE, PTE_PFN_SHIFT, PTE_FLAGS_MASK, _PAGE_PRESENT, _PAGE_PROTNONE,
} from './constants';
import {
  pg_flags, pg_refcount, pg_mapcount, pg_mapping, pt_free_slots, pt_slot_owner, pt_free_top,
  set_pt_free_top, stats, pfn_to_page,
} from './mem';
import { alloc_pages, free_folio_pages } from './buddy';
import { mapping_at, pte_at, set_pte_at, slot_owner_at, mapcount_at, set_mapcount_at } from './raw';

export let walk_level = 0; // level of the entry pt_walk() returned

// mk_pte() and pte_pfn() live with the raw accessors (assembly/raw.ts,
// src/core/ts/raw.ts), where a flat build folds away their sparse case.
import { mk_pte, pte_pfn, vpn_hi, vpn_lo, small_int } from './raw';
export { mk_pte, pte_pfn };
export function pte_bits(e: u32): i32 { return <i32>(e & PTE_FLAGS_MASK); }
export function pte_present(e: u32): bool { return (e & (_PAGE_PRESENT | _PAGE_PROTNONE)) != 0; }
// Every leaf pinsim writes is present or PROT_NONE (no swap or migration
// entries), so a non-zero entry that is neither points at a table.
export function mk_table_entry(table_pfn: i32): u32 { return <u32>(table_pfn << PTE_PFN_SHIFT); }
export function pte_is_table(e: u32): bool { return e != 0 && !pte_present(e); }
// Above the PTE level only (x86's _PAGE_PSE is implied by the level here).
export function pmd_is_leaf(e: u32): bool { return pte_present(e); }

// Index of a table's first entry in pt_entries (a table page's slot is in
// its pg_mapping).
export function table_base(table_pfn: i32): i32 { return mapping_at(table_pfn) << 10; }

// A vpn has at most 36 bits; split in two integers (vpn_hi(), vpn_lo() in
// the raw accessors), its table indices are plain bit fields: PGD hi >>> 9,
// PUD hi & 511, PMD lo >>> 9, PTE lo & 511.

function index_of(hi: i32, lo: i32, level: i32): i32 {
  if (level == 0) return lo & 511;
  if (level == 1) return lo >>> 9;
  if (level == 2) return hi & 511;
  return hi >>> 9;
}

// The vpn's index into the table at `level`: (vpn >> (9 * level)) & 511.
export function vpn_index(vpn: f64, level: i32): i32 {
  const hi = vpn_hi(vpn);
  return index_of(hi, vpn_lo(vpn, hi), level);
}

// Number of pages one entry at `level` maps: 1, 512, 262144, 2^27 (2^36 for
// the whole address space, "level 4").
export function level_span(level: i32): f64 {
  if (level == 0) return 1.0;
  if (level == 1) return 512.0;
  if (level == 2) return 262144.0;
  if (level == 3) return 134217728.0;
  return 68719476736.0;
}

// Mirrors pte_alloc_one(): a zeroed table page, or -1.
export function pt_alloc(): i32 {
  if (pt_free_top == 0) return -1;
  walk_cache_reset();
  const pfn = alloc_pages(0, GFP_KERNEL);
  if (pfn < 0) return -1;
  const slot = pt_free_slots[pt_free_top - 1];
  set_pt_free_top(pt_free_top - 1);
  pt_slot_owner[slot] = pfn;
  pg_flags[pfn_to_page(pfn)] = PG_table;
  pg_mapping[pfn_to_page(pfn)] = slot;
  pg_mapcount[pfn_to_page(pfn)] = 0;
  stats[NR_PAGETABLE] += 1.0;
  return pfn;
}

// Mirrors pte_free(): the table must be empty (entries and deposits zero).
export function pt_free(pfn: i32): void {
  walk_cache_reset();
  const slot = pg_mapping[pfn_to_page(pfn)];
  pt_free_slots[pt_free_top] = slot;
  set_pt_free_top(pt_free_top + 1);
  pg_refcount[pfn_to_page(pfn)] = 0;
  stats[NR_PAGETABLE] -= 1.0;
  if ((pg_flags[pfn_to_page(pfn)] & PG_bad) != 0) {
    pg_flags[pfn_to_page(pfn)] &= ~PG_table; // a put already reported it bad: it stays leaked
    return;
  }
  free_folio_pages(pfn, 0);
}

// Writes entry ei, keeping the owning table's count of non-empty entries.
export function pt_set(ei: i32, v: u32): void {
  const old = pte_at(ei);
  set_pte_at(ei, v);
  if ((old == 0) != (v == 0)) {
    const owner = slot_owner_at(ei >>> 10);
    set_mapcount_at(owner, mapcount_at(owner) + (v == 0 ? -1 : 1));
  }
}

// Walks from the PGD towards `stop_level` and returns the index in
// pt_entries of the entry covering vpn there, or of a huge leaf met above
// it (walk_level says which level). Missing tables are allocated when
// `alloc`; otherwise -1 is returned for them. -2: allocation failed.
export function pt_walk(pgd: i32, vpn: f64, stop_level: i32, alloc: bool): i32 {
  const hi = vpn_hi(vpn);
  const lo = vpn_lo(vpn, hi);
  let table = pgd;
  for (let level = 3; level >= 0; level--) {
    const ei = table_base(table) + index_of(hi, lo, level);
    walk_level = level;
    if (level == stop_level) return ei;
    const e = pte_at(ei);
    if (e == 0) {
      if (!alloc) return -1;
      const t = pt_alloc();
      if (t < 0) return -2;
      pt_set(ei, mk_table_entry(t));
      table = t;
    } else if (!pte_is_table(e)) {
      return ei;
    } else {
      table = pte_pfn(e);
    }
  }
  return -1;
}

// The pfn of the base page mapping vpn through entry e at walk_level (a
// PTE, or a huge leaf). The offset comes from vpn's low bits as pt_walk()
// splits them: an f64 division here was half a one-page GUP-fast of a THP.
export function leaf_subpage(e: u32, vpn: f64, level: i32): i32 {
  if (level == 0) return pte_pfn(e);
  const hi = vpn_hi(vpn);
  const lo = vpn_lo(vpn, hi);
  if (level == 1) return pte_pfn(e) + (lo & 511);
  return pte_pfn(e) + (level == 2 ? lo : ((hi & 511) << 18) | lo);
}

// First vpn of the next entry at `level` after the one covering vpn.
export function next_boundary(vpn: f64, level: i32): f64 {
  const span = level_span(level);
  return (Math.floor(vpn / span) + 1.0) * span;
}

// A walk remembered for the vpns that share its PTE table (or huge leaf):
// loops over one mm's pages (faults, the GUP slow path's
// follow_page_mask(), remove_migration_ptes()) walk once per table, not
// once per page. Whatever can make it stale resets it: allocating or
// freeing a table (pt_alloc(), pt_free()) and a split handing a huge PMD's
// deposited table to the PMD. A remembered huge leaf may since have been
// zapped: callers treat an empty entry as no mapping, whatever its level.
let cw_ei = -1; // entry found for cw_vpn, or -1: walk again
let cw_pgd = -1;
let cw_vpn = 0.0;
let cw_end = 0.0; // first vpn the remembered table or leaf does not cover
export let cached_level = 0; // level of the entry walk_cached() returned

export function walk_cache_reset(): void { cw_ei = -1; }

// pt_walk(pgd, vpn, 0, false) through the cache. Inlined: it runs once per
// page of faults and of the slow path.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function walk_cached(pgd: i32, vpn: f64): i32 {
  const hit = walk_cache_hit(pgd, vpn);
  if (hit >= 0) return hit;
  const ei = pt_walk(pgd, vpn, 0, false);
  cached_level = walk_level;
  cw_ei = ei;
  cw_pgd = pgd;
  cw_vpn = vpn;
  cw_end = next_boundary(vpn, walk_level == 0 ? 1 : walk_level);
  return ei;
}

// The remembered walk's entry for vpn (cached_level says its level), or -1
// with nothing walked when it does not cover vpn.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function walk_cache_hit(pgd: i32, vpn: f64): i32 {
  if (cw_ei < 0 || pgd != cw_pgd || !(vpn >= cw_vpn && vpn < cw_end)) return -1;
  const step = small_int(vpn - cw_vpn);
  const ei = cached_level == 0 ? cw_ei + step : cw_ei;
  if (!ASC_NO_ASSERT) check_cached(pgd, vpn, ei); // the debug Wasm build checks every hit
  return ei;
}

function check_cached(pgd: i32, vpn: f64, ei: i32): void {
  const fresh = pt_walk(pgd, vpn, 0, false);
  const same = fresh == ei && walk_level == cached_level;
  assert(same || (fresh < 0 && cached_level > 0 && pte_at(ei) == 0), 'stale page-table walk cache');
}

// Range walks (zap, mprotect, fork, mkclean) go one PTE table or huge leaf
// at a time. range_step() returns the entry covering addr (or -1 where no
// table is) and says where the next step starts; at level 0, step_count
// PTEs from the returned one lie before it.
export let step_level = 0;
export let step_next = 0.0;
export let step_count = 0;

export function range_step(pgd: i32, addr: f64, end: f64): i32 {
  const ei = pt_walk(pgd, addr, 0, false);
  step_level = walk_level;
  step_count = 0;
  // A PTE table covers up to the next PMD boundary; a missing table or a
  // huge leaf at level L covers up to the next boundary of level L.
  step_next = next_boundary(addr, ei >= 0 && walk_level == 0 ? 1 : walk_level);
  if (ei >= 0 && walk_level == 0) {
    if (step_next > end) step_next = end;
    step_count = <i32>(step_next - addr);
  }
  return ei;
}

// Does [addr, end) cover the whole huge leaf range_step() just found?
export function step_covers_leaf(addr: f64, end: f64): bool {
  return addr == step_next - level_span(step_level) && end >= step_next;
}
