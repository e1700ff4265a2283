// The Kernel users get from boot(): the machine, accounting and GUP/pin API
// (src/gup/kernel.ts) plus what device models need: the simulated clock
// and the list of live devices. Each device lives in a file of its own in
// this folder and reaches the machine only through kernel-level functions
// (pin_user_pages_fast, account_locked_vm, interval notifiers, dma_write),
// as a user's own device model would.
import { GupKernel } from '../gup/kernel';
import { SimClock, type Pending } from './clock';
import { DeviceFile, type DmaDevice } from './device';
import { blockDeviceOf, type BlockDevice } from './block';
import { iovIterExtractPages, bioSetPagesDirty, bioReleasePages, bioCheckPagesDirty, type Bio } from './bio';
import type { Task } from '../task';
import { RdmaNic, type RdmaOptions } from './rdma';
import { ibUmemGet, ibUmemRelease, type IbDevice, type IbUmem } from './umem';
import {
  ibUmemOdpGet, ibUmemOdpAllocImplicit, ibUmemOdpAllocChild, ibUmemOdpMapDmaAndLock, ibUmemOdpUnmapDmaPages, ibUmemOdpRelease,
  type IbUmemOdp, type IbUmemOdpOps,
} from './umem-odp';
import { rdmaSys, type RdmaSys } from './ibverbs-fork';
import { HmmMirror, type HmmMirrorOptions } from './hmm-mirror';
import { cmaAlloc, cmaRelease, offlinePages, onlinePages } from '../mm/contig';
import { installTracking, type Tracker, type PinRecord } from '../debug/provenance';
import { checkKernel, type Violation } from '../debug/check';
import { pinnersOf, pinsOf, leaksOf, withCaller } from '../debug/queries';

export class Kernel extends GupKernel {
  // The clock device models schedule their completions on.
  readonly clock = new SimClock();
  #devices = new Map<string, DmaDevice>();
  /** @internal Pin provenance (boot({ track: true })), else null. */
  tracker: Tracker | null = null;
  /** @internal The call-site tag withCaller() set. */
  callerTag: string | null = null;

  // ---- the simulated clock ----

  // Simulated time, in ns since boot.
  now(): number { return this.clock.now(); }

  // Moves time forward by ns, completing what falls due; returns how many completions ran.
  advance(ns: number): number {
    this.checkAlive();
    return this.clock.advance(ns);
  }

  // Runs every pending completion in time order (ties in submission order).
  settle(): number {
    this.checkAlive();
    return this.clock.settle();
  }

  // What is still to complete, soonest first.
  pending(): Pending[] { return this.clock.pending(); }

  // ---- devices ----

