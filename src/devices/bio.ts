// The block layer's handling of user pages (lib/iov_iter.c, block/bio.c):
// extracting an iovec segment's pages with a FOLL_PIN pin (6.5+,
// 1ccf164ec866; FOLL_GET references before: odirectPin), dirtying the
// pages a read lands in, and releasing them at completion. Kernel-level
// functions: they return -errno, as the kernel's do.
import * as C from '../../assembly/constants';
import { checkBool, checkInt } from '../errors';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';
import type { Kernel } from './kernel';
import { putPages } from './refs';

const PAGE = C.PAGE_SIZE;

// What iov_iter_extract_pages() hands back; a bio over these pages.
export interface Bio {
  readonly pages: PageArray; // the pinned (or, before 6.5, referenced) pages, in order
  readonly vcnt: number; // bi_vcnt: how many
  readonly offset: number; // of the first byte in the first page
  readonly bytes: number; // extracted
  readonly gup_flags: number; // FOLL_PIN (FOLL_GET before 6.5), with FOLL_WRITE for a read into memory
  released: boolean;
}

// Mirrors iov_iter_extract_pages() on a user-backed iterator (one iovec
// segment): pins up to maxPages pages with pin_user_pages_fast(), FOLL_PIN
// and FOLL_WRITE when the iterator is a destination (ITER_DEST: a read into
// memory), never FOLL_LONGTERM: a short-term pin, charged to nothing.
// Returns the bio's pages, or 0 / -errno when none could be pinned. A
// short pin extracts fewer bytes. Before 6.5 this was iov_iter_get_pages():
// get_user_pages_fast(), references the kernel cannot tell from others, so
// fork shares the buffer and writeback strips its buffers.
export function iovIterExtractPages(k: Kernel, t: Task, iov: { base: number; len: number }, maxPages: number, dest: boolean): Bio | number {
  const base = checkInt('iov.base', iov.base);
  const len = checkInt('iov.len', iov.len);
  const max = checkInt('maxPages', maxPages);
  checkBool('dest', dest);
  if (len <= 0 || max <= 0) return 0;
  const offset = base % PAGE;
  const n = Math.min(max, Math.ceil((offset + len) / PAGE));
  const gup_flags = dest ? C.FOLL_WRITE : 0;
  const pages = k.pageArray(n);
  const pin = k.kr.odirectPin;
  const got = pin ? k.pin_user_pages_fast(t, base - offset, n, gup_flags, pages) : k.get_user_pages_fast(t, base - offset, n, gup_flags, pages);
  if (got <= 0) {
    pages.free();
    return got;
  }
  return { pages, vcnt: got, offset, bytes: Math.min(len, got * PAGE - offset), gup_flags: gup_flags | (pin ? C.FOLL_PIN : C.FOLL_GET), released: false };
}

// Mirrors bio_set_pages_dirty(): marks every folio dirty before a read is submitted.
export function bioSetPagesDirty(k: Kernel, bio: Bio): void {
  k.guard(() => k.core.bio_set_pages_dirty(bio.pages.offset, bio.vcnt));
}

// Mirrors bio_release_pages(): dirties the folios when asked, then unpins
// them (BIO_PAGE_PINNED), or puts them (before 6.5); the page list goes with them.
export function bioReleasePages(k: Kernel, bio: Bio, markDirty: boolean): void {
  if (bio.released) throw new TypeError('bio_release_pages: this bio was released already');
  const dirty = checkBool('markDirty', markDirty);
  if (bio.gup_flags & C.FOLL_PIN) k.unpin_user_pages_dirty_lock(bio.pages, bio.vcnt, dirty);
  else putPages(k, bio.pages, bio.vcnt, dirty);
  bio.pages.free();
  bio.released = true;
}

// Mirrors bio_check_pages_dirty(): a read's pages are released without
// dirtying when all are still dirty; when writeback cleaned any of them
// meanwhile, the kernel punts the bio to a work item that dirties them
// again (set_page_dirty_lock, no ->page_mkwrite) and releases them. pinsim
// runs that work at once. True when it had to re-dirty.
export function bioCheckPagesDirty(k: Kernel, bio: Bio): boolean {
  const redirty = k.guard(() => k.core.bio_first_clean(bio.pages.offset, bio.vcnt)) >= 0;
  bioReleasePages(k, bio, redirty);
  return redirty;
}
