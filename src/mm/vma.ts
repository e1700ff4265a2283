// A virtual memory area (struct vm_area_struct), kept by the façade.
import {
  PAGE_SIZE, BACKING_ANON, BACKING_FILE, BACKING_DAX, VM_SHARED, VM_WRITE, VM_HUGETLB, VM_HUGEPAGE, VM_NOHUGEPAGE,
  VM_MAYWRITE, VMA_THP_ELIGIBLE, VMA_WRITENOTIFY, VMA_HUGE_1G, HPAGE_PUD_ORDER,
} from '../../assembly/constants';
import type { SimFile } from '../fs/file';

export type ThpMode = 'always' | 'madvise' | 'never';

// An anon_vma: what anonymous pages point at (their pg_mapping) for rmap.
// A forked VMA's anon_vma chains to its parent's (anon_vma_fork()).
export class AnonVma {
  constructor(readonly id: number, readonly parent: AnonVma | null) {}
}

export class Vma {
  constructor(
    public start: number, // bytes
    public end: number,
    public flags: number, // vm_flags
    readonly backing: number, // BACKING_*
    readonly file: SimFile | null, // vm_file (the internal shmem/hugetlbfs file for shared anon)
    public pgoff: number, // file page at `start` (anon: start >> PAGE_SHIFT, as in Linux)
    public anonVma: AnonVma | null, // set once anon pages may exist (anon_vma_prepare()); fork then copies PTEs
    readonly hugeOrder: number, // hugetlb VMAs: 9 (2 MiB) or 18 (1 GiB); else 0
  ) {}

  get pages(): number { return (this.end - this.start) / PAGE_SIZE; }
  get isHugetlb(): boolean { return (this.flags & VM_HUGETLB) !== 0; }
  get hugeSize(): number { return PAGE_SIZE * 2 ** this.hugeOrder; }
  get isShared(): boolean { return (this.flags & VM_SHARED) !== 0; }
  // is_cow_mapping()
  get isCow(): boolean { return (this.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE; }
  // vma_is_anonymous(): no file at all (shared anon has its shmem file)
  get isAnonymous(): boolean { return this.backing === BACKING_ANON; }
  get isFsdax(): boolean { return this.backing === BACKING_DAX; }

  // vma_wants_writenotify(): shared, writable and the filesystem wants ->page_mkwrite.
  get writenotify(): boolean {
    return (this.flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE)
      && (this.backing === BACKING_FILE || this.backing === BACKING_DAX);
  }

  // thp_vma_allowable_order() for PMD order, anon memory only (shmem THP is off by default).
  thpEligible(mode: ThpMode): boolean {
    if (this.backing !== BACKING_ANON || this.isHugetlb || (this.flags & VM_NOHUGEPAGE) !== 0) return false;
    return mode === 'always' || (mode === 'madvise' && (this.flags & VM_HUGEPAGE) !== 0);
  }

  // vma_needs_dirty_tracking(): shared, writable, and its filesystem wants
  // to hear of writes (->page_mkwrite, writeback).
  get needsDirtyTracking(): boolean {
    return (this.flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE) && this.backing === BACKING_FILE;
  }

  extraBits(mode: ThpMode): number {
    return (this.thpEligible(mode) ? VMA_THP_ELIGIBLE : 0) | (this.writenotify ? VMA_WRITENOTIFY : 0)
      | (this.hugeOrder === HPAGE_PUD_ORDER ? VMA_HUGE_1G : 0);
  }

  // dup_mmap()'s vm_area_dup(): the child's copy of this VMA.
  clone(): Vma {
    return new Vma(this.start, this.end, this.flags, this.backing, this.file, this.pgoff, this.anonVma, this.hugeOrder);
  }

  // The part [at, end) split off (split_vma()); this VMA keeps [start, at).
  splitAt(at: number): Vma {
    const tail = new Vma(at, this.end, this.flags, this.backing, this.file,
      this.pgoff + (at - this.start) / PAGE_SIZE, this.anonVma, this.hugeOrder);
    this.end = at;
    return tail;
  }

  // anon_vma_compatible(): could `next`, starting where this VMA ends, share
  // an anon_vma with it (and merge, anon_vmas aside)?
  compatibleWith(next: Vma): boolean {
    return this.end === next.start && this.flags === next.flags && this.backing === next.backing
      && this.file === next.file && this.hugeOrder === next.hugeOrder
      && this.pgoff + this.pages === next.pgoff;
  }

  // vma_merge()'s test, with is_mergeable_anon_vma(): no two different anon_vmas.
  canMergeWith(next: Vma): boolean {
    return this.compatibleWith(next) && (!this.anonVma || !next.anonVma || this.anonVma === next.anonVma);
  }
}
