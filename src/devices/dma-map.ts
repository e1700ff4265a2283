// What VFIO type1 and iommufd share: the long-term pin of a user range for
// an IOMMU mapping, the u64 fields of their ioctl structs, and the calling
// task of an ioctl on a device file.
import * as C from '../../assembly/constants';
import { checkInt, fail } from '../errors';
import type { PageArray } from '../gup/page-array';
import type { Mm } from '../mm/mm';
import { Task } from '../task';
import type { DeviceFile } from './device';
import type { Kernel } from './kernel';
import { grabRemote } from './refs';

const PAGE = C.PAGE_SIZE;

// 2^64 is what JS makes of U64_MAX (0xffffffffffffffff): it stands for it.
export const U64_MAX = 2 ** 64;

// A __u64 ioctl field: an integer in [0, U64_MAX]. Above 2^53 JS holds
// only even multiples, which the page-aligned values the checks care
// about are.
export function checkU64(what: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < 0 || v > U64_MAX) throw new RangeError(`${what} must be an integer in [0, 2^64), got ${v}`);
  return v;
}

export function checkFlags(what: string, v: unknown): number {
  const f = checkInt(what, v);
  if (f < 0 || f > 0xffffffff) throw new RangeError(`${what} must be an unsigned 32-bit value, got ${f}`);
  return f;
}

// The task making an ioctl on dev: `current` (default: the opener), which
// must hold an fd to it. A closed device (its last fd gone) is EBADF.
export function ioctlCaller(dev: DeviceFile, ioctl: string, current: Task | undefined, opener: Task): Task {
  if (current !== undefined && (!(current instanceof Task) || current.kernel !== dev.kernel)) {
    throw new TypeError(`${ioctl}: current must be a task of this machine`);
  }
  const t = current ?? opener;
  if (dev.closed) throw fail(ioctl, C.EBADF, `${dev.path} (${dev.name}) is closed`);
  if (t.exited) throw fail(ioctl, C.ESRCH, `task ${t.pid} has exited`);
  if (![...t.fds.values()].includes(dev)) throw fail(ioctl, C.EBADF, `task ${t.pid} holds no fd of ${dev.name}`);
  return t;
}

// Pins npages from vaddr of mm with FOLL_LONGTERM | gupFlags into pages,
// in batches of VFIO_PIN_BATCH (vaddr_get_pfns(), pfn_reader_user_pin()),
// until the range is covered or a call fails (get_user_pages_remote()
// before 5.6: ./refs.ts). The caller releases pages[0, pinned) on failure. A dead mm gives -EFAULT, as iommufd's
// mmget_not_zero() failure does.
export function pinUserRange(k: Kernel, mm: Mm, vaddr: number, npages: number, gupFlags: number,
  pages: PageArray): { pinned: number; err: number } {
  if (mm.dead) return { pinned: 0, err: -C.EFAULT };
  let done = 0;
  while (done < npages) {
    const n = Math.min(C.VFIO_PIN_BATCH, npages - done);
    const r = grabRemote(k, mm, vaddr + done * PAGE, n, gupFlags | C.FOLL_LONGTERM, pages.subarray(done, done + n));
    if (r <= 0) return { pinned: done, err: r < 0 ? r : -C.EFAULT };
    done += r;
  }
  return { pinned: done, err: 0 };
}
