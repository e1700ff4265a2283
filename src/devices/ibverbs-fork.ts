// libibverbs' fork support (rdma-core libibverbs/memory.c), per process:
// ibv_fork_init() and, on kernels that do not report copy-on-fork,
// ibv_dontfork_range()/ibv_dofork_range(), which madvise(MADV_DONTFORK)
// the page-rounded range of every MR while it is registered. The kernel
// side is rdma_sys(): RDMA_NLDEV_SYS_ATTR_COPY_ON_FORK (v5.13+).
import * as C from '../../assembly/constants';
import { fail } from '../errors';
import type { Task } from '../task';
import type { Kernel } from './kernel';

const PAGE = C.PAGE_SIZE;

// What `rdma sys` shows.
export interface RdmaSys { netns: 'shared' | 'exclusive'; copy_on_fork: boolean }

// Per machine: does the kernel report copy-on-fork? (keyed by the Kernel)
const sysOf = new WeakMap<object, RdmaSys>();

/** @internal The machine's RDMA netlink attributes: copy_on_fork as the
 * kernel preset has it (rdmaCopyOnForkAttr, 5.13), or as the first NIC's
 * copyOnFork option fixes it (a backport, say). */
export function rdmaSys(k: Kernel, copyOnFork?: boolean): RdmaSys {
  let s = sysOf.get(k);
  if (!s) sysOf.set(k, (s = { netns: 'shared', copy_on_fork: copyOnFork ?? k.kr.rdmaCopyOnForkAttr }));
  else if (copyOnFork !== undefined && copyOnFork !== s.copy_on_fork) {
    throw new RangeError(`copyOnFork: this machine's kernel ${s.copy_on_fork ? 'reports' : 'predates'} copy-on-fork (a kernel either has it or not)`);
  }
  return { ...s };
}

// The library's state in one process: mm_root (fork_init ran), too_late
// (a range was registered before it), and the ranges it marked.
interface IbvLib { forkInit: boolean; tooLate: boolean; ranges: { start: number; end: number }[] }
const libOf = new WeakMap<Task, IbvLib>();

function lib(t: Task): IbvLib {
  let l = libOf.get(t);
  if (!l) libOf.set(t, (l = { forkInit: false, tooLate: false, ranges: [] }));
  return l;
}

// ibv_is_fork_initialized().
export function ibvIsForkInitialized(t: Task): number {
  if (rdmaSys(t.kernel).copy_on_fork) return C.IBV_FORK_UNNEEDED;
  return lib(t).forkInit ? C.IBV_FORK_ENABLED : C.IBV_FORK_DISABLED;
}

// ibv_fork_init(): 0, or EINVAL when an MR was registered before it
// (rdma-core returns the errno; pinsim throws it). A no-op when the kernel
// copies pinned pages at fork.
export function ibvForkInit(t: Task): number {
  const l = lib(t);
  if (l.forkInit || ibvIsForkInitialized(t) === C.IBV_FORK_UNNEEDED) return 0;
  if (l.tooLate) throw fail('ibv_fork_init', C.EINVAL, 'a memory region was registered before ibv_fork_init() (too late)');
  l.forkInit = true;
  return 0;
}

/** @internal ibv_dontfork_range(): MADV_DONTFORK over the page-rounded range once fork_init ran; else too_late. */
export function ibvDontforkRange(t: Task, addr: number, length: number): void {
  const l = lib(t);
  if (!l.forkInit) {
    l.tooLate = true;
    return;
  }
  if (!length || !addr) return; // ibv_madvise_range() leaves an empty or NULL range alone
  const r = rounded(addr, length);
  if (!Number.isSafeInteger(r.end)) throw fail('madvise', C.EINVAL, 'the range wraps the address space');
  t.madvise(r.start, r.end - r.start, C.MADV_DONTFORK);
  l.ranges.push(r);
}

/** @internal ibv_dofork_range(): MADV_DOFORK over the parts no other registered range still covers. */
export function ibvDoforkRange(t: Task, addr: number, length: number): void {
  const l = lib(t);
  if (!l.forkInit || t.exited || !length || !addr) return;
  const r = rounded(addr, length);
  const i = l.ranges.findIndex((x) => x.start === r.start && x.end === r.end);
  if (i < 0) return;
  l.ranges.splice(i, 1);
  const covered = l.ranges.filter((x) => x.start < r.end && x.end > r.start).sort((a, b) => a.start - b.start);
  let at = r.start;
  for (const x of [...covered, { start: r.end, end: r.end }]) {
    if (x.start > at) t.madvise(at, x.start - at, C.MADV_DOFORK);
    at = Math.max(at, x.end);
  }
}

function rounded(addr: number, length: number): { start: number; end: number } {
  return { start: Math.floor(addr / PAGE) * PAGE, end: Math.ceil((addr + length) / PAGE) * PAGE };
}
