// k.check()'s per-frame walk (src/debug/check.ts): the refcount, pincount,
// mapcount and free-list invariants of every frame, checked in one pass.
import {
  PG_buddy, PG_head, PG_tail, PG_reserved, PG_table, PG_bad, GUP_PIN_COUNTING_BIAS, CHECK_MAX, CHECK_REFCOUNT_NEGATIVE,
  CHECK_PINCOUNT_OVER_REFCOUNT, CHECK_BUDDY_IN_USE, CHECK_MAPPED_OVER_REFCOUNT, SCRATCH_WORDS, _PAGE_SPECIAL,
} from './constants';
import { range_step, step_level, step_next, step_count, pte_pfn, pte_present } from './pgtable';
import { scratch, memmap_pages } from './mem';
import { flags_at, refcount_at, mapcount_at, pincount_at, page_slot, pte_at } from './raw';
import { folio_order, folio_entire_mapcount } from './folio';
import { flags_have_pincount } from './rules';

let found = 0;

function report(pfn: i32, code: i32): void {
  if (found < CHECK_MAX) {
    scratch[found * 2] = <u32>pfn;
    scratch[found * 2 + 1] = <u32>code;
  }
  found++;
}

// Every mapping of a folio (each PTE of a page, each PMD/PUD of the whole)
// holds a reference. The zero pages (PG_reserved) are mapped without any;
// a page-table page (PG_table) keeps other counts in its mapcount. A folio
// bad_page() took out of circulation (PG_bad) is skipped: its counts went
// wrong with the caller's bug already reported (later unmaps may drive its
// refcount below 0), as the kernel taints rather than checks it again.
function check_folio(head: i32, f: i32): void {
  if ((f & PG_bad) != 0) return;
  const rc = refcount_at(head);
  if (rc < 0) report(head, CHECK_REFCOUNT_NEGATIVE);
  if (flags_have_pincount(f) && pincount_at(head) > <f64>rc) report(head, CHECK_PINCOUNT_OVER_REFCOUNT);
  if ((f & (PG_reserved | PG_table)) != 0) return;
  const nr = memmap_pages(head, 1 << folio_order(head));
  let mapped = <f64>folio_entire_mapcount(head);
  for (let i = 0; i < nr; i++) mapped += <f64>mapcount_at(head + i);
  if (mapped > <f64>rc) report(head, CHECK_MAPPED_OVER_REFCOUNT);
}

// Checks frames [0, n): violations as (pfn, CHECK_*) pairs in scratch (the
// first CHECK_MAX of them); returns how many there were.
export function check_frames(n: i32): i32 {
  found = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    const f = flags_at(pfn);
    if ((f & PG_buddy) != 0) {
      if (mapcount_at(pfn) != 0 || refcount_at(pfn) != 0) report(pfn, CHECK_BUDDY_IN_USE);
    } else if ((f & PG_tail) == 0) {
      check_folio(pfn, f);
    }
  }
  return found;
}

// The pins the frames hold: a large folio's _pincount (where the era gives
// it one), any other's _refcount / GUP_PIN_COUNTING_BIAS (what
// nr_foll_pin_acquired - released should equal).
export function count_pins(n: i32): f64 {
  let pins = 0.0;
  for (let pfn = 0; pfn < n; pfn++) {
    const f = flags_at(pfn);
    if ((f & (PG_buddy | PG_tail)) != 0) continue;
    if (flags_have_pincount(f)) pins += pincount_at(pfn);
    else if (refcount_at(pfn) > 0) pins += <f64>((refcount_at(pfn) - refcount_at(pfn) % GUP_PIN_COUNTING_BIAS) / GUP_PIN_COUNTING_BIAS);
  }
  return pins;
}

// Does the page-array arena hold, from slot off, the n pfns in scratch?
// (k.unpin_user_pages() with tracking on: is this the call a record holds?)
export function pages_match(off: i32, n: i32): bool {
  for (let i = 0; i < n; i++) if (page_slot(off + i) != <i32>scratch[i]) return false;
  return true;
}

// ---- mapcount = the PTEs that map a page, a chunk of frames at a time ----
// scratch[0..CHECK_MAX) counts PTE-level leaves per frame of the chunk,
// scratch[CHECK_MAX..) PMD/PUD leaves per folio head (_entire_mapcount).

let map_first = -1; // the first frame of the last compared chunk whose count is off

export function check_map_clear(): void {
  for (let i = 0; i < SCRATCH_WORDS; i++) scratch[i] = 0;
}

function count_leaf(e: u32, level: i32, lo: i32): void {
  if (!pte_present(e) || (e & _PAGE_SPECIAL) != 0) return;
  const pfn = pte_pfn(e) - lo;
  if (pfn < 0 || pfn >= CHECK_MAX) return;
  scratch[level == 0 ? pfn : CHECK_MAX + pfn] += 1;
}

// Counts the leaves of [vpn, vpn + nr) of pgd (one VMA) that map frames
// [lo, lo + CHECK_MAX).
export function check_map_walk(pgd: i32, vpn: f64, nr: f64, lo: i32): void {
  let addr = vpn;
  const end = vpn + nr;
  while (addr < end) {
    const ei = range_step(pgd, addr, end);
    if (ei >= 0) {
      if (step_level > 0) count_leaf(pte_at(ei), step_level, lo);
      else for (let k = 0; k < step_count; k++) count_leaf(pte_at(ei + k), 0, lo);
    }
    addr = step_next;
  }
}

// Compares the counts with frames [lo, lo + n) (n <= CHECK_MAX): how many
// frames' mapcount (or folio's _entire_mapcount) differ; check_map_first()
// says the first. Page tables, free frames and the zero pages keep none.
export function check_map_compare(lo: i32, n: i32): i32 {
  let bad = 0;
  map_first = -1;
  for (let i = 0; i < n; i++) {
    const f = flags_at(lo + i);
    if ((f & (PG_table | PG_buddy | PG_reserved | PG_bad)) != 0) continue;
    let off = mapcount_at(lo + i) != <i32>scratch[i];
    if ((f & PG_head) != 0 && folio_entire_mapcount(lo + i) != <i32>scratch[CHECK_MAX + i]) off = true;
    if (off) {
      if (bad == 0) map_first = lo + i;
      bad++;
    }
  }
  return bad;
}

export function check_map_first(): i32 { return map_first; }
