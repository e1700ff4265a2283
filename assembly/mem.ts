// Memory map of the core. Everything is allocated once, by boot(); nothing is
// allocated afterwards, so the Wasm memory never grows again and the façade's
// typed-array views over it stay valid.
//
//   per frame (struct page), 32 bytes; on a sparse machine per struct page,
//   indexed by pfn_to_page(pfn) (see giant_start below):
//     pg_flags[pfn]      i32  PG_* bits; a head's folio order in bits 16..20
//     pg_refcount[pfn]   i32  _refcount (heads only; tails stay 0)
//     pg_mapcount[pfn]   i32  PTE mappings of this page (page-table pages:
//                             number of non-empty entries)
//     pg_data[pfn]       u32  the page's contents, one word
//     pg_mapping[pfn]    i32  file id (page cache) or anon_vma id (anon);
//                             buddy: next free block; page-table page: its
//                             table slot; page[1] of a large folio:
//                             _entire_mapcount (PMD/PUD mappings)
//     pg_index[pfn]      f64  pgoff_t: page index in the file, or virtual
//                             page number for anon; buddy: previous free
//                             block; page[1] of a large folio: _pincount
//     pg_head[pfn]       i32  compound_head(): own pfn unless PG_tail
//   page cache, 8 bytes per RAM frame:
//     pcache[]           i32  open-addressing hash of (mapping, index) -> pfn+1
//   per pageblock (512 frames): pb_migratetype[] u8
//   page-table contents: pt_entries[slot * 1024 + i], u32 entries 0..511; for
//     a PMD table, [512 + i] holds the PTE table deposited for a huge PMD i
//     (pgtable_trans_huge_deposit), so that splitting it never allocates.
//   gup_pages[] i32  the page-array arena GUP writes pfns into: 2 per RAM frame
//   scratch[]  u32  bulk data exchanged with the façade (SCRATCH_WORDS)
//   stats[]    f64  counters (NR_* indices in constants.ts)
//   bad_log[]  i32  the last BAD_LOG_SIZE bad_page() reports, pfn << 2 | BAD_* reason
import {
  MAX_NR_ZONES, NR_PAGE_ORDERS, NR_STATS, PAGEBLOCK_ORDER, SCRATCH_WORDS, MIGRATE_MOVABLE, MIGRATE_CMA,
  ZONE_NORMAL, ZONE_MOVABLE, ZONE_DEVICE, PG_reserved, NR_FREE_DEVICE, BAD_LOG_SIZE, HPAGE_PUD_ORDER, MAX_PFN_BITS,
} from './constants';
import { new_i32, new_u32, new_f64, new_u8 } from './alloc';
import { sparse_memmap } from './raw';

export let pg_flags = new_i32(0);
export let pg_refcount = new_i32(0);
export let pg_mapcount = new_i32(0);
export let pg_data = new_u32(0);
export let pg_mapping = new_i32(0);
export let pg_index = new_f64(0);
export let pg_head = new_i32(0);
export let pcache = new_i32(0);
export let pb_migratetype = new_u8(0);
export let pt_entries = new_u32(0);
export let pt_free_slots = new_i32(0);
export let pt_slot_owner = new_i32(0); // slot -> pfn of the table page using it
export let scratch = new_u32(0);
export let stats = new_f64(0);
// free_area[zone][cma][order]: first free block, -1 if none; links in pg_mapping/pg_index
export let free_area = new_i32(0);
export let zone_free = new_i32(0);
export let hugetlb_pool = new_i32(0); // free hugetlb folios: [0..n2m) 2 MiB, then 1 GiB
export let gup_pages = new_i32(0); // the page-array arena: struct page *pages[] for GUP calls
export let bad_log = new_i32(0); // ring of bad_page() reports (assembly/folio.ts)
export let booted = false;

