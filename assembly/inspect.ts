// Read-only looks at the machine: address translation and a state digest.
import { pt_walk, walk_level, leaf_subpage, pte_bits } from './pgtable';
import { count_maybe_pinned } from './raw';
import {
  pg_flags, pg_refcount, pg_mapcount, pg_data, pg_mapping, pg_index, pg_head, pcache, pb_migratetype,
  pt_entries, free_area, zone_free, stats, hugetlb_pool, scratch,
} from './mem';

// The pfn of the base page mapping vpn (follow_page-like, no faults), or -1.
// scratch[0] gets the leaf entry's bits, scratch[1] its level.
export function translate(pgd: i32, vpn: f64): i32 {
  const ei = pt_walk(pgd, vpn, 0, false);
  if (ei < 0) return -1;
  const level = walk_level;
  const bits = pte_bits(pt_entries[ei]);
  if (bits == 0) return -1;
  scratch[0] = <u32>bits;
  scratch[1] = <u32>level;
  return leaf_subpage(pt_entries[ei], vpn, level);
}

// Counts the folios folio_maybe_dma_pinned() reports, over every frame
// (what a "which pages are pinned?" scan costs). The Wasm build does it
// four frames per SIMD step (assembly/raw.ts).
export function scan_maybe_pinned(): i32 {
  return count_maybe_pinned(pg_refcount.length);
}

// FNV-1a over 32-bit words; the multiply by 16777619 written as shifts so
// that both cores compute it with the same wrapping arithmetic.
function mix(h: i32, v: i32): i32 {
  h = h ^ v;
  return (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) | 0;
}

function mix_f64(h: i32, v: f64): i32 {
  const hi = Math.floor(v / 65536.0);
  return mix(mix(h, <i32>hi), <i32>(v - hi * 65536.0));
}

// A digest of every byte of machine state (every struct page, indexed as
// stored: on a sparse machine the shared tails once): two cores that agree on it agree
// on everything.
export function digest(): i32 {
  let h = -2128831035; // 2166136261, the FNV offset basis, as an i32
  const n = pg_flags.length;
  for (let i = 0; i < n; i++) {
    h = mix(h, pg_flags[i]);
    h = mix(h, pg_refcount[i]);
    h = mix(h, pg_mapcount[i]);
    h = mix(h, <i32>pg_data[i]);
    h = mix(h, pg_mapping[i]);
    h = mix_f64(h, pg_index[i]);
    h = mix(h, pg_head[i]);
  }
  for (let i = 0; i < pcache.length; i++) h = mix(h, pcache[i]);
  for (let i = 0; i < pb_migratetype.length; i++) h = mix(h, <i32>pb_migratetype[i]);
  for (let i = 0; i < pt_entries.length; i++) h = mix(h, <i32>pt_entries[i]);
  for (let i = 0; i < free_area.length; i++) h = mix(h, free_area[i]);
  for (let i = 0; i < zone_free.length; i++) h = mix(h, zone_free[i]);
  for (let i = 0; i < hugetlb_pool.length; i++) h = mix(h, hugetlb_pool[i]);
  for (let i = 0; i < stats.length; i++) h = mix_f64(h, stats[i]);
  return h;
}
