// A pinned RDMA user memory region (drivers/infiniband/core/umem.c):
// ib_umem_get() charges mm->pinned_vm, pins the range long-term in batches
// and builds its scatterlist; ib_umem_release() undoes all three. Both are
// kernel-level (k.ib_umem_get / k.ib_umem_release): they return a negative
// errno as the kernel does, and charge as whichever device runs them.
import * as C from '../../assembly/constants';
import { checkInt, fail, type MemlockDetail } from '../errors';
import { Task } from '../task';
import type { Mm } from '../mm/mm';
import type { PageArray } from '../gup/page-array';
import type { Kernel } from './kernel';
import { dropPages } from './refs';
import { pinKind } from '../eras/pincount';

const PAGE = C.PAGE_SIZE;
const U64 = 2 ** 64;
const UINT_MAX = 2 ** 32 - 1;

// What ib_umem_get() needs of the ib_device.
export interface IbDevice {
  readonly name: string;
  // ib_dma_max_seg_size(): the longest scatterlist entry, in bytes.
  readonly max_seg_size: number;
  // Pre-6.2 GUP flags: FOLL_WRITE always, FOLL_FORCE for read-only MRs
  // (default: the kernel era's, rdmaRoNoForce; b40656aa7d55 dropped them).
  readonly follForce?: boolean;
}

// One scatterlist entry: a run of physically consecutive pages.
export interface SgEntry { pfn: number; pages: number }

// struct ib_umem.
export class IbUmem {
  #released = false;

  /** @internal Made by ib_umem_get(). */
  constructor(
    readonly address: number,
    readonly length: number,
    readonly writable: boolean,
    readonly owning_mm: Mm, // mmgrab()'d: uncharged at release even after the task exited
    readonly npages: number,
    readonly gup_flags: number, // with FOLL_PIN, or FOLL_GET before 5.6
    /** @internal */ readonly pages: PageArray, // the pinned pages, in VA order
    /** @internal */ readonly sgl: Uint32Array, // (first pfn, pages) pairs
  ) {}