export let nr_frames = 0; // RAM + device frames
// A sparse memmap (machines above 256 GiB): struct pages for the frames
// below giant_start, then GIANT_SLOTS per boot-time 1 GiB folio above it
// (HugeTLB Vmemmap Optimization: every tail past page[2] reads page[3],
// whose fields are the same for all of them). giant_start == nr_frames
// when there is no sparse part: pfn_to_page() is then the identity.
export let giant_start = 0;
export let memmap_size = 0; // struct pages allocated: pg_* arrays' length
export let movable_start = 0; // first pfn of ZONE_MOVABLE (== device_start when none)
export let device_start = 0; // first pfn of ZONE_DEVICE (fsdax pmem)
export let cma_start = 0;
export let cma_end = 0;
export let pcache_mask = 0;
export let pt_nr_slots = 0;
export let pt_free_top = 0; // number of free slots on the pt_free_slots stack
export let hugetlb_cap_2m = 0; // capacity of the 2 MiB part of hugetlb_pool
export let dax_next = 0; // next unallocated device pfn (fsdax extents are carved in order)
export let huge_zero_pfn = -1; // the huge zero folio, allocated on first use
export let next_mapping_id = 1;

export const ZERO_PFN = 0; // the shared zero page
export const GIANT_SLOTS = 4; // struct pages kept per sparse 1 GiB folio
const GIANT_MASK = (1 << HPAGE_PUD_ORDER) - 1;
// Above this many frames the memmap is sparse (the flat layout's limit,
// 2^MAX_PFN_BITS frames: 256 GiB).
export const DENSE_MAX_FRAMES = 1 << MAX_PFN_BITS;

// pfn_to_page(): the struct page (index into pg_*) of a pfn. One compare
// for every pfn below the sparse part; none in the pure-TS core of a flat
// machine, where sparse_memmap() is a constant false (src/core/ts/raw.ts).
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function pfn_to_page(pfn: i32): i32 {
  return !sparse_memmap() || pfn < giant_start ? pfn : sparse_pfn_to_page(pfn);
}

// Out of line: small enough an inline pfn_to_page() stays for V8's budget.
function sparse_pfn_to_page(pfn: i32): i32 {
  const off = pfn - giant_start;
  const sub = off & GIANT_MASK;
  return giant_start + (off >>> HPAGE_PUD_ORDER) * GIANT_SLOTS + (sub < GIANT_SLOTS - 1 ? sub : GIANT_SLOTS - 1);
}

// The pfn field has MAX_PFN_BITS (256 GiB of frames). A PUD leaf mapping a
// sparse 1 GiB folio (always above them) stores giant_start plus the
// folio's number instead of its pfn: pinsim's encoding, where x86 stores
// the pfn in 40 bits. These two convert for mk_pte() and pte_pfn().
export function giant_pte_field(pfn: i32): i32 { return giant_start + ((pfn - giant_start) >>> HPAGE_PUD_ORDER); }
export function giant_field_pfn(v: i32): i32 { return giant_start + ((v - giant_start) << HPAGE_PUD_ORDER); }

// Struct pages a loop over a folio's nr pages must visit: all of them, but
// for a sparse 1 GiB folio only its GIANT_SLOTS distinct ones.
export function memmap_pages(head: i32, nr: i32): i32 { return head < giant_start ? nr : GIANT_SLOTS; }

// Does pfn share its struct page (and data word) with other pfns? The tails
// of a sparse 1 GiB folio past page[2] do: their contents are not kept.
export function page_is_shared_tail(pfn: i32): bool {
  return pfn >= giant_start && ((pfn - giant_start) & GIANT_MASK) >= GIANT_SLOTS - 1;
}

// Frames of the sparse part for a machine of ram_frames with pool_1g
// boot-time 1 GiB pages (0 when the memmap is flat).
export function sparse_frames(ram_frames: i32, pool_1g: i32): i32 {
  return ram_frames > DENSE_MAX_FRAMES ? pool_1g << HPAGE_PUD_ORDER : 0;
}

