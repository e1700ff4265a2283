// Raw access to the hottest arrays (Wasm build). An AssemblyScript typed
// array element costs two loads (the array's data pointer, then the
// element); these accessors keep the data pointers in globals, taken once
// after boot, so the GUP and unpin loops pay one. The pure-TS build uses
// plain typed-array indexing instead (src/core/ts/raw.ts).
import {
  pg_flags, pg_refcount, pg_head, pg_index, pg_mapping, pg_mapcount, pt_entries, pt_slot_owner, gup_pages, pb_migratetype,
  movable_start, stats, nr_frames, giant_start, pfn_to_page, giant_pte_field, giant_field_pfn,
} from './mem';
import {
  NR_DIRTIED, PG_dirty, PG_head, PG_tail, PG_anon, PG_referenced, GUP_PIN_COUNTING_BIAS, FOLL_GET, FOLL_PIN, FOLL_LONGTERM, FOLL_WRITE,
  RULE_GUP_FAST_LT_CMA_SHIFT, LT_CMA_ALL,
  FOLL_TOUCH, MIGRATE_CMA, MIGRATE_ISOLATE, PTE_PFN_SHIFT, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_SPECIAL,
} from './constants';
import { flags_have_pincount, rule_field } from './rules';

let flags_p: usize = 0;
let refcount_p: usize = 0;
let head_p: usize = 0;
let mapping_p: usize = 0;
let mapcount_p: usize = 0;
let owner_p: usize = 0;
let index_p: usize = 0;
let pte_p: usize = 0;
let pages_p: usize = 0;
let mt_p: usize = 0;

// Bounds, checked by assert() in the debug build (--noAssert drops them
// from the release build), so that raw access keeps the debug build's
// guarantee that every array access is bounds-checked.
let frames_n: u32 = 0; // struct pages
let pfns_n: u32 = 0; // frames (pfns), more than struct pages on a sparse machine
let dense_n: u32 = 0; // pfns below the sparse part, where pfn == struct page
let dense_quad_end: u32 = 0; // pfn - 1 below this: pfn..pfn + 3 are in [1, dense_n)
let pte_n: u32 = 0;
let pages_n: u32 = 0;
let slots_n: u32 = 0;

// Each array wraps a whole ArrayBuffer of its own (assembly/alloc.ts), so
// its data starts where its buffer does.
function data(view: ArrayBufferView): usize { return changetype<usize>(view.buffer); }

export function raw_attach(): void {
  flags_p = data(pg_flags);
  refcount_p = data(pg_refcount);
  head_p = data(pg_head);
  mapping_p = data(pg_mapping);
  mapcount_p = data(pg_mapcount);
  owner_p = data(pt_slot_owner);
  index_p = data(pg_index);
  pte_p = data(pt_entries);
  pages_p = data(gup_pages);
  mt_p = data(pb_migratetype);
  frames_n = <u32>pg_flags.length;
  dense_quad_end = giant_start > 4 ? <u32>(giant_start - 4) : 0;
  pfns_n = <u32>nr_frames;
  dense_n = <u32>giant_start;
  pte_n = <u32>pt_entries.length;
  pages_n = <u32>gup_pages.length;
  slots_n = <u32>pt_slot_owner.length;
}

// Whether the memmap may be sparse: a constant of each Wasm build (asc
// --use SPARSE_MEMMAP=1 in asconfig.json's sparse and debug targets), so
// that the flat release build folds pfn_to_page() to the identity; the
// pure-TS core knows it per machine.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function sparse_memmap(): bool { return isDefined(SPARSE_MEMMAP); }

