// An address space (struct mm_struct): the PGD in the core and the sorted
// VMA list in the façade, with the VMA-level operations every syscall uses.
import {
  PAGE_SIZE, FAULT_FLAG_WRITE, USER_VA_BITS, PMD_SHIFT, MAX_PAGES_PER_CALL, MMU_NOTIFY_CLEAR, MMU_NOTIFY_UNMAP,
  MMU_NOTIFIER_RANGE_BLOCKABLE, VM_LOCKED,
} from '../../assembly/constants';

const PMD_SIZE = 2 ** PMD_SHIFT;
import type { Core } from '../core/core';
import { AnonVma, type ThpMode, type Vma } from './vma';
import type { MmuNotifierSubscriptions } from './notifier';

export const TASK_SIZE = 2 ** USER_VA_BITS - PAGE_SIZE; // TASK_SIZE_MAX on x86-64
export const TASK_PAGES = 2 ** (USER_VA_BITS - 12);

// What an mm needs from its machine.
export interface MmHost {
  /** @internal */
  readonly core: Core;
  /** @internal */
  readonly thp: ThpMode;
}

// Whose mm this is (mm->owner): the pid and real uid the memlock ledger shows.
export interface MmOwner { readonly pid: number; readonly uid: number }

export class Mm {
  /** @internal */
  readonly vmas: Vma[] = [];
  hasPinned = false; // MMF_HAS_PINNED: set by the first FOLL_PIN, never cleared
  /** @internal */
  pid = 0; // the task it was made for (for error messages)
  /** @internal */
  dead = false; // mm_users reached zero: exit_mmap() tore it down
  // RLIMIT_MEMLOCK counters, in pages. They outlive the task (mmgrab()):
  // a device may uncharge an mm after its owner exited.
  locked_vm = 0; // VmLck: mlock family, VFIO, account_locked_vm() users
  pinned_vm = 0; // VmPin: RDMA, io_uring, iommufd
  def_flags = 0; // VM_LOCKED | VM_LOCKONFAULT for new VMAs after mlockall(MCL_FUTURE)
  /** @internal */
  owner: MmOwner = { pid: 0, uid: 0 };
  /** @internal mm->notifier_subscriptions: set by the first interval notifier insert. */
  notifierSubscriptions: MmuNotifierSubscriptions | null = null;

  /** @internal Made by spawn() and fork(). */
  constructor(
    /** @internal */ readonly host: MmHost,
    readonly pgd: number, // pfn of the PGD page
  ) {}

  // Pages of every VMA (VmSize).
  get total_vm(): number {
    let n = 0;
    for (const v of this.vmas) n += v.pages;
    return n;
  }