// Struct pages for ram_frames + device_frames: one per frame, GIANT_SLOTS
// per sparse 1 GiB folio (rounded to a pageblock-aligned 1024).
function memmap_frames(ram_frames: i32, device_frames: i32, pool_1g: i32): i32 {
  const sparse = sparse_frames(ram_frames, pool_1g);
  if (sparse == 0) return ram_frames + device_frames;
  return ram_frames - sparse + (((pool_1g * GIANT_SLOTS) + 1023) & ~1023);
}

export function set_huge_zero_pfn(pfn: i32): void { huge_zero_pfn = pfn; }
export function set_pt_free_top(n: i32): void { pt_free_top = n; }
export function set_dax_next(pfn: i32): void { dax_next = pfn; }
export function new_mapping_id(): i32 { return next_mapping_id++; }

// Bytes of everything mem_layout() allocates but the page-table slot pool.
function fixed_bytes(ram_frames: i32, device_frames: i32, pool_2m: i32, pool_1g: i32): f64 {
  const pages = <f64>memmap_frames(ram_frames, device_frames, pool_1g);
  const per_page = 4.0 * 6.0 + 8.0;
  const dense = ram_frames - sparse_frames(ram_frames, pool_1g);
  const arena = <f64>gup_arena_words(ram_frames, pool_1g) * 4.0;
  return pages * per_page + <f64>pcache_cap(dense) * 4.0 + <f64>(ram_frames + device_frames) / 512.0
    + <f64>SCRATCH_WORDS * 4.0 + <f64>(pool_2m + pool_1g) * 4.0 + arena + <f64>BAD_LOG_SIZE * 4.0 + 65536.0;
}

// Bytes mem_layout() allocates (the Wasm build grows its memory by this
// much once, up front, instead of letting the allocator double it).
export function layout_bytes(ram_frames: i32, device_frames: i32, pool_2m: i32, pool_1g: i32): f64 {
  const fixed = fixed_bytes(ram_frames, device_frames, pool_2m, pool_1g);
  return fixed + <f64>pt_pool_slots(ram_frames, fixed) * PT_SLOT_BYTES;
}

// The page-cache hash: a power of two at least twice the RAM frames.
function pcache_cap(ram_frames: i32): i32 {
  let cap = 1024;
  while (cap < ram_frames * 2) cap = cap << 1;
  return cap;
}

// A table slot: 1024 entries (512 and the deposits) plus its free-stack and
// owner words.
const PT_SLOT_BYTES = 4096.0 + 8.0;
// A 32-bit Wasm memory holds at most 4 GiB; 1 MiB of it is left to the
// runtime's own data and block headers. The pure-TS core keeps the same
// layout, so that both cores run out of table slots at the same point.
const MEMORY_BYTES = 4294967296.0 - 1048576.0;
// pt_entries is one AssemblyScript block, and a block is below 1 GiB.
const PT_MAX_SLOTS = 255 * 1024;

// One table slot per 128 RAM frames (at least 512): enough to map all of
// RAM four times over with 4 KiB pages. Past 64 GiB that no longer fits in
// 4 GiB beside struct pages: the pool gets what is left (at 256 GiB about
// 255 Ki slots, RAM twice over). Running out gives -ENOMEM.
function pt_pool_slots(ram_frames: i32, fixed: f64): i32 {
  let slots = ram_frames >>> 7; // (a sparse machine asks for the cap)
  if (slots < 512) slots = 512;
  if (slots > PT_MAX_SLOTS) slots = PT_MAX_SLOTS;
  const room = Math.floor((MEMORY_BYTES - fixed) / PT_SLOT_BYTES);
  return room >= 512.0 && <f64>slots > room ? <i32>room : slots;
}

// Entries in the page-array arena: enough to hold every RAM page twice;
// on a sparse machine every flat page twice and half the sparse part (a
// 512 GiB VFIO mapping of 1 GiB pages is 2^27 entries).
function gup_arena_words(ram_frames: i32, pool_1g: i32): i32 {
  const sparse = sparse_frames(ram_frames, pool_1g);
  if (sparse != 0) return (ram_frames - sparse) * 2 + (sparse >>> 1);
  return ram_frames < 32768 ? 65536 : ram_frames * 2;
}