// A vpn (an integer below 2^36) split in two: bits 18 and up (hi), and the
// low 18 (vpn_lo() takes hi for the pure-TS core, which subtracts it).
// vpn + 2^52 holds the vpn's bits in its mantissa: one add and a move,
// where an f64-to-int conversion costs V8 a rounding, a conversion and a
// range check in a row (a quarter of a one-page pin's core time; a THP
// pin paid it twice more, in leaf_subpage()). Every vpn is whole (the
// façade floors addresses, GUP's exports refuse a fraction); a fraction
// would round here where the pure-TS core floors.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function mantissa(x: f64): i64 { return reinterpret<i64>(x + 4503599627370496.0); }
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function vpn_hi(vpn: f64): i32 { return <i32>(mantissa(vpn) >>> 18) & 0x3ffff; }
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function vpn_lo(vpn: f64, _hi: i32): i32 { return <i32>mantissa(vpn) & 0x3ffff; }
// A difference of vpns known to lie in [0, 2^31), as an i32.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function small_int(d: f64): i32 { return <i32>mantissa(d); }

// mk_pte() and pte_pfn() (the encoding: assembly/mem.ts): the flat build
// folds the sparse case away.
export function mk_pte(pfn: i32, bits: i32): u32 {
  return <u32>(((sparse_memmap() && pfn >= giant_start ? giant_pte_field(pfn) : pfn) << PTE_PFN_SHIFT) | bits);
}
export function pte_pfn(e: u32): i32 {
  const v = <i32>(e >>> PTE_PFN_SHIFT);
  return sparse_memmap() && v >= giant_start ? giant_field_pfn(v) : v;
}

// The struct page of a pfn (pfn_to_page()); dense_frame() where the pfn is
// known to lie below the sparse part (the SIMD loops over PTE-mapped pages).
function frame(pfn: i32): usize {
  assert(<u32>pfn < pfns_n, 'pfn out of range');
  const page = pfn_to_page(pfn);
  assert(<u32>page < frames_n, 'struct page out of range');
  return <usize>page;
}
function dense_frame(pfn: i32): usize { assert(<u32>pfn < dense_n, 'pfn out of range'); return <usize>pfn; }
function entry(ei: i32): usize { assert(<u32>ei < pte_n, 'page-table entry out of range'); return <usize>ei; }
// Is i an entry of the page-array arena?
export function page_slot_ok(i: i32): bool { return <u32>i < pages_n; }

function slot(i: i32): usize { assert(<u32>i < pages_n, 'page-array index out of range'); return <usize>i; }
function slot_index(s: i32): usize { assert(<u32>s < slots_n, 'table slot out of range'); return <usize>s; }

export function flags_at(pfn: i32): i32 { return load<i32>(flags_p + (frame(pfn) << 2)); }
export function set_flags_at(pfn: i32, v: i32): void { store<i32>(flags_p + (frame(pfn) << 2), v); }
export function refcount_at(pfn: i32): i32 { return load<i32>(refcount_p + (frame(pfn) << 2)); }
export function set_refcount_at(pfn: i32, v: i32): void { store<i32>(refcount_p + (frame(pfn) << 2), v); }
export function head_at(pfn: i32): i32 { return load<i32>(head_p + (frame(pfn) << 2)); }
export function mapping_at(pfn: i32): i32 { return load<i32>(mapping_p + (frame(pfn) << 2)); }
export function set_mapping_at(pfn: i32, v: i32): void { store<i32>(mapping_p + (frame(pfn) << 2), v); }
export function set_head_at(pfn: i32, v: i32): void { store<i32>(head_p + (frame(pfn) << 2), v); }
export function index_at(pfn: i32): f64 { return load<f64>(index_p + (frame(pfn) << 3)); }
export function set_index_at(pfn: i32, v: f64): void { store<f64>(index_p + (frame(pfn) << 3), v); }
export function pincount_at(head: i32): f64 { return load<f64>(index_p + (frame(head + 1) << 3)); }
export function set_pincount_at(head: i32, v: f64): void { store<f64>(index_p + (frame(head + 1) << 3), v); }
export function pte_at(ei: i32): u32 { return load<u32>(pte_p + (entry(ei) << 2)); }
export function set_pte_at(ei: i32, v: u32): void { store<u32>(pte_p + (entry(ei) << 2), v); }
export function mapcount_at(pfn: i32): i32 { return load<i32>(mapcount_p + (frame(pfn) << 2)); }
export function set_mapcount_at(pfn: i32, v: i32): void { store<i32>(mapcount_p + (frame(pfn) << 2), v); }
export function slot_owner_at(slot: i32): i32 { return load<i32>(owner_p + (<usize>slot_index(slot) << 2)); }
export function page_slot(i: i32): i32 { return load<i32>(pages_p + (slot(i) << 2)); }
export function set_page_slot(i: i32, pfn: i32): void { store<i32>(pages_p + (slot(i) << 2), pfn); }
export function migratetype_at(pfn: i32): i32 {
  assert(<u32>pfn < pfns_n, 'pfn out of range');
  return <i32>load<u8>(mt_p + (<usize>pfn >>> 9));
}

