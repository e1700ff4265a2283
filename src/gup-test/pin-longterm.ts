// gup_test's PIN_LONGTERM_TEST_START / _READ / _STOP ioctls (mm/gup_test.c,
// used by cow.c and gup_longterm.c): one long-term pin held across calls,
// read back through the pinned frames. pinsim offers them in every era that
// has pin_user_pages() (the kernel added them in 6.1; a choice, so that the
// selftests can show what older kernels did); before 5.6 they are EINVAL.
import * as C from '../../assembly/constants';
import type { Kernel } from '../devices/kernel';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';

export const PIN_LONGTERM_TEST_FLAG_USE_WRITE = 1;
export const PIN_LONGTERM_TEST_FLAG_USE_FAST = 2;

const PAGE = C.PAGE_SIZE;
const BATCH = PAGE / 8; // pages pinned per call: a page worth of struct page pointers

export class PinLongtermTest {
  #pages: PageArray | null = null;
  #nr = 0;

  constructor(readonly kernel: Kernel) {}

  // PIN_LONGTERM_TEST_START: 0 or -errno; a failure holds nothing.
  start(t: Task, addr: number, size: number, flags: number): number {
    const k = this.kernel;
    if (!k.rules.pinApi.value) return -C.EINVAL; // no such ioctl
    if (this.#pages || flags & ~(PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST)) return -C.EINVAL;
    if (size <= 0 || addr % PAGE || size % PAGE) return -C.EINVAL;
    const total = size / PAGE;
    const gupFlags = C.FOLL_LONGTERM | (flags & PIN_LONGTERM_TEST_FLAG_USE_WRITE ? C.FOLL_WRITE : 0);
    const pages = k.pageArray(total);
    this.#pages = pages;
    this.#nr = 0;
    while (this.#nr < total) {
      const want = Math.min(BATCH, total - this.#nr);
      const at = addr + this.#nr * PAGE;
      const sub = pages.subarray(this.#nr, this.#nr + want);
      const got = flags & PIN_LONGTERM_TEST_FLAG_USE_FAST
        ? k.pin_user_pages_fast(t, at, want, gupFlags, sub)
        : k.pin_user_pages(t, at, want, gupFlags, sub);
      if (got <= 0) {
        this.stop();
        return got < 0 ? got : -C.EFAULT;
      }
      this.#nr += got;
    }
    return 0;
  }

  // PIN_LONGTERM_TEST_READ: each pinned page's word, as the pin sees it.
  read(): Uint32Array | number {
    const pages = this.#pages;
    if (!pages) return -C.EINVAL;
    return Uint32Array.from(pages.pfns.subarray(0, this.#nr), (pfn) => this.kernel.dma_read(pfn));
  }

  // PIN_LONGTERM_TEST_STOP
  stop(): void {
    if (!this.#pages) return;
    if (this.#nr) this.kernel.unpin_user_pages(this.#pages, this.#nr);
    this.#pages.free();
    this.#pages = null;
    this.#nr = 0;
  }
}