export function page_zonenum(pfn: i32): i32 {
  if (pfn < movable_start) return ZONE_NORMAL;
  if (pfn < device_start) return ZONE_MOVABLE;
  return ZONE_DEVICE;
}

export function is_migrate_cma_page(pfn: i32): bool {
  return pb_migratetype[pfn >>> PAGEBLOCK_ORDER] == MIGRATE_CMA;
}

// Lays out every array for a machine of ram_frames RAM frames (of which the
// last movable_frames form ZONE_MOVABLE) and device_frames of pmem. The CMA
// area is the top cma_frames of ZONE_NORMAL. All sizes are multiples of 1024
// frames (MAX_PAGE_ORDER), checked by the façade. Filling the free lists is
// left to buddy_init() so that hugetlb boot allocations can come first.
export function mem_layout(ram_frames: i32, movable_frames: i32, cma_frames: i32, device_frames: i32,
  pool_2m: i32, pool_1g: i32): void {
  nr_frames = ram_frames + device_frames;
  giant_start = ram_frames + device_frames - sparse_frames(ram_frames, pool_1g);
  memmap_size = memmap_frames(ram_frames, device_frames, pool_1g);
  movable_start = ram_frames - movable_frames;
  device_start = ram_frames;
  cma_end = movable_start;
  cma_start = movable_start - cma_frames;
  dax_next = device_start;
  pg_flags = new_i32(memmap_size);
  pg_refcount = new_i32(memmap_size);
  pg_mapcount = new_i32(memmap_size);
  pg_data = new_u32(memmap_size);
  pg_mapping = new_i32(memmap_size);
  pg_index = new_f64(memmap_size);
  pg_head = new_i32(memmap_size);
  const cap = pcache_cap(giant_start < ram_frames ? giant_start : ram_frames);
  pcache = new_i32(cap);
  pcache_mask = cap - 1;
  const nr_blocks = nr_frames >>> PAGEBLOCK_ORDER;
  pb_migratetype = new_u8(nr_blocks);
  for (let b = 0; b < nr_blocks; b++) {
    pb_migratetype[b] = <u8>(b >= (cma_start >>> PAGEBLOCK_ORDER) && b < (cma_end >>> PAGEBLOCK_ORDER)
      ? MIGRATE_CMA : MIGRATE_MOVABLE);
  }
  pt_nr_slots = pt_pool_slots(ram_frames, fixed_bytes(ram_frames, device_frames, pool_2m, pool_1g));
  pt_entries = new_u32(pt_nr_slots << 10);
  pt_free_slots = new_i32(pt_nr_slots);
  pt_slot_owner = new_i32(pt_nr_slots);
  for (let s = 0; s < pt_nr_slots; s++) pt_free_slots[s] = pt_nr_slots - 1 - s;
  pt_free_top = pt_nr_slots;
  scratch = new_u32(SCRATCH_WORDS);
  stats = new_f64(NR_STATS);
  free_area = new_i32(MAX_NR_ZONES * 2 * NR_PAGE_ORDERS);
  free_area.fill(-1);
  zone_free = new_i32(MAX_NR_ZONES);
  hugetlb_cap_2m = pool_2m;
  hugetlb_pool = new_i32(pool_2m + pool_1g);
  gup_pages = new_i32(gup_arena_words(ram_frames, pool_1g));
  bad_log = new_i32(BAD_LOG_SIZE);
  // The shared zero page, like the kernel's empty_zero_page: reserved, never freed.
  pg_flags[ZERO_PFN] = PG_reserved;
  pg_refcount[ZERO_PFN] = 1;
  for (let pfn = device_start; pfn < nr_frames; pfn++) pg_head[pfn] = pfn;
  stats[NR_FREE_DEVICE] = <f64>device_frames;
  booted = true;
}