// The first of the n entries from gup_pages[off] that is neither NULL (-1)
// nor a frame of this machine, or -1. Entry + 1, read as unsigned, maps
// NULL to 0 and frames to 1..frames_n, anything else above: the common
// answer (-1) costs one SIMD add and max per four entries; only a bad
// array is searched.
export function first_bad_slot(off: i32, n: i32): i32 {
  const one = i32x4.splat(1);
  let hi = i32x4.splat(0);
  let hi2 = hi;
  let i = 0;
  for (; i + 8 <= n; i += 8) { // two chains of maxima: twice the throughput
    const p = pages_p + ((slot(off + i + 7) - 7) << 2);
    hi = i32x4.max_u(hi, i32x4.add(v128.load(p), one));
    hi2 = i32x4.max_u(hi2, i32x4.add(v128.load(p + 16), one));
  }
  hi = i32x4.max_u(hi, hi2);
  for (; i + 4 <= n; i += 4) hi = i32x4.max_u(hi, i32x4.add(v128.load(pages_p + ((slot(off + i + 3) - 3) << 2)), one));
  let max = <u32>i32x4.extract_lane(hi, 0);
  if (<u32>i32x4.extract_lane(hi, 1) > max) max = <u32>i32x4.extract_lane(hi, 1);
  if (<u32>i32x4.extract_lane(hi, 2) > max) max = <u32>i32x4.extract_lane(hi, 2);
  if (<u32>i32x4.extract_lane(hi, 3) > max) max = <u32>i32x4.extract_lane(hi, 3);
  for (; i < n; i++) if (<u32>(page_slot(off + i) + 1) > max) max = <u32>(page_slot(off + i) + 1);
  if (max <= pfns_n) return -1;
  for (let j = 0; j < n; j++) if (<u32>(page_slot(off + j) + 1) > pfns_n) return j;
  return -1;
}

// How many of the n entries from gup_pages[off] are pages of the folio
// [head, end) before one is not (gup_folio_next()'s run), four per SIMD step.
export function folio_run(off: i32, n: i32, head: i32, end: i32): i32 {
  // A small folio's run ends at once: test one entry before going wide.
  if (n == 0 || page_slot(off) < head || page_slot(off) >= end) return 0;
  const lo = i32x4.splat(head - 1);
  const hi = i32x4.splat(end);
  let i = 1;
  // Sixteen entries per test while they last (a huge folio's run is long).
  for (; i + 16 <= n; i += 16) {
    const p = pages_p + ((slot(off + i + 15) - 15) << 2);
    const a = v128.load(p);
    const b = v128.load(p + 16);
    const c = v128.load(p + 32);
    const d = v128.load(p + 48);
    const ab = v128.and(v128.and(i32x4.gt_s(a, lo), i32x4.lt_s(a, hi)), v128.and(i32x4.gt_s(b, lo), i32x4.lt_s(b, hi)));
    const cd = v128.and(v128.and(i32x4.gt_s(c, lo), i32x4.lt_s(c, hi)), v128.and(i32x4.gt_s(d, lo), i32x4.lt_s(d, hi)));
    if (!i32x4.all_true(v128.and(ab, cd))) break;
  }
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(pages_p + ((slot(off + i + 3) - 3) << 2));
    if (!i32x4.all_true(v128.and(i32x4.gt_s(v, lo), i32x4.lt_s(v, hi)))) break;
  }
  while (i < n) {
    const pfn = page_slot(off + i);
    if (pfn < head || pfn >= end) break;
    i++;
  }
  return i;
}