  // Index of the first VMA ending above addr (find_vma()).
  /** @internal */
  findIndex(addr: number): number {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vmas[mid].end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // vma_lookup(): the VMA containing addr.
  /** @internal */
  vmaAt(addr: number): Vma | undefined {
    const v = this.vmas[this.findIndex(addr)];
    return v && v.start <= addr ? v : undefined;
  }

  /** @internal */
  overlapping(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    for (let i = this.findIndex(start); i < this.vmas.length && this.vmas[i].start < end; i++) out.push(this.vmas[i]);
    return out;
  }

  // Is every page of [start, end) inside some VMA?
  /** @internal */
  covers(start: number, end: number): boolean {
    let at = start;
    for (const v of this.overlapping(start, end)) {
      if (v.start > at) return false;
      at = v.end;
    }
    return at >= end;
  }

  // Describes vma to the core for the next per-range call.
  /** @internal */
  prepare(vma: Vma): void {
    const f = vma.file;
    const av = vma.anonVma ? vma.anonVma.id : 0;
    this.host.core.set_vma(vma.flags, vma.backing, vma.extraBits(this.host.thp), vma.start / PAGE_SIZE,
      vma.end / PAGE_SIZE, f ? f.id : av, vma.pgoff, f ? f.pages : 0, f ? f.daxBase : -1, av);
    this.host.core.set_mm_notify(this.notifierSubscriptions !== null);
  }

  // The interval notifiers overlapping [start, end) hear of `event` before
  // the entries there change (mmu_notifier_invalidate_range_start/_end).
  /** @internal */
  notify(event: number, start: number, end: number, site: string): void {
    this.notifierSubscriptions?.invalidate({ start, end, event, flags: MMU_NOTIFIER_RANGE_BLOCKABLE, owner: null }, site);
  }

  // Before a THP PMD leaf around addr is split (__split_huge_pmd()): CLEAR
  // over the huge range, if a THP maps addr.
  /** @internal */
  notifySplit(addr: number): void {
    if (!this.notifierSubscriptions) return;
    const h = this.host.core.thp_leaf_at(this.pgd, Math.floor(addr / PAGE_SIZE));
    if (h >= 0) this.notify(MMU_NOTIFY_CLEAR, h * PAGE_SIZE, h * PAGE_SIZE + PMD_SIZE, '__split_huge_pmd');
  }

  // After a core call came back short: if it stopped at a notifier gate,
  // tell the notifiers, let the change through, and say so (the caller
  // prepares again and calls again from where it stopped).
  /** @internal */
  notifyPending(): boolean {
    const core = this.host.core;
    if (!this.notifierSubscriptions || core.notify_pending_event() < 0) return false;
    const event = core.notify_pending_event();
    const vpn = core.notify_pending_start();
    this.notify(event, vpn * PAGE_SIZE, (vpn + core.notify_pending_nr()) * PAGE_SIZE, 'handle_mm_fault');
    core.notify_ack(event, vpn);
    return true;
  }

  /** @internal */
  insert(vma: Vma): void {
    this.vmas.splice(this.findIndex(vma.start), 0, vma);
  }

  // split_vma() at addr if a VMA straddles it. A huge PMD straddling the
  // new boundary is split first (vma_adjust_trans_huge()).
  /** @internal */
  splitAt(addr: number): void {
    const i = this.findIndex(addr);
    const v = this.vmas[i];
    if (!v || v.start >= addr) return;
    if (!v.isHugetlb && addr % PMD_SIZE !== 0) {
      this.notifySplit(addr);
      this.host.core.split_huge_pmd_address(this.pgd, addr / PAGE_SIZE);
    }
    this.vmas.splice(i + 1, 0, v.splitAt(addr));
  }

  // Merges compatible neighbours around [start, end) (vma_merge()).
  /** @internal */
  mergeAround(start: number, end: number): void {
    let i = Math.max(0, this.findIndex(start) - 1);
    while (i + 1 < this.vmas.length && this.vmas[i].start <= end) {
      const a = this.vmas[i];
      const b = this.vmas[i + 1];
      if (a.canMergeWith(b)) {
        a.end = b.end;
        a.anonVma = a.anonVma ?? b.anonVma;
        this.vmas.splice(i + 1, 1);
      } else {
        i++;
      }
    }
  }

  // Unmaps [start, end) of vma; the caller has notified the whole range, this
  // notifies the THP splits of a partly covered huge PMD (zap_pmd_range()).
  /** @internal */
  zap(vma: Vma, start: number, end: number): void {
    if (!vma.isHugetlb && start % PMD_SIZE) this.notifySplit(start);
    if (!vma.isHugetlb && end % PMD_SIZE && Math.floor(start / PMD_SIZE) !== Math.floor(end / PMD_SIZE)) this.notifySplit(end);
    this.prepare(vma);
    this.host.core.zap_range(this.pgd, start / PAGE_SIZE, (end - start) / PAGE_SIZE);
  }

  // do_vmi_munmap() on a validated range: split, zap, drop the VMAs, then
  // free the page tables that only the removed range used.
  /** @internal */
  unmap(start: number, end: number): Vma[] {
    this.splitAt(start);
    this.splitAt(end);
    const first = this.findIndex(start);
    const gone = this.overlapping(start, end);
    this.notify(MMU_NOTIFY_UNMAP, start, end, 'unmap_vmas');
    for (const v of gone) this.zap(v, v.start, v.end);
    this.uncountLocked(gone);
    this.vmas.splice(first, gone.length);
    const prev = this.vmas[first - 1];
    const next = this.vmas[first];
    this.host.core.free_pgtables(this.pgd, (prev ? prev.end : 0) / PAGE_SIZE, (next ? next.start : TASK_SIZE) / PAGE_SIZE);
    return gone;
  }

  /** @internal Unmapped VMAs leave locked_vm (vms_complete_munmap_vmas(), exit_mmap()). */
  uncountLocked(gone: readonly Vma[]): void {
    for (const v of gone) if (v.flags & VM_LOCKED) this.locked_vm -= v.pages;
  }

  // anon_vma_prepare() before a fault that may create anonymous pages (a
  // write or hugetlb fault in a private mapping, or an anon THP fault): reuse
  // a compatible neighbour's anon_vma (find_mergeable_anon_vma()), else a new one.
  /** @internal */
  anonVmaPrepare(vma: Vma, write: boolean): void {
    if (vma.anonVma || vma.isShared || !(write || vma.isHugetlb || vma.thpEligible(this.host.thp))) return;
    const i = this.vmas.indexOf(vma);
    const prev = this.vmas[i - 1];
    const next = this.vmas[i + 1];
    vma.anonVma = (prev && prev.anonVma && prev.compatibleWith(vma) ? prev.anonVma : null)
      ?? (next && next.anonVma && vma.compatibleWith(next) ? next.anonVma : null)
      ?? new AnonVma(this.host.core.new_mapping_id(), null);
  }

  // Faults in [start, end) of one VMA as user accesses (or populate) would.
  // Returns 0, or the VM_FAULT_* bits that stopped it.
  /** @internal */
  faultIn(vma: Vma, start: number, end: number, write: boolean): number {
    this.anonVmaPrepare(vma, write);
    const nr = (end - start) / PAGE_SIZE;
    const core = this.host.core;
    for (let done = 0; done < nr;) {
      const n = Math.min(nr - done, MAX_PAGES_PER_CALL);
      this.prepare(vma);
      const got = core.fault_range(this.pgd, start / PAGE_SIZE + done, n, write ? FAULT_FLAG_WRITE : 0);
      done += got;
      if (got !== n && !this.notifyPending()) return core.fault_status();
    }
    return 0;
  }
}