  // The live device models, in the order they were made.
  devices(): DmaDevice[] { return [...this.#devices.values()]; }

  /** @internal A device's constructor registers it under its unique name. */
  registerDevice(d: DmaDevice): void {
    if (typeof d.name !== 'string' || d.name === '') throw new TypeError('a device needs a non-empty name');
    if (this.#devices.has(d.name)) throw new RangeError(`a device named '${d.name}' exists already`);
    this.#devices.set(d.name, d);
  }

  /** @internal */
  unregisterDevice(d: DmaDevice): void {
    if (this.#devices.get(d.name) === d) this.#devices.delete(d.name);
  }

  // A name no live device has and no memlock charge still carries (a closed
  // device can leave charges on an mm that is gone, and dev.charges() finds
  // its own by name): base, else base-2, base-3, …
  deviceName(base: string): string {
    const charged = new Set(this.memlockLedger().map((c) => c.device));
    const free = (n: string) => !this.#devices.has(n) && !charged.has(n);
    if (free(base)) return base;
    let i = 2;
    while (!free(`${base}-${i}`)) i++;
    return `${base}-${i}`;
  }

  // ---- contiguous ranges (src/mm/contig.ts) ----

  // cma_alloc(): the first pfn of count frames of the CMA area aligned to 2^align pages, or -errno.
  cma_alloc(count: number, align = 0): number { return cmaAlloc(this, count, align); }
  // cma_release(): frees what cma_alloc() returned; false for another range.
  cma_release(pfn: number, count: number): boolean { return cmaRelease(this, pfn, count); }
  // offline_pages(): hot-unplugs whole 128 MiB sections of ZONE_MOVABLE; 0 or -errno.
  offline_pages(startPfn: number, count: number): number { return offlinePages(this, startPfn, count); }
  // online_pages(): brings offlined sections back; 0 or -errno.
  online_pages(startPfn: number, count: number): number { return onlinePages(this, startPfn, count); }
  // ---- finding pin bugs (src/debug/) ----

  /** @internal boot({ track: true }) */
  startTracking(): void { this.tracker ??= installTracking(this); }
  // Runs fn with `tag` as the call site of the references it takes.
  withCaller<T>(tag: string, fn: () => T): T { return withCaller(this, tag, fn); }
  // The records of the references held on pfn's folio (tracking on).
  pinners(pfn: number): PinRecord[] { return pinnersOf(this, pfn); }
  // The live records, of one task's memory or one device if asked (tracking on).
  pins(filter: { pid?: number; device?: string } = {}): PinRecord[] { return pinsOf(this, filter); }
  // The live records whose task exited or whose device closed (tracking on).
  leaks(): PinRecord[] { return leaksOf(this); }
  // The invariants that do not hold now; [] when all do.
  check(): Violation[] { return checkKernel(this, this.tracker); }

  // set_page_dirty_lock(): marks pfn's folio dirty, as a driver does
  // before put_page() of a page its device wrote (the GET-era release).
  set_page_dirty_lock(pfn: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.nrFrames) throw new RangeError(`set_page_dirty_lock: pfn ${pfn} is not in this machine`);
    const one = this.pageArray(1);
    one.pfns[0] = pfn;
    try {
      this.guard(() => this.core.bio_set_pages_dirty(one.offset, 1));
    } finally {
      one.free();
    }
  }

  // ---- block I/O (src/devices/block.ts, bio.ts) ----

  // The disk under ext4/xfs/btrfs files: its logical block size and latency.
  blockDevice(): BlockDevice { return blockDeviceOf(this); }
  // Pins one iovec segment's pages short-term (FOLL_PIN, FOLL_WRITE when dest): a bio's pages, or 0/-errno.
  iov_iter_extract_pages(t: Task, iov: { base: number; len: number }, maxPages: number, dest: boolean): Bio | number {
    return iovIterExtractPages(this, t, iov, maxPages, dest);
  }
  // Dirties a read's pages before submission.
  bio_set_pages_dirty(bio: Bio): void { bioSetPagesDirty(this, bio); }
  // Unpins the bio's pages, dirtying them first when asked.
  bio_release_pages(bio: Bio, markDirty: boolean): void { bioReleasePages(this, bio, markDirty); }
  // A read's completion: re-dirties pages cleaned meanwhile, then unpins; true when it re-dirtied.
  bio_check_pages_dirty(bio: Bio): boolean { return bioCheckPagesDirty(this, bio); }
  // lib/test_hmm.c's mirror device, /dev/hmm_dmirror0 opened by t (src/devices/hmm-mirror.ts).
  hmmMirror(t: Task, opts?: HmmMirrorOptions): HmmMirror { return HmmMirror.open(this, t, opts); }

  // The last fput(): a device file no task's fd table holds any more is
  // released, after the files (a task's exit, close(), or an mm that dies).
  /** @internal */
  override reapFiles(): void {
    super.reapFiles();
    for (const d of this.#devices.values()) {
      if (d instanceof DeviceFile && !this.tasks.some((t) => [...t.fds.values()].includes(d))) d.close();
    }
  }

  // ---- RDMA (src/devices/rdma.ts, umem.ts, umem-odp.ts); t stands for current ----

  rdma(opts: RdmaOptions = {}): RdmaNic { return new RdmaNic(this, opts); }
  // `rdma sys`: RDMA_NLDEV_SYS_ATTR_NETNS_MODE and _COPY_ON_FORK.
  rdma_sys(): RdmaSys { return rdmaSys(this); }
  ib_umem_get(t: Task, device: IbDevice, addr: number, size: number, access: number): IbUmem | number { return ibUmemGet(this, t, device, addr, size, access); }
  ib_umem_release(umem: IbUmem): void { ibUmemRelease(this, umem); }
  ib_umem_odp_get(t: Task, device: IbDevice, addr: number, size: number, access: number, ops: IbUmemOdpOps): IbUmemOdp | number { return ibUmemOdpGet(this, t, device, addr, size, access, ops); }
  ib_umem_odp_alloc_implicit(t: Task, device: IbDevice, access: number): IbUmemOdp { return ibUmemOdpAllocImplicit(this, t, device, access); }
  ib_umem_odp_alloc_child(root: IbUmemOdp, addr: number, size: number, ops: IbUmemOdpOps): IbUmemOdp | number { return ibUmemOdpAllocChild(this, root, addr, size, ops); }
  ib_umem_odp_map_dma_and_lock(odp: IbUmemOdp, user_virt: number, bcnt: number, access_mask: number, fault: boolean): number { return ibUmemOdpMapDmaAndLock(this, odp, user_virt, bcnt, access_mask, fault); }
  ib_umem_odp_unmap_dma_pages(odp: IbUmemOdp, start: number, end: number): number { return ibUmemOdpUnmapDmaPages(this, odp, start, end); }
  ib_umem_odp_release(odp: IbUmemOdp): void { ibUmemOdpRelease(this, odp); }
}
