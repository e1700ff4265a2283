// The core's interface: every function the façade may call, in both the
// Wasm build (assembly/index.ts) and the pure-TS build (src/core/ts).
// All arguments are numbers; results come back as numbers or through the
// typed-array views (scratch, stats, the frame arrays).
import { ENOMEM, ENOSPC, PG_uptodate, NR_FREE_DEVICE, BAD_LOG_SIZE } from './constants';
import {
  pg_flags, pg_mapping, pg_index, pg_refcount, pg_head, nr_frames, dax_next, set_dax_next, stats, pt_nr_slots, bad_log, pfn_to_page,
  gup_pages, giant_start,
} from './mem';
import { pt_alloc } from './pgtable';
import { sparse_memmap } from './raw';

// Forgets the remembered page-table walk: no result may depend on it
// (test/walk-cache.test.ts resets it before every operation of a twin machine).
export { walk_cache_reset } from './pgtable';

export { boot } from './boot';
export { set_kernel_rules } from './rules';
export { new_mapping_id, layout_bytes } from './mem';
export { set_vma, set_alloc_gfp } from './vma';
export { fault_range, cpu_access, fault_status } from './memory';
export { zap_range, free_pgtables, mm_free } from './zap';
export { change_protection, mkclean_range, mkclean_first, mkclean_last } from './mprotect';
export {
  set_mm_notify, notify_pending_event, notify_pending_start, notify_pending_nr, notify_ack, first_populated_pud, thp_leaf_at,
} from './notify';
export { hmm_walk, hmm_status, hmm_fault_run, hmm_fault_write } from './hmm';
export { copy_page_range } from './fork';
export { split_huge_pmd_address } from './huge_memory';
export { pc_fill, pc_read, pc_write, pc_lookup, pc_truncate, writeback_range, writeback_next } from './pagecache';
export { translate, digest, scan_maybe_pinned } from './inspect';
export { frame_summary } from './frame_map';
export { gup_fast, gup_slow, unpin_pages, unpin_range, folio_is_longterm_pinnable } from './gup';
export {
  collect_unpinnable, putback_folio, migrate_folios_start, mapping_run, migrate_folios_remap, migrate_folios_finish,
} from './migrate';
export { folio_maybe_dma_pinned, bad_page_reports } from './folio';
export { lru_add_drain } from './lru';
export { mlock_range, count_mlocked } from './mlock';
export { vfio_pfn_run, vfio_run_reserved, vfio_pfn_reserved } from './vfio';
export { mm_rss } from './task_mmu';
export { bio_set_pages_dirty, bio_first_clean, pc_dio_update } from './bio';
export { io_check_coalesce, io_coalesce, io_first_idx, io_acct_scan, io_acct_small, io_acct_pairs } from './io_uring';
export { rdma_sg_chunk, rdma_sg_next, rdma_sg_unpin, rdma_odp_unmap } from './rdma';
export { dmirror_perm, dmirror_runs } from './hmm_mirror';
export { contig_collect, contig_next, contig_first_busy, contig_first_unmovable, contig_take, contig_give } from './contig';
export {
  check_frames, count_pins, pages_match, check_map_clear, check_map_walk, check_map_compare, check_map_first,
} from './check';

// mm_alloc()'s pgd_alloc(): the new mm's PGD page, or -ENOMEM.
export function mm_alloc(): i32 {
  const pgd = pt_alloc();
  return pgd < 0 ? -ENOMEM : pgd;
}

// Gives an fsdax file n contiguous pmem pages (its blocks) and returns the
// first pfn, or -ENOSPC. The pages stay idle (refcount 0) until mapped.
export function dax_alloc(n: i32, mapping: i32): i32 {
  if (n > nr_frames - dax_next) return -ENOSPC;
  const first = dax_next;
  for (let i = 0; i < n; i++) {
    const pfn = first + i;
    pg_flags[pfn_to_page(pfn)] = PG_uptodate;
    pg_mapping[pfn_to_page(pfn)] = mapping;
    pg_index[pfn_to_page(pfn)] = <f64>i;
    pg_refcount[pfn_to_page(pfn)] = 0;
    pg_head[pfn_to_page(pfn)] = pfn;
  }
  set_dax_next(first + n);
  stats[NR_FREE_DEVICE] -= <f64>n;
  return first;
}

// Lengths of the views (assembly/index.ts): struct pages (fewer than
// frames on a sparse machine) and the page-array arena.
export function memmap_len(): i32 { return pg_flags.length; }
export function arena_len(): i32 { return gup_pages.length; }
// The first pfn of the sparse part (nr_frames when the memmap is flat).
export function sparse_start(): i32 { return giant_start; }
// Whether this build can hold a sparse memmap (the flat Wasm release build
// cannot: boot() refuses a machine above 256 GiB on it before its boot).
export function sparse_capable(): bool { return sparse_memmap(); }

// How many page-table pages the machine can hold (the table-slot pool).
export function pt_capacity(): i32 { return pt_nr_slots; }

// The bad_page() report number i (of bad_page_reports(); the last
// BAD_LOG_SIZE are kept): pfn << BAD_REASON_BITS | BAD_* reason.
export function bad_page_log(i: i32): i32 { return bad_log[i % BAD_LOG_SIZE]; }