// record_subpages(): gup_pages[out + j] = pfn + j for j < n, four per SIMD store.
export function fill_run(out: i32, pfn: i32, n: i32): void {
  let v = i32x4(pfn, pfn + 1, pfn + 2, pfn + 3);
  const step = i32x4.splat(4);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    v128.store(pages_p + ((slot(out + j + 3) - 3) << 2), v);
    v = i32x4.add(v, step);
  }
  for (; j < n; j++) set_page_slot(out + j, pfn + j);
}

// The batched PTE loops below: while the four PTEs from entry ei + j
// all have (e & bits) == good and map four consecutive frames that all have
// (flags & kind) == want and a positive refcount (and, when `longterm`, lie
// in one pageblock that is neither CMA nor isolated, below ZONE_MOVABLE),
// add refs to their refcounts, OR `set` into their flags and record them at
// gup_pages[out + j..]. Returns how many pages (a multiple of 4).
function take_pte_quads(ei: i32, n: i32, out: i32, bits: v128, good: v128, kind: v128, want: v128, refs: v128,
  set: v128, longterm: bool): i32 {
  const step = i32x4(0, 1, 2, 3);
  const zero = i32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const e = v128.load(pte_p + ((entry(ei + j + 3) - 3) << 2));
    if (!i32x4.all_true(i32x4.eq(v128.and(e, bits), good))) break;
    const pfns = i32x4.shr_u(e, PTE_PFN_SHIFT);
    const pfn = i32x4.extract_lane(pfns, 0);
    if (!i32x4.all_true(i32x4.eq(pfns, i32x4.add(i32x4.splat(pfn), step)))) break;
    const at = (dense_frame(pfn + 3) - 3) << 2;
    const f = v128.load(flags_p + at);
    if (!i32x4.all_true(i32x4.eq(v128.and(f, kind), want))) break;
    const rc = v128.load(refcount_p + at);
    if (!i32x4.all_true(i32x4.gt_s(rc, zero))) break;
    if (longterm) {
      if ((pfn >>> 9) != ((pfn + 3) >>> 9) || pfn + 3 >= movable_start) break;
      const mt = migratetype_at(pfn);
      if (mt == MIGRATE_CMA || mt == MIGRATE_ISOLATE) break;
    }
    v128.store(refcount_p + at, i32x4.add(rc, refs));
    v128.store(flags_p + at, v128.or(f, set));
    v128.store(pages_p + ((slot(out + j + 3) - 3) << 2), pfns);
  }
  return j;
}

// gup_fast_pte_range()'s common case, four PTEs per SIMD step: PTEs that
// are present, writable and not special, mapping four consecutive small
// anon pages whose grab cannot fail (refcount > 0; when FOLL_PIN|FOLL_LONGTERM,
// long-term pinnable). Takes them as try_grab_folio_fast() would (+1, or
// +GUP_PIN_COUNTING_BIAS), marks them PG_referenced and records them; stops
// at the first quad that is not such a run. Returns how many pages it took
// (a multiple of 4); the caller takes the rest one by one and counts the pins.
export function grab_small_quads(ei: i32, n: i32, flags: i32, out: i32): i32 {
  if (n < 4) return 0;
  const pin = (flags & FOLL_PIN) != 0;
  return take_pte_quads(ei, n, out, i32x4.splat(_PAGE_PRESENT | _PAGE_RW | _PAGE_SPECIAL),
    i32x4.splat(_PAGE_PRESENT | _PAGE_RW), i32x4.splat(PG_head | PG_tail | PG_anon), i32x4.splat(PG_anon),
    i32x4.splat(pin ? GUP_PIN_COUNTING_BIAS : 1), i32x4.splat(PG_referenced),
    (flags & FOLL_LONGTERM) != 0 && (pin || rule_field(RULE_GUP_FAST_LT_CMA_SHIFT) == LT_CMA_ALL)); // as gup_fast_longterm_ok()
}

