// An RDMA NIC (an ib_device with an mlx5-like driver): uverbs contexts a
// process opens, protection domains, memory regions pinned through
// ib_umem_get() or mapped on demand through ib_umem_odp_get(), and a remote
// peer's RDMA WRITE/READ through an MR's translation. The driver reaches
// the machine only through the kernel-level umem calls.
import * as C from '../../assembly/constants';
import { checkInt, fail } from '../errors';
import { memlockError } from '../mm/memlock';
import type { MmuNotifierRange } from '../mm/notifier';
import { Task } from '../task';
import { DeviceFile, DmaDevice, type DevicePin } from './device';
import type { Kernel } from './kernel';
import { umemGet, checkUmemArgs, IbUmem, type IbDevice, type SgEntry } from './umem';
import {
  IbUmemOdp, ibUmemOdpGet, ibUmemOdpAllocImplicit, ibUmemOdpUnmapDmaPages,
  ibUmemOdpRelease, type IbUmemOdpOps,
} from './umem-odp';
import { rdmaSys, ibvDontforkRange, ibvDoforkRange } from './ibverbs-fork';

const PAGE = C.PAGE_SIZE;
const U64 = 2 ** 64;
// mlx5's implicit-ODP children each cover one aligned chunk (UNVERIFIED: 1 GiB, MLX5_IMR_MTT_SIZE).
const IMPLICIT_CHILD = 2 ** 30;

export interface RdmaOptions {
  name?: string; // the ib_device name; default 'mlx5_0' (then mlx5_1, …)
  odp?: boolean; // IBK_ON_DEMAND_PAGING with IB_ODP_SUPPORT_IMPLICIT; default false
  // ib_dma_max_seg_size() in bytes; default 2 GiB (UNVERIFIED: mlx5_core's dma_set_max_seg_size())
  maxSegment?: number;
  follForce?: boolean; // FOLL_WRITE|FOLL_FORCE on R/O MRs (before 6.2); default: the kernel era's (rdmaRoNoForce)
  // Does the kernel report copy-on-fork (v5.13+)? false: a v5.9-v5.12 kernel,
  // so libibverbs' ibv_fork_init() falls back to MADV_DONTFORK. Machine-wide.
  copyOnFork?: boolean;
  faultLatencyNs?: number; // what a device page fault costs on the clock; default 20000 (UNVERIFIED)
}

// A work completion's status, as ibv_wc_status_str() names it.
export type WcStatus = 'IBV_WC_SUCCESS' | 'IBV_WC_REM_ACCESS_ERR';
export interface WcResult { status: WcStatus; faulted: boolean }

// ODP counters of one MR (what mlx5 reports as page faults and invalidations, in events).
export interface OdpStats { faults: number; invalidations: number }

// A uverbs context: the open /dev/infiniband/uverbsN file. Its MRs are the
// NIC's pins (listed there); its last close destroys them (uverbs_destroy_ufile_hw()).
export class UverbsContext extends DeviceFile {
  readonly path: string;

  /** @internal */
  constructor(readonly nic: RdmaNic, readonly task: Task, index: number) {
    super(nic.kernel, nic.kernel.deviceName(`${nic.name}/uverbs${index}`));
    this.path = `/dev/infiniband/uverbs${index}`;
  }

  pins(): DevicePin[] { return []; }

  protected release(): void { this.nic.destroyContext(this); }
}

// struct ib_pd, with the fd of the context it was allocated on.
export class IbPd {
  /** @internal */
  constructor(readonly context: UverbsContext, readonly pdn: number, readonly fd: number) {}
}

// struct ib_mr as a user sees it (lkey, rkey), with the driver's umem.
export class IbMr {
  #live = true;
  /** @internal */ readonly stats: OdpStats = { faults: 0, invalidations: 0 };
  /** @internal implicit ODP: the children, by chunk index */ readonly children = new Map<number, IbUmemOdp>();

