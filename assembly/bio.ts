// The per-page half of a bio's page handling (block/bio.c): dirtying the
// pages a read lands in, and finding those that writeback cleaned while
// the read was in flight. `off` and `n` name a PageArray's entries.
import { PG_dirty } from './constants';
import { page_slot, flags_at } from './raw';
import { page_folio } from './folio';
import { folio_mark_dirty, pc_lookup } from './pagecache';
import { pg_data, scratch, pfn_to_page } from './mem';

// Mirrors bio_set_pages_dirty(): every folio of the bio is marked dirty
// (set_page_dirty_lock) before a read is submitted. NULL entries are skipped.
export function bio_set_pages_dirty(off: i32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const pfn = page_slot(off + i);
    if (pfn >= 0) folio_mark_dirty(page_folio(pfn));
  }
}

// The scan of bio_check_pages_dirty(): the index of the first page whose
// folio is clean again (writeback ran meanwhile), or -1.
export function bio_first_clean(off: i32, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    const pfn = page_slot(off + i);
    if (pfn >= 0 && (flags_at(page_folio(pfn)) & PG_dirty) == 0) return i;
  }
  return -1;
}

// The page-cache side of a direct write at completion: pinsim updates the
// cached pages of [index, index + n) that exist with the words written
// (scratch[0..n)) where the kernel invalidates them
// (kiocb_invalidate_post_direct_write()); every later reader sees the same
// data either way.
export function pc_dio_update(mapping: i32, index: f64, n: i32): void {
  for (let i = 0; i < n; i++) {
    const pfn = pc_lookup(mapping, index + <f64>i);
    if (pfn >= 0) pg_data[pfn_to_page(pfn)] = scratch[i];
  }
}
