// An on-demand-paging RDMA region (drivers/infiniband/core/umem_odp.c): no
// pin, no charge, no can_do_mlock(); an interval notifier over the aligned
// range keeps the device's page list coherent with the CPU page tables.
// The page list is the hmm_pfns array itself (as since the hmm_dma_map
// rework): hmm_range_fault() fills it, an invalidation clears it.
import * as C from '../../assembly/constants';
import { checkInt, fail } from '../errors';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, hmm_pfn_to_pfn, HMM_PFN_VALID, HMM_PFN_WRITE } from '../mm/hmm';
import type { MmuIntervalNotifier, MmuNotifierRange } from '../mm/notifier';
import type { Mm } from '../mm/mm';
import type { Task } from '../task';
import { checkUmemArgs, ibAccessWritable, type IbDevice } from './umem';
import type { Kernel } from './kernel';

const PAGE = C.PAGE_SIZE;
const U64 = 2 ** 64;
const CHUNK = C.SCRATCH_WORDS / 2; // page-list entries per rdma_odp_unmap() call
const INT_MAX = 2 ** 31 - 1;
// Retries of the fault loop that stand for HMM_RANGE_DEFAULT_TIMEOUT:
// no simulated time passes inside it, so a deadline could never expire.
const MAX_RETRIES = 64;

// The driver's invalidate callback (its mmu_interval_notifier_ops).
export interface IbUmemOdpOps {
  invalidate(odp: IbUmemOdp, range: MmuNotifierRange, cur_seq: number): boolean;
}