// follow_page_mask()'s common case in the slow path, four PTEs per SIMD
// step: present, writable, not special (and dirty, for a FOLL_TOUCH write,
// so that no folio needs marking dirty), mapping four consecutive small
// pages with refcount > 0. Takes them as try_grab_folio() would, marks them
// accessed under FOLL_TOUCH, records them; stops at the first quad that is
// not such a run. Returns how many pages (a multiple of 4); the caller
// counts the pins and takes the rest one by one.
export function follow_small_quads(ei: i32, n: i32, flags: i32, out: i32): i32 {
  if (n < 4 || (flags & (FOLL_GET | FOLL_PIN)) == 0) return 0;
  const touch = (flags & FOLL_TOUCH) != 0;
  const want = _PAGE_PRESENT | _PAGE_RW | (touch && (flags & FOLL_WRITE) != 0 ? _PAGE_DIRTY : 0);
  return take_pte_quads(ei, n, out, i32x4.splat(want | _PAGE_SPECIAL), i32x4.splat(want),
    i32x4.splat(PG_head | PG_tail), i32x4.splat(0), i32x4.splat((flags & FOLL_PIN) != 0 ? GUP_PIN_COUNTING_BIAS : 1),
    i32x4.splat(touch ? PG_referenced : 0), false);
}

// collect_longterm_unpinnable_folios()'s common case, four entries per
// SIMD step: four consecutive small pages of one pageblock that is neither
// CMA nor isolated, below ZONE_MOVABLE, so long-term pinnable. Returns how
// many leading entries are such quads (a multiple of 4).
export function pinnable_small_quads(off: i32, n: i32): i32 {
  const small = i32x4.splat(PG_head | PG_tail);
  const step = i32x4(0, 1, 2, 3);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const pfns = v128.load(pages_p + ((slot(off + j + 3) - 3) << 2));
    const pfn = i32x4.extract_lane(pfns, 0);
    if (pfn <= 0 || !i32x4.all_true(i32x4.eq(pfns, i32x4.add(i32x4.splat(pfn), step)))) break;
    if ((pfn >>> 9) != ((pfn + 3) >>> 9) || pfn + 3 >= movable_start || pfn + 3 >= giant_start) break;
    const mt = migratetype_at(pfn);
    if (mt == MIGRATE_CMA || mt == MIGRATE_ISOLATE) break;
    if (v128.any_true(v128.and(v128.load(flags_p + ((dense_frame(pfn + 3) - 3) << 2)), small))) break;
  }
  return j;
}

// unpin_user_pages()'s common case, four entries per SIMD step: four
// consecutive small pages each holding a pin and a reference besides it,
// so that no folio is freed (put_small_pin(), four at a time). Drops one
// pin from each; stops at the first quad that is not such a run. Returns
// how many (a multiple of 4); the caller counts the pins released.
export function put_small_pin_quads(off: i32, n: i32): i32 {
  if (n < 4) return 0;
  const small = i32x4.splat(PG_head | PG_tail);
  const step = i32x4(0, 1, 2, 3);
  const bias = i32x4.splat(GUP_PIN_COUNTING_BIAS);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const pfns = v128.load(pages_p + ((slot(off + j + 3) - 3) << 2));
    const pfn = i32x4.extract_lane(pfns, 0);
    // NULL, the zero page, or above the flat part (its unsigned compare
    // replaces pfn <= 0: no instruction more).
    if (<u32>(pfn - 1) >= dense_quad_end || !i32x4.all_true(i32x4.eq(pfns, i32x4.add(i32x4.splat(pfn), step)))) break;
    if (j + 4 < n && page_slot(off + j + 4) == pfn + 3) break; // the last page listed again: one batch, as one by one
    const at = (dense_frame(pfn + 3) - 3) << 2;
    if (v128.any_true(v128.and(v128.load(flags_p + at), small))) break;
    const rc = v128.load(refcount_p + at);
    if (!i32x4.all_true(i32x4.gt_s(rc, bias))) break;
    v128.store(refcount_p + at, i32x4.sub(rc, bias));
  }
  return j;
}

