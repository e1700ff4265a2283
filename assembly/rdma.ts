// The per-page parts of RDMA memory registration (drivers/infiniband/core):
// the scatterlist of a pinned MR's page list, and an ODP umem's unmap of
// its device page list. Results come back through scratch in chunks.
import { SCRATCH_WORDS, HMM_PFN_VALID_HI, HMM_PFN_WRITE_HI } from './constants';
import { scratch } from './mem';
import { page_folio } from './folio';
import { folio_mark_dirty } from './pagecache';
import { page_slot } from './raw';
import { unpin_range } from './gup';

let sg_next = 0;

// Where the last rdma_sg_chunk() stopped: the index of the first page it
// did not cover (n when the list is done).
export function rdma_sg_next(): i32 { return sg_next; }

// Mirrors sg_alloc_append_table_from_pages() over the n pfns from the
// page-array slot off, starting at page `from`: each entry is a maximal run
// of consecutive pfns of at most max_pages pages. Writes (first pfn, pages)
// pairs into scratch, at most SCRATCH_WORDS / 2 of them, and returns how
// many; an entry never spans two chunks, so chunks join without merging.
export function rdma_sg_chunk(off: i32, n: i32, from: i32, max_pages: i32): i32 {
  let nents = 0;
  let i = from;
  while (i < n && nents < SCRATCH_WORDS / 2) {
    const first = page_slot(off + i);
    let len = 1;
    while (i + len < n && len < max_pages && page_slot(off + i + len) == first + len) len++;
    scratch[2 * nents] = <u32>first;
    scratch[2 * nents + 1] = <u32>len;
    nents++;
    i += len;
  }
  sg_next = i;
  return nents;
}

// The loop of __ib_umem_release(): scratch holds n scatterlist entries
// (first pfn, pages); each is unpin_user_page_range_dirty_lock()ed (flags: the
// reference kind the era's pins took).
export function rdma_sg_unpin(n: i32, make_dirty: bool, flags: i32): void {
  for (let i = 0; i < n; i++) unpin_range(<i32>scratch[2 * i], <i32>scratch[2 * i + 1], make_dirty, flags);
}

// The page loop of ib_umem_odp_unmap_dma_pages(): scratch holds n entries
// of the device page list (hmm_pfns words, low then high). Each mapped
// entry is dropped by the caller; a page the device mapped writable is
// dirtied first (set_page_dirty() on its head). Returns the mapped entries.
export function rdma_odp_unmap(n: i32): i32 {
  let mapped = 0;
  for (let i = 0; i < n; i++) {
    const hi = <i32>scratch[2 * i + 1];
    if ((hi & HMM_PFN_VALID_HI) == 0) continue;
    mapped++;
    if ((hi & HMM_PFN_WRITE_HI) != 0) folio_mark_dirty(page_folio(<i32>scratch[2 * i]));
  }
  return mapped;
}
