// How a driver of the machine's era takes and drops the references on user
// pages its device uses: pin_user_pages*() and unpin_user_page*() from 5.6
// (pinApi), get_user_pages*() with the same FOLL_* flags and put_page()
// (after set_page_dirty_lock() when the device wrote) before. Chosen once
// per call; the 5.6 pin is +1 like a get (pinBias), which the GUP layer does.
import type { PageArray } from '../gup/page-array';
import type { Mm } from '../mm/mm';
import type { Task } from '../task';
import type { Kernel } from './kernel';

// pin_user_pages_fast() / get_user_pages_fast().
export function grabFast(k: Kernel, t: Task, start: number, n: number, flags: number, pages: PageArray): number {
  return k.kr.pinApi ? k.pin_user_pages_fast(t, start, n, flags, pages) : k.get_user_pages_fast(t, start, n, flags, pages);
}

// pin_user_pages() / get_user_pages().
export function grabSlow(k: Kernel, t: Task, start: number, n: number, flags: number, pages: PageArray): number {
  return k.kr.pinApi ? k.pin_user_pages(t, start, n, flags, pages) : k.get_user_pages(t, start, n, flags, pages);
}

// pin_user_pages_remote() / get_user_pages_remote().
export function grabRemote(k: Kernel, mm: Mm, start: number, n: number, flags: number, pages: PageArray): number {
  return k.kr.pinApi ? k.pin_user_pages_remote(mm, start, n, flags, pages) : k.get_user_pages_remote(mm, start, n, flags, pages);
}

// unpin_user_pages_dirty_lock() / put_user_pages_dirty_lock() (5.3-5.5's
// release of GUP references: set_page_dirty_lock() and put_page() per page).
export function dropPages(k: Kernel, pages: PageArray, n: number, dirty: boolean): void {
  if (k.kr.pinApi) k.unpin_user_pages_dirty_lock(pages, n, dirty);
  else k.put_user_pages_dirty_lock(pages, n, dirty);
}

// The release of FOLL_GET references in any era (a bio of FOLL_GET pages):
// set_page_dirty_lock() if asked, then release_pages().
export function putPages(k: Kernel, pages: PageArray, n: number, dirty: boolean): void {
  if (dirty) k.guard(() => k.core.bio_set_pages_dirty(pages.offset, n));
  k.release_pages(pages, n);
}

// unpin_user_page_range_dirty_lock() / the same per page of [pfn, pfn + n).
export function dropRange(k: Kernel, pfn: number, n: number, dirty: boolean): void {
  if (k.kr.pinApi) return k.unpin_user_page_range_dirty_lock(pfn, n, dirty);
  for (let i = pfn; i < pfn + n; i++) {
    if (dirty) k.set_page_dirty_lock(i);
    k.put_page(i);
  }
}