  /** @internal */
  constructor(
    readonly pd: IbPd,
    readonly lkey: number,
    readonly rkey: number,
    readonly addr: number,
    readonly length: number,
    readonly access: number,
    readonly umem: IbUmem | IbUmemOdp,
  ) {}

  get odp(): boolean { return this.umem instanceof IbUmemOdp; }
  get live(): boolean { return this.#live; }
  /** @internal */ kill(): void { this.#live = false; }

  // The scatterlist of a pinned MR ([] for ODP).
  get sg(): SgEntry[] { return this.umem instanceof IbUmem ? this.umem.sg() : []; }

  odpStats(): OdpStats { return { ...this.stats }; }
}

export class RdmaNic extends DmaDevice implements IbDevice {
  readonly max_seg_size: number;
  readonly odp: boolean;
  readonly follForce: boolean;
  readonly faultLatencyNs: number;
  readonly #index: number;
  #contexts = new Set<UverbsContext>();
  #mrs = new Map<number, IbMr>(); // by key (lkey = rkey, as mlx5's mkey)
  #nextKey = 1;
  #nextPd = 1;

  /** @internal Made by k.rdma(). */
  constructor(k: Kernel, opts: RdmaOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('k.rdma(options): options must be an object');
    const name = opts.name ?? k.deviceName('mlx5_0');
    super(k, name);
    const seg = opts.maxSegment ?? 2 ** 31;
    if (checkInt('maxSegment', seg) < PAGE) throw new RangeError(`maxSegment must be at least ${PAGE}`);
    this.max_seg_size = seg;
    this.odp = bool('odp', opts.odp ?? false);
    this.follForce = bool('follForce', opts.follForce ?? !k.kr.rdmaRoNoForce);
    this.faultLatencyNs = checkInt('faultLatencyNs', opts.faultLatencyNs ?? 20_000);
    if (this.faultLatencyNs < 0) throw new RangeError('faultLatencyNs must not be negative');
    if (opts.copyOnFork !== undefined) bool('copyOnFork', opts.copyOnFork);
    rdmaSys(k, opts.copyOnFork);
    this.#index = k.devices().filter((d) => d instanceof RdmaNic).length - 1;
  }

  // The live MRs, oldest first.
  mrs(): IbMr[] { return [...this.#mrs.values()]; }

  pins(): DevicePin[] {
    return this.mrs().filter((mr) => mr.umem instanceof IbUmem).map((mr) => {
      const u = mr.umem as IbUmem;
      return { device: this.name, object: `MR lkey 0x${mr.lkey.toString(16)}`, pid: u.owning_mm.owner.pid, addr: mr.addr,
        length: mr.length, pages: u.npages, gup_flags: u.gup_flags };
    });
  }

  // ibv_open_device() + ibv_alloc_pd() for process t: a new uverbs context in t's fd table.
  alloc_pd(t: Task): IbPd {
    if (!(t instanceof Task) || (t.kernel as unknown) !== this.kernel) throw new TypeError('alloc_pd: t must be a task of this machine');
    this.#alive('ibv_alloc_pd');
    if (t.exited) throw fail('ibv_alloc_pd', C.ESRCH, `task ${t.pid} has exited`);
    const ctx = new UverbsContext(this, t, this.#index);
    this.#contexts.add(ctx);
    return new IbPd(ctx, this.#nextPd++, t.installFd(ctx));
  }

  // ibv_reg_mr(): the MR, or a thrown SyscallError in the kernel's order
  // (ib_uverbs_reg_mr → ib_check_mr_access → the driver → ib_umem_get).
  reg_mr(pd: IbPd, addr: number, length: number, access: number): IbMr {
    const ctx = this.#pd(pd);
    const t = ctx.task;
    checkUmemArgs('ibv_reg_mr', this.kernel, t, this, addr, length, access);
    const implicit = addr === 0 && length === U64;
    const odp = (access & C.IB_ACCESS_ON_DEMAND) !== 0;
    // libibverbs marks the range MADV_DONTFORK before the command (fork_init
    // without copy-on-fork), and undoes it when the command fails.
    if (!odp) ibvDontforkRange(t, addr, length);
    try {
      const e = this.#checkAccess(access);
      if (e) throw fail('ibv_reg_mr', e, accessWhy(e, access));
      const umem = this.as(() => (odp ? this.#odpUmem(t, addr, length, access, implicit) : this.#pinnedUmem(t, addr, length, access)));
      const key = ((this.#nextKey++ << 8) | 0x42) >>> 0;
      const mr = new IbMr(pd, key, key, addr, length, access, umem);
      this.#mrs.set(key, mr);
      return mr;
    } catch (err) {
      if (!odp) ibvDoforkRange(t, addr, length);
      throw err;
    }
  }

  // ibv_dereg_mr(): the key dies first, then the memory is released; libibverbs then lifts MADV_DONTFORK.
  dereg_mr(mr: IbMr): void {
    if (!(mr instanceof IbMr)) throw new TypeError('dereg_mr: not an MR');
    this.#alive('ibv_dereg_mr');
    if (!mr.live || this.#mrs.get(mr.lkey) !== mr) throw fail('ibv_dereg_mr', C.EINVAL, `MR 0x${mr.lkey.toString(16)} is not registered`);
    this.as(() => this.#destroyMr(mr));
    if (!mr.odp) ibvDoforkRange(mr.pd.context.task, mr.addr, mr.length);
  }

  // ibv_advise_mr(): prefetch [addr, addr + length) of an ODP MR into the
  // device page list; PREFETCH_NO_FAULT only takes what is present (snapshot).
  advise_mr(mr: IbMr, advice: number, addr: number, length: number): void {
    if (!(mr instanceof IbMr)) throw new TypeError('advise_mr: not an MR');
    checkInt('advice', advice);
    checkInt('addr', addr);
    checkInt('length', length);
    this.#alive('ibv_advise_mr');
    if (advice < C.IBV_ADVISE_MR_ADVICE_PREFETCH || advice > C.IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT) {
      throw fail('ibv_advise_mr', C.EOPNOTSUPP, `advice ${advice}`);
    }
    if (!mr.live || !mr.odp) throw fail('ibv_advise_mr', C.EINVAL, 'not a registered ODP MR');
    const write = advice === C.IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE;
    if (write && !(mr.umem as IbUmemOdp).writable) throw fail('ibv_advise_mr', C.EPERM, 'PREFETCH_WRITE of an MR without write access');
    if (addr < mr.addr || addr + length > mr.addr + mr.length) throw fail('ibv_advise_mr', C.EFAULT, 'range outside the MR');
    for (let at = addr; at < addr + length;) {
      const odp = this.#odpFor(mr, at);
      if (typeof odp === 'number') throw fail('ibv_advise_mr', -odp, 'the process is gone');
      const stop = Math.min(addr + length, odp.end);
      const mask = C.ODP_READ_ALLOWED_BIT | (write ? C.ODP_WRITE_ALLOWED_BIT : 0);
      const r = this.kernel.ib_umem_odp_map_dma_and_lock(odp, at, stop - at, mask, advice !== C.IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT);
      if (r < 0) throw fail('ibv_advise_mr', -r, 'the prefetch fault failed');
      odp.umem_mutex.unlock();
      at = stop;
    }
  }

  // A peer's RDMA WRITE of one word at addr through rkey. A key, range or
  // access the MR does not allow (or an ODP fault that fails) is an error
  // completion and touches no memory. An ODP miss faults the page in first,
  // costing faultLatencyNs on the clock (k.advance runs what falls due).
  remote_write(rkey: number, addr: number, word: number): WcResult {
    checkInt('word', word);
    if (word < 0 || word > 0xffffffff) throw new RangeError(`word must fit in 32 bits, got ${word}`);
    const r = this.#remote(rkey, addr, true);
    if (r.pfn >= 0) this.kernel.dma_write(r.pfn, word);
    return r.wc;
  }

  // A peer's RDMA READ of the word at addr through rkey; word is null on an error completion.
  remote_read(rkey: number, addr: number): WcResult & { word: number | null } {
    const r = this.#remote(rkey, addr, false);
    return { ...r.wc, word: r.pfn >= 0 ? this.kernel.dma_read(r.pfn) : null };
  }

  // ib_unregister_device(): every context is disassociated, every MR destroyed.
  protected release(): void {
    for (const ctx of this.#contexts) this.destroyContext(ctx);
  }

  /** @internal The context's last close: destroy its MRs (as the NIC, whose charges they are). */
  destroyContext(ctx: UverbsContext): void {
    if (!this.#contexts.delete(ctx)) return;
    this.as(() => {
      for (const mr of this.#mrs.values()) if (mr.pd.context === ctx) this.#destroyMr(mr);
    });
  }

  #remote(rkey: number, addr: number, write: boolean): { wc: WcResult; pfn: number } {
    checkInt('rkey', rkey);
    checkInt('addr', addr);
    this.#alive(write ? 'remote_write' : 'remote_read');
    const err = { wc: { status: 'IBV_WC_REM_ACCESS_ERR' as const, faulted: false }, pfn: -1 };
    let mr = this.#mrs.get(rkey);
    const need = write ? C.IB_ACCESS_REMOTE_WRITE : C.IB_ACCESS_REMOTE_READ;
    if (!mr || !(mr.access & need) || addr < mr.addr || addr >= mr.addr + mr.length) return err;
    if (mr.umem instanceof IbUmem) return { wc: { status: 'IBV_WC_SUCCESS', faulted: false }, pfn: mr.umem.pfnAt(addr) };
    let odp = this.#odpFor(mr, addr);
    if (typeof odp === 'number') return err;
    let pfn = odp.pfnFor(addr, write);
    if (pfn >= 0) return { wc: { status: 'IBV_WC_SUCCESS', faulted: false }, pfn };
    // A device page fault: the driver's handler runs after the latency, then the access is retried.
    mr.stats.faults++;
    this.kernel.advance(this.faultLatencyNs);
    mr = this.#mrs.get(rkey);
    if (!mr || this.closed) return err;
    odp = this.#odpFor(mr, addr);
    if (typeof odp === 'number') return err;
    const mask = C.ODP_READ_ALLOWED_BIT | (write ? C.ODP_WRITE_ALLOWED_BIT : 0);
    const r = this.kernel.ib_umem_odp_map_dma_and_lock(odp, addr, 1, mask, true);
    if (r < 0) return err;
    pfn = odp.pfnFor(addr, write);
    odp.umem_mutex.unlock();
    return { wc: { status: 'IBV_WC_SUCCESS', faulted: true }, pfn };
  }

  // The ODP umem serving addr: the MR's own, or an implicit MR's child for its chunk (made on first use).
  #odpFor(mr: IbMr, addr: number): IbUmemOdp | number {
    const u = mr.umem as IbUmemOdp;
    if (!u.is_implicit_odp) return u;
    const i = Math.floor(addr / IMPLICIT_CHILD);
    const have = mr.children.get(i);
    if (have) return have;
    const child = this.kernel.ib_umem_odp_alloc_child(u, i * IMPLICIT_CHILD, IMPLICIT_CHILD, this.#invalidator(mr));
    if (typeof child !== 'number') mr.children.set(i, child);
    return child;
  }

  #pinnedUmem(t: Task, addr: number, length: number, access: number): IbUmem {
    const r = umemGet(this.kernel, t, this, addr, length, access);
    if (r instanceof IbUmem) return r;
    if (r.detail) throw memlockError('ibv_reg_mr', r.errno, r.detail);
    throw fail('ibv_reg_mr', r.errno, r.errno === C.EINVAL ? 'the range is empty, wraps, or spans more than UINT_MAX pages' : 'ib_umem_get() failed to pin the range');
  }

  // mlx5's create_user_odp_mr(): implicit (addr 0, length SIZE_MAX) or explicit.
  #odpUmem(t: Task, addr: number, length: number, access: number, implicit: boolean): IbUmemOdp {
    if (implicit) return ibUmemOdpAllocImplicit(this.kernel, t, this, access);
    const odp = ibUmemOdpGet(this.kernel, t, this, addr, length, access, {
      invalidate: (o, range, seq) => this.#invalidate(this.mrs().find((m) => m.umem === o) ?? null, o, range, seq),
    });
    if (typeof odp === 'number') throw fail('ibv_reg_mr', -odp, 'ib_umem_odp_get() failed');
    return odp;
  }

  #invalidator(mr: IbMr): IbUmemOdpOps {
    return { invalidate: (o, range, seq) => this.#invalidate(mr, o, range, seq) };
  }

  // Mirrors mlx5_ib_invalidate_range(): always set_seq; zap the device's
  // entries and DMA-unmap (dirtying pages mapped writable).
  #invalidate(mr: IbMr | null, odp: IbUmemOdp, range: MmuNotifierRange, cur_seq: number): boolean {
    if (!(range.flags & C.MMU_NOTIFIER_RANGE_BLOCKABLE)) return false;
    if (odp.umem_mutex.held) throw fail('mlx5_ib_invalidate_range', C.EDEADLK, 'umem_mutex is held (an mm change while the driver programs its page table)');
    this.kernel.mmu_interval_set_seq(odp.notifier!, cur_seq);
    const n = ibUmemOdpUnmapDmaPages(this.kernel, odp, range.start, range.end);
    if (n > 0 && mr) mr.stats.invalidations++;
    return true;
  }

  #destroyMr(mr: IbMr): void {
    this.#mrs.delete(mr.lkey);
    mr.kill();
    if (mr.umem instanceof IbUmem) this.kernel.ib_umem_release(mr.umem);
    else {
      for (const c of mr.children.values()) ibUmemOdpRelease(this.kernel, c);
      ibUmemOdpRelease(this.kernel, mr.umem);
    }
  }

  // ib_check_mr_access(), then mlx5's implicit-ODP capability: 0 or the errno.
  #checkAccess(access: number): number {
    if (access & (C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_ATOMIC) && !(access & C.IB_ACCESS_LOCAL_WRITE)) return C.EINVAL;
    if (access & ~C.IB_ACCESS_SUPPORTED) return C.EINVAL;
    if (access & C.IB_ACCESS_ON_DEMAND && !this.odp) return C.EOPNOTSUPP;
    if (access & (C.IB_ACCESS_FLUSH_GLOBAL | C.IB_ACCESS_FLUSH_PERSISTENT)) return C.EOPNOTSUPP; // no IB_DEVICE_FLUSH_* caps
    return 0;
  }

  #pd(pd: unknown): UverbsContext {
    if (!(pd instanceof IbPd) || pd.context.nic !== this) throw new TypeError('pd must be a PD of this NIC (nic.alloc_pd(t))');
    this.#alive('ibv_reg_mr');
    if (pd.context.closed) throw fail('ibv_reg_mr', C.EBADF, 'the uverbs context of this PD was closed');
    if (pd.context.task.exited) throw fail('ibv_reg_mr', C.ESRCH, `task ${pd.context.task.pid}, which opened the context, has exited`);
    return pd.context;
  }

  #alive(fn: string): void {
    if (this.closed) throw fail(fn, C.EBADF, `${this.name} was removed (closed)`);
  }
}

function accessWhy(errno: number, access: number): string {
  if (errno === C.EOPNOTSUPP) {
    return access & C.IB_ACCESS_ON_DEMAND ? 'IB_ACCESS_ON_DEMAND on a device without on-demand paging' : 'IB_ACCESS_FLUSH_* on a device without the flush capability';
  }
  return access & (C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_ATOMIC) && !(access & C.IB_ACCESS_LOCAL_WRITE)
    ? 'REMOTE_WRITE or REMOTE_ATOMIC needs LOCAL_WRITE' : `access 0x${access.toString(16)} has unsupported bits`;
}

function bool(what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean`);
  return v;
}