  get released(): boolean { return this.#released; }
  /** @internal */ markReleased(): void { this.#released = true; }

  // ib_umem_offset(): the in-page offset of the first byte.
  get offset(): number { return this.address % PAGE; }

  get nents(): number { return this.sgl.length / 2; }

  // The scatterlist (sg_append_table's entries), built on request.
  sg(): SgEntry[] {
    const out: SgEntry[] = [];
    for (let i = 0; i < this.sgl.length; i += 2) out.push({ pfn: this.sgl[i], pages: this.sgl[i + 1] });
    return out;
  }

  // The frame behind user address va (inside the region): what the HCA's
  // translation of the MR gives, whatever the CPU page tables say now.
  pfnAt(va: number): number {
    return this.pages.pfns[Math.floor(va / PAGE) - Math.floor(this.address / PAGE)];
  }
}

// ib_access_writable().
export function ibAccessWritable(access: number): boolean {
  return (access & (C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_ATOMIC | C.IB_ACCESS_MW_BIND)) !== 0;
}

// ib_umem_num_pages() of [addr, addr + size).
export function umemNumPages(addr: number, size: number): number {
  return Math.ceil((addr + size) / PAGE) - Math.floor(addr / PAGE);
}

/** @internal A failure: the errno and, for the memlock checks, why. */
export interface UmemError { errno: number; detail?: MemlockDetail }

/** @internal Checks the JS arguments of the ib_umem_* calls. */
export function checkUmemArgs(fn: string, k: Kernel, t: unknown, device: unknown, addr: unknown, size: unknown, access: unknown): Task {
  if (!(t instanceof Task) || (t.kernel as unknown) !== k) throw new TypeError(`${fn}: t must be a task of this machine (current)`);
  if (typeof device !== 'object' || device === null || typeof (device as IbDevice).name !== 'string') {
    throw new TypeError(`${fn}: device must be an ib_device (a NIC from k.rdma(), or an object with name and max_seg_size)`);
  }
  const a = checkInt('addr', addr);
  if (typeof size !== 'number' || !Number.isInteger(size)) throw new TypeError(`${fn}: size must be an integer`);
  if (a < 0 || size < 0) throw new RangeError(`${fn}: addr and size must not be negative`);
  checkInt('access', access);
  if (t.exited) throw fail(fn, C.ESRCH, `task ${t.pid} has exited`);
  return t;
}

// Mirrors ib_umem_get() for current = t: the umem, or -errno.
export function ibUmemGet(k: Kernel, t: Task, device: IbDevice, addr: number, size: number, access: number): IbUmem | number {
  const r = umemGet(k, checkUmemArgs('ib_umem_get', k, t, device, addr, size, access), device, addr, size, access);
  return r instanceof IbUmem ? r : -r.errno;
}

/** @internal ib_umem_get() with the reason of a memlock failure kept. */
export function umemGet(k: Kernel, t: Task, device: IbDevice, addr: number, size: number, access: number): IbUmem | UmemError {
  if (addr + size > U64 || Math.ceil((addr + size) / PAGE) * PAGE > U64) return { errno: C.EINVAL };
  const rlim = t.memlockBytes();
  if (rlim === 0 && !t.capable('CAP_IPC_LOCK')) { // !can_do_mlock()
    return { errno: C.EPERM, detail: { counter: 'mm.pinned_vm', current: t.mm.pinned_vm, requested: umemNumPages(addr, size), limit: 0, minUlimitKiB: Math.max(1, t.mm.pinned_vm + umemNumPages(addr, size)) * PAGE / 1024 } };
  }
  if (access & C.IB_ACCESS_ON_DEMAND) return { errno: C.EOPNOTSUPP };
  const npages = umemNumPages(addr, size);
  if (npages === 0 || npages > UINT_MAX) return { errno: C.EINVAL };
  const mm = t.mm;
  // Charged before pinning: add, and over the limit without CAP_IPC_LOCK take it back.
  const over = k.chargePinnedVm(mm, npages, true, t, true, 'ib_umem_get');
  if (over) return { errno: C.ENOMEM, detail: over };
  const writable = ibAccessWritable(access);
  const flags = (device.follForce ?? !k.kr.rdmaRoNoForce)
    ? C.FOLL_LONGTERM | C.FOLL_WRITE | (writable ? 0 : C.FOLL_FORCE)
    : C.FOLL_LONGTERM | (writable ? C.FOLL_WRITE : 0);
  let pages: PageArray;
  try {
    pages = k.pageArray(npages);
  } catch {
    // The page list cannot be held (pinsim's arena has two entries per RAM frame): kvcalloc() failing.
    k.chargePinnedVm(mm, npages, false, t, false, 'ib_umem_get');
    return { errno: C.ENOMEM };
  }
  const start = Math.floor(addr / PAGE) * PAGE;
  let done = 0;
  while (done < npages) {
    const batch = Math.min(npages - done, C.IB_UMEM_PIN_BATCH);
    // 5.5 took plain references with get_user_pages(); pin_user_pages*() from 5.6.
    const got = k.kr.pinApi
      ? k.pin_user_pages_fast(t, start + done * PAGE, batch, flags, pages.subarray(done, done + batch))
      : k.get_user_pages(t, start + done * PAGE, batch, flags, pages.subarray(done, done + batch));
    if (got <= 0) {
      // Release what is held, not dirtied (__ib_umem_release(dirty = 0)), and uncharge.
      dropPages(k, pages, done, false);
      pages.free();
      k.chargePinnedVm(mm, npages, false, t, false, 'ib_umem_get');
      return { errno: got < 0 ? -got : C.EFAULT };
    }
    done += got;
  }
  return new IbUmem(addr, size, writable, mm, npages, flags | (k.kr.pinApi ? C.FOLL_PIN : C.FOLL_GET), pages, buildSg(k, pages, npages, device.max_seg_size));
}

// sg_alloc_append_table_from_pages() over the whole page list (merging
// across pin batches, as the append table does), in the core, in chunks.
function buildSg(k: Kernel, pages: PageArray, npages: number, maxSeg: number): Uint32Array {
  const maxPages = Math.max(1, Math.floor(Math.min(maxSeg, UINT_MAX) / PAGE));
  const chunks: Uint32Array[] = [];
  for (let from = 0; from < npages;) {
    const n = k.guard(() => k.core.rdma_sg_chunk(pages.offset, npages, from, maxPages));
    chunks.push(k.v.scratch.slice(0, 2 * n));
    from = k.core.rdma_sg_next();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// Mirrors ib_umem_release(): unpin every scatterlist entry (dirtied first
// if the region is writable), uncharge the owning mm, free.
export function ibUmemRelease(k: Kernel, umem: IbUmem): void {
  if (!(umem instanceof IbUmem)) throw new TypeError('ib_umem_release: not an ib_umem');
  if (umem.released) throw new TypeError('ib_umem_release: this umem was released already');
  umem.markReleased();
  if (k.kr.pinApi) unpinSg(k, umem);
  else dropPages(k, umem.pages, umem.npages, umem.writable); // 5.5: set_page_dirty_lock() + put_page() per page
  umem.pages.free();
  k.chargePinnedVm(umem.owning_mm, umem.npages, false, ownerTask(umem.owning_mm), false, 'ib_umem_get');
}

// One unpin_user_page_range_dirty_lock() per scatterlist entry, in the
// core, a chunk of entries per call.
function unpinSg(k: Kernel, umem: IbUmem): void {
  const s = k.v.scratch;
  for (let i = 0; i < umem.sgl.length; i += C.SCRATCH_WORDS) {
    const chunk = umem.sgl.subarray(i, i + C.SCRATCH_WORDS);
    s.set(chunk);
    k.guard(() => k.core.rdma_sg_unpin(chunk.length / 2, umem.writable, pinKind(k.kr)));
  }
}

/** @internal The task an mm was made for, exited or not (the charge's pid). */
export function ownerTask(mm: Mm): Task {
  const o = mm.owner;
  if (o instanceof Task) return o;
  throw new TypeError(`mm of pid ${o.pid} has no task`);
}