// unpin_range()'s common case, four frames per SIMD step: consecutive
// small pages from pfn (never the zero page), each holding a pin and a
// reference besides it, so that none is freed (put_small_pin(), four at a
// time); with make_dirty each is dirtied first (folio_mark_dirty()).
// Returns how many (a multiple of 4); the caller counts the pins released.
export function put_small_pin_run_quads(pfn: i32, n: i32, make_dirty: bool): i32 {
  if (n < 4 || pfn <= 0 || pfn + n > giant_start) return 0;
  const small = i32x4.splat(PG_head | PG_tail);
  const dirty = i32x4.splat(PG_dirty);
  const bias = i32x4.splat(GUP_PIN_COUNTING_BIAS);
  let cleaned = i32x4.splat(0); // per lane: minus the pages dirtied here
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const at = (dense_frame(pfn + j + 3) - 3) << 2;
    const f = v128.load(flags_p + at);
    if (v128.any_true(v128.and(f, small))) break;
    const rc = v128.load(refcount_p + at);
    if (!i32x4.all_true(i32x4.gt_s(rc, bias))) break;
    if (make_dirty) {
      cleaned = i32x4.add(cleaned, i32x4.eq(v128.and(f, dirty), i32x4.splat(0)));
      v128.store(flags_p + at, v128.or(f, dirty));
    }
    v128.store(refcount_p + at, i32x4.sub(rc, bias));
  }
  const dirtied = -(i32x4.extract_lane(cleaned, 0) + i32x4.extract_lane(cleaned, 1) + i32x4.extract_lane(cleaned, 2)
    + i32x4.extract_lane(cleaned, 3));
  if (dirtied != 0) stats[NR_DIRTIED] += <f64>dirtied;
  return j;
}

// The maybe-pinned count over struct pages [0, n) (scan_maybe_pinned();
// on a sparse machine a 1 GiB folio's head and its shared tails are read
// once each, as stored), four per SIMD step: a small folio is pinned when
// its refcount, read as unsigned, is at least GUP_PIN_COUNTING_BIAS; a
// large folio's head (rare) is decided by its _pincount instead, where the
// era gives it one.
function page_at(i: i32): usize { assert(<u32>i < frames_n, 'struct page out of range'); return <usize>i; }

function head_maybe_pinned(i: i32): bool {
  const f = load<i32>(flags_p + (page_at(i) << 2));
  if (flags_have_pincount(f)) return load<f64>(index_p + (page_at(i + 1) << 3)) > 0.0;
  return <u32>load<i32>(refcount_p + (page_at(i) << 2)) >= <u32>GUP_PIN_COUNTING_BIAS;
}

export function count_maybe_pinned(n: i32): i32 {
  const bias = i32x4.splat(GUP_PIN_COUNTING_BIAS);
  const head_bit = i32x4.splat(PG_head);
  const zero = i32x4.splat(0);
  let acc = zero; // per lane: minus the number of pinned small folios seen
  let count = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const rc = v128.load(refcount_p + ((page_at(i + 3) - 3) << 2));
    const heads = i32x4.ne(v128.and(v128.load(flags_p + (page_at(i) << 2)), head_bit), zero);
    acc = i32x4.add(acc, v128.andnot(i32x4.ge_u(rc, bias), heads)); // true lanes are -1
    if (v128.any_true(heads)) {
      for (let j = i; j < i + 4; j++) if ((load<i32>(flags_p + (page_at(j) << 2)) & PG_head) != 0 && head_maybe_pinned(j)) count++;
    }
  }
  count -= i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const rc = load<i32>(refcount_p + (page_at(i) << 2));
    if ((load<i32>(flags_p + (page_at(i) << 2)) & PG_head) != 0) {
      if (head_maybe_pinned(i)) count++;
    } else if (rc < 0 || rc >= GUP_PIN_COUNTING_BIAS) {
      count++;
    }
  }
  return count;
}
