// What a filesystem's writeback does with a dirty folio that has no
// buffers (dirtied behind ->page_mkwrite, e.g. set_page_dirty_lock() at the
// release of a GUP reference after writeback stripped them), era by era.
// ext4 before 5.18 dereferences the missing buffers: a kernel BUG (the
// exact BUG_ON site and line are UNVERIFIED; pinsim names the page walk of
// mpage_prepare_extent_to_map()). cc5095747edf (5.18) logs an ext4 warning,
// clears the dirty bit and skips the folio: the data is lost silently.
// xfs and btrfs: pinsim writes the folio and reports the hazard (xfs's
// iomap writeback makes its per-folio state on demand; btrfs's fixup worker
// is not modelled).
import * as C from '../../assembly/constants';
import type { KernelRules } from '../eras/timeline';
import type { SimFile } from './file';

// writeback_range()'s `nobuf` argument for this file.
export function noBuffersMode(f: SimFile, kr: KernelRules): number {
  if (f.fs !== 'ext4') return C.WB_NOBUF_WRITE;
  return kr.ext4DirtyWithoutBuffers === 'bug' ? C.WB_NOBUF_STOP : C.WB_NOBUF_DROP;
}

export const EXT4_SITE = 'mpage_prepare_extent_to_map';
const EXT4_BUG_LINE = 2620; // UNVERIFIED
const EXT4_WARN_LINE = 2713; // UNVERIFIED

// ext4_warning_inode()'s line for the 5.18+ check (ratelimited in the kernel; pinsim logs each).
export function ext4NoBuffersWarning(f: SimFile, index: number, comm: string): string {
  return `EXT4-fs warning (device nvme0n1): ${EXT4_SITE}:${EXT4_WARN_LINE}: inode #${f.id}: comm ${comm}: page ${index} does not have buffers attached`;
}

// The pre-5.18 BUG's site and call trace (KernelBase.bug() prints the oops).
export const EXT4_BUG_SITE = `fs/ext4/inode.c:${EXT4_BUG_LINE}`;
export const EXT4_BUG_TRACE = ['ext4_writepages', 'do_writepages', 'filemap_fdatawrite_wbc'] as const;