// umem_odp->umem_mutex: held from a successful fault until the driver has
// programmed its page table.
export class UmemMutex {
  #held = false;
  get held(): boolean { return this.#held; }
  lock(): void {
    if (this.#held) throw fail('mutex_lock', C.EDEADLK, 'umem_mutex is held already: the kernel would wait forever');
    this.#held = true;
  }
  unlock(): void {
    if (!this.#held) throw new TypeError('mutex_unlock: umem_mutex is not held');
    this.#held = false;
  }
}

// struct ib_umem_odp.
export class IbUmemOdp {
  readonly umem_mutex = new UmemMutex();
  /** @internal */ notifier: MmuIntervalNotifier | null = null;
  #released = false;

  /** @internal Made by ib_umem_odp_get() and the implicit-ODP calls. */
  constructor(
    readonly address: number,
    readonly length: number,
    readonly writable: boolean,
    readonly owning_mm: Mm,
    /** @internal */ readonly task: Task, // the tgid the fault path looks the mm up by
    readonly is_implicit_odp: boolean,
    readonly start: number, // ib_umem_start(): aligned down
    readonly end: number, // ib_umem_end(): aligned up
    // The device's page list: one hmm_pfns entry per page of [start, end).
    readonly pfn_list: BigUint64Array,
  ) {}

  get released(): boolean { return this.#released; }
  /** @internal */ markReleased(): void { this.#released = true; }

  // The page-list entry of va: the pfn when the device may access it (for
  // a write, mapped writable), else -1.
  pfnFor(va: number, write: boolean): number {
    const e = this.pfn_list[Math.floor((va - this.start) / PAGE)];
    if (!(e & HMM_PFN_VALID) || (write && !(e & HMM_PFN_WRITE))) return -1;
    return hmm_pfn_to_pfn(e);
  }
}

function checkOps(ops: unknown): IbUmemOdpOps {
  if (typeof ops !== 'object' || ops === null || typeof (ops as IbUmemOdpOps).invalidate !== 'function') {
    throw new TypeError('ops must have an invalidate(odp, range, cur_seq) function');
  }
  return ops as IbUmemOdpOps;
}

function checkOdp(fn: string, odp: unknown): IbUmemOdp {
  if (!(odp instanceof IbUmemOdp)) throw new TypeError(`${fn}: not an ib_umem_odp`);
  if (odp.released) throw new TypeError(`${fn}: this ib_umem_odp was released`);
  return odp;
}

// ib_init_umem_odp(): the page list and the notifier; 0 or -errno.
function initOdp(k: Kernel, odp: IbUmemOdp, ops: IbUmemOdpOps): number {
  const r = k.mmu_interval_notifier_insert(odp.owning_mm, odp.start, odp.end - odp.start, {
    invalidate: (_sub, range, cur_seq) => ops.invalidate(odp, range, cur_seq),
  });
  if (typeof r === 'number') return r;
  odp.notifier = r;
  return 0;
}

// A umem over [addr, addr + size) aligned out to pages, or -errno
// (-EOVERFLOW past the address space, -EINVAL empty, -ENOMEM for a page
// list kvcalloc() refuses: over INT_MAX bytes).
function newOdp(t: Task, addr: number, size: number, access: number, implicit: boolean): IbUmemOdp | number {
  if (addr + size > U64) return -C.EOVERFLOW;
  const start = Math.floor(addr / PAGE) * PAGE;
  const end = Math.ceil((addr + size) / PAGE) * PAGE;
  if (end > U64) return -C.EOVERFLOW;
  const n = implicit ? 0 : (end - start) / PAGE;
  if (!implicit && n === 0) return -C.EINVAL;
  if (n * 8 > INT_MAX) return -C.ENOMEM;
  return new IbUmemOdp(addr, size, ibAccessWritable(access), t.mm, t, implicit, start, end, new BigUint64Array(n));
}

// Mirrors ib_umem_odp_get() for current = t: the umem, or -errno.
export function ibUmemOdpGet(k: Kernel, t: Task, device: IbDevice, addr: number, size: number, access: number,
  ops: IbUmemOdpOps): IbUmemOdp | number {
  checkUmemArgs('ib_umem_odp_get', k, t, device, addr, size, access);
  checkOps(ops);
  if (!(access & C.IB_ACCESS_ON_DEMAND)) {
    k.warnOnce('drivers/infiniband/core/umem_odp.c:ib_umem_odp_get', '!(access & IB_ACCESS_ON_DEMAND)', t.pid);
    return -C.EINVAL;
  }
  const odp = newOdp(t, addr, size, access, false);
  if (typeof odp === 'number') return odp;
  const r = initOdp(k, odp, ops);
  return r < 0 ? r : odp;
}

// Mirrors ib_umem_odp_alloc_implicit(): the parent of an implicit ODP MR
// (the whole address space), with no notifier and no page list.
export function ibUmemOdpAllocImplicit(k: Kernel, t: Task, device: IbDevice, access: number): IbUmemOdp {
  checkUmemArgs('ib_umem_odp_alloc_implicit', k, t, device, 0, 0, access);
  return newOdp(t, 0, 0, access, true) as IbUmemOdp;
}

// Mirrors ib_umem_odp_alloc_child(): a child of an implicit parent over
// [addr, addr + size), with a notifier of its own; -EFAULT when the
// process is gone (mmget_not_zero() fails).
export function ibUmemOdpAllocChild(k: Kernel, root: IbUmemOdp, addr: number, size: number, ops: IbUmemOdpOps): IbUmemOdp | number {
  checkOdp('ib_umem_odp_alloc_child', root);
  if (!root.is_implicit_odp) throw new TypeError('ib_umem_odp_alloc_child: root is not an implicit ODP umem');
  checkInt('addr', addr);
  checkInt('size', size);
  checkOps(ops);
  if (root.owning_mm.dead) return -C.EFAULT;
  const child = newOdp(root.task, addr, size, root.writable ? C.IB_ACCESS_LOCAL_WRITE : 0, false);
  if (typeof child === 'number') return child;
  const r = initOdp(k, child, ops);
  return r < 0 ? r : child;
}

// Mirrors ib_umem_odp_map_dma_and_lock(): faults (or, without `fault`,
// snapshots) [va, va + bcnt) into the page list through hmm_range_fault()
// with the read_begin/read_retry loop. Returns the pages of the range
// with umem_mutex held, or -errno with it released.
export function ibUmemOdpMapDmaAndLock(k: Kernel, odp: IbUmemOdp, va: number, bcnt: number, access_mask: number,
  fault: boolean): number {
  checkOdp('ib_umem_odp_map_dma_and_lock', odp);
  checkInt('user_virt', va);
  checkInt('bcnt', bcnt);
  checkInt('access_mask', access_mask);
  if (typeof fault !== 'boolean') throw new TypeError('fault must be a boolean');
  if (odp.is_implicit_odp || !odp.notifier) throw new TypeError('ib_umem_odp_map_dma_and_lock: an implicit parent has no page list (fault a child)');
  if (access_mask === 0) return -C.EINVAL;
  if (va < odp.start || va + bcnt > odp.end) return -C.EFAULT;
  if (odp.task.exited || odp.owning_mm.dead) return -C.EINVAL; // the tgid's mm: mmget_not_zero() fails
  const start = Math.floor(va / PAGE) * PAGE;
  const end = Math.ceil((va + bcnt) / PAGE) * PAGE;
  const first = (start - odp.start) / PAGE;
  let dflt = 0n;
  if (fault) dflt = access_mask & C.ODP_WRITE_ALLOWED_BIT ? HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE : HMM_PFN_REQ_FAULT;
  const sub = odp.notifier;
  for (let tries = 0; ; tries++) {
    if (tries === MAX_RETRIES) return -C.EBUSY;
    const seq = k.mmu_interval_read_begin(sub);
    const r = k.hmm_range_fault({
      notifier: sub, notifier_seq: seq, start, end, default_flags: dflt, pfn_flags_mask: 0n,
      hmm_pfns: odp.pfn_list.subarray(first, first + (end - start) / PAGE),
    });
    if (r === -C.EBUSY) continue;
    if (r < 0) return r;
    odp.umem_mutex.lock();
    if (!k.mmu_interval_read_retry(sub, seq)) return (end - start) / PAGE;
    odp.umem_mutex.unlock();
  }
}

// Mirrors ib_umem_odp_unmap_dma_pages() over [start, end) clipped to the
// umem: every mapped entry is dropped, a writable one dirtying its page
// first. Returns the entries that were mapped (the kernel's is void).
export function ibUmemOdpUnmapDmaPages(k: Kernel, odp: IbUmemOdp, start: number, end: number): number {
  checkOdp('ib_umem_odp_unmap_dma_pages', odp);
  const a = Math.max(0, Math.floor((Math.max(start, odp.start) - odp.start) / PAGE));
  const b = Math.min(odp.pfn_list.length, Math.ceil((Math.min(end, odp.end) - odp.start) / PAGE));
  const s = k.v.scratch;
  const view = new BigUint64Array(s.buffer, s.byteOffset, CHUNK);
  let mapped = 0;
  for (let i = a; i < b; i += CHUNK) {
    const n = Math.min(CHUNK, b - i);
    view.set(odp.pfn_list.subarray(i, i + n));
    mapped += k.guard(() => k.core.rdma_odp_unmap(n));
  }
  if (b > a) odp.pfn_list.fill(0n, a, b);
  return mapped;
}

// Mirrors ib_umem_odp_release(): unmap everything, remove the notifier.
export function ibUmemOdpRelease(k: Kernel, odp: IbUmemOdp): void {
  checkOdp('ib_umem_odp_release', odp);
  if (odp.notifier) {
    ibUmemOdpUnmapDmaPages(k, odp, odp.start, odp.end);
    k.mmu_interval_notifier_remove(odp.notifier);
  }
  odp.markReleased();
}
