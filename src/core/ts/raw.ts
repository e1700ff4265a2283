// Access to the hottest arrays (pure-TS build; see assembly/raw.ts): plain
// typed-array indexing, which V8 compiles to one bounds-checked load.
import {
  pg_flags, pg_refcount, pg_head, pg_index, pg_mapping, pg_mapcount, pt_entries, pt_slot_owner, gup_pages, pb_migratetype,
  nr_frames, pfn_to_page, giant_start, giant_pte_field, giant_field_pfn,
} from '../../../assembly/mem';
import { GUP_PIN_COUNTING_BIAS, PTE_PFN_SHIFT } from '../../../assembly/constants';
import { flags_have_pincount } from '../../../assembly/rules';

// The machine's memmap is sparse (above 256 GiB): a literal in each
// machine's copy of the core (scripts/build.mjs, ./ts-core.ts), so that V8
// folds pfn_to_page() away on every other machine.
declare const SPARSE_MEMMAP: boolean;
export function sparse_memmap(): boolean { return SPARSE_MEMMAP; }
// pfn_to_page() with the test in the accessor itself (V8's inlining budget).
function page(pfn: number): number { return SPARSE_MEMMAP ? pfn_to_page(pfn) : pfn; }
// vpn_hi(), vpn_lo() and small_int() (assembly/raw.ts) in plain arithmetic.
export function vpn_hi(vpn: number): number { return Math.floor(vpn * (1.0 / 262144.0)); } // exact: a power of two
export function vpn_lo(vpn: number, hi: number): number { return vpn - hi * 262144.0; }
export function small_int(d: number): number { return d; }
// mk_pte() and pte_pfn() compare with giant_start (== nr_frames on a flat
// machine): measured, the SPARSE_MEMMAP literal here cost the fault path 4%
// through V8's inlining budget.
export function mk_pte(pfn: number, bits: number): number {
  return ((pfn < giant_start ? pfn : giant_pte_field(pfn)) << PTE_PFN_SHIFT) | bits; // stored in a Uint32Array
}
export function pte_pfn(e: number): number {
  const v = e >>> PTE_PFN_SHIFT;
  return v < giant_start ? v : giant_field_pfn(v);
}

export function raw_attach(): void {}

export function flags_at(pfn: number): number { return pg_flags[page(pfn)]; }
export function set_flags_at(pfn: number, v: number): void { pg_flags[page(pfn)] = v; }
export function refcount_at(pfn: number): number { return pg_refcount[page(pfn)]; }
export function set_refcount_at(pfn: number, v: number): void { pg_refcount[page(pfn)] = v; }
export function head_at(pfn: number): number { return pg_head[page(pfn)]; }
export function mapping_at(pfn: number): number { return pg_mapping[page(pfn)]; }
export function set_mapping_at(pfn: number, v: number): void { pg_mapping[page(pfn)] = v; }
export function set_head_at(pfn: number, v: number): void { pg_head[page(pfn)] = v; }
export function index_at(pfn: number): number { return pg_index[page(pfn)]; }
export function set_index_at(pfn: number, v: number): void { pg_index[page(pfn)] = v; }
export function pincount_at(head: number): number { return pg_index[page(head + 1)]; }
export function set_pincount_at(head: number, v: number): void { pg_index[page(head + 1)] = v; }
export function pte_at(ei: number): number { return pt_entries[ei]; }
export function set_pte_at(ei: number, v: number): void { pt_entries[ei] = v; }
export function mapcount_at(pfn: number): number { return pg_mapcount[page(pfn)]; }
export function set_mapcount_at(pfn: number, v: number): void { pg_mapcount[page(pfn)] = v; }
export function slot_owner_at(slot: number): number { return pt_slot_owner[slot]; }
export function page_slot(i: number): number { return gup_pages[i]; }
export function set_page_slot(i: number, pfn: number): void { gup_pages[i] = pfn; }
export function page_slot_ok(i: number): boolean { return i >>> 0 < gup_pages.length; }
export function migratetype_at(pfn: number): number { return pb_migratetype[pfn >>> 9]; }

// The first of the n entries from gup_pages[off] that is neither NULL
// (-1) nor a frame of this machine, or -1.
export function first_bad_slot(off: number, n: number): number {
  const limit = nr_frames;
  for (let i = 0; i < n; i++) {
    const pfn = gup_pages[off + i];
    if (pfn >= limit || pfn < -1) return i;
  }
  return -1;
}

// gup_folio_next()'s run: entries from gup_pages[off] inside [head, end).
export function folio_run(off: number, n: number, head: number, end: number): number {
  let i = 0;
  while (i < n) {
    const pfn = gup_pages[off + i];
    if (pfn < head || pfn >= end) break;
    i++;
  }
  return i;
}

// record_subpages(): gup_pages[out + j] = pfn + j for j < n.
export function fill_run(out: number, pfn: number, n: number): void {
  for (let j = 0; j < n; j++) gup_pages[out + j] = pfn + j;
}

// The batched common cases of GUP-fast, the slow path, unpin and the
// FOLL_LONGTERM check are SIMD in the Wasm build (assembly/raw.ts); here
// every page goes through the loops one by one.
export function grab_small_quads(_ei: number, _n: number, _flags: number, _out: number): number {
  return 0;
}

export function follow_small_quads(_ei: number, _n: number, _flags: number, _out: number): number {
  return 0;
}

export function put_small_pin_quads(_off: number, _n: number): number {
  return 0;
}

export function put_small_pin_run_quads(_pfn: number, _n: number, _make_dirty: boolean): number {
  return 0;
}

export function pinnable_small_quads(_off: number, _n: number): number {
  return 0;
}

// scan_maybe_pinned() over struct pages [0, n) as stored, one at a time.
export function count_maybe_pinned(n: number): number {
  let count = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    const rc = pg_refcount[pfn];
    if (rc === 0) continue; // free, tail, or idle device pages
    if (flags_have_pincount(pg_flags[pfn])) {
      if (pg_index[pfn + 1] > 0) count++;
    } else if (rc < 0 || rc >= GUP_PIN_COUNTING_BIAS) {
      count++;
    }
  }
  return count;
}
