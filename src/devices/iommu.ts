// An IOMMU domain: the device's I/O virtual address space, mapped extent by
// extent onto page frames a pin holds (VFIO, iommufd; RDMA keys reuse it
// over an MR's page list). Each extent refers to the PageArray the pin
// filled, so mapping costs nothing per page; a DMA looks its extent up by
// binary search. A DMA to an IOVA with no mapping, or without the access
// it needs, is logged the way intel-iommu's dmar_fault_do_one() logs a
// fault and touches no memory (the shape is a choice: AMD-Vi and SMMU word
// it differently).
import * as C from '../../assembly/constants';
import type { PageArray } from '../gup/page-array';
import type { Kernel } from './kernel';

export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;

const PAGE = C.PAGE_SIZE;

export interface IommuExtent {
  readonly iova: number; // page-aligned
  readonly size: number; // bytes, a multiple of PAGE_SIZE
  readonly prot: number; // IOMMU_READ | IOMMU_WRITE
  readonly pages: PageArray; // the frames, one entry per 4 KiB page
  readonly first: number; // index in pages of the extent's first page
}

export class IommuDomain {
  #extents: IommuExtent[] = []; // sorted by iova, never overlapping

  // bdf: the device's PCI address as lspci prints it ('01:00.0').
  constructor(readonly kernel: Kernel, readonly bdf: string) {
    if (!/^[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/.test(bdf)) throw new RangeError(`bdf must look like '01:00.0', got '${bdf}'`);
  }

  // iommu_map() of one extent; -EEXIST if any of it is mapped already.
  map(iova: number, pages: PageArray, first: number, npages: number, prot: number): number {
    const e: IommuExtent = { iova, size: npages * PAGE, prot, pages, first };
    const i = this.#indexAfter(iova);
    const prev = this.#extents[i - 1];
    const next = this.#extents[i];
    if ((prev && prev.iova + prev.size > iova) || (next && next.iova < iova + e.size)) return -C.EEXIST;
    this.#extents.splice(i, 0, e);
    return 0;
  }

  // iommu_unmap() of whole extents inside [iova, iova + size): the bytes unmapped.
  unmap(iova: number, size: number): number {
    let done = 0;
    this.#extents = this.#extents.filter((e) => {
      const inside = e.iova >= iova && e.iova + e.size <= iova + size;
      if (inside) done += e.size;
      return !inside;
    });
    return done;
  }

  // iommu_iova_to_phys() as a pfn: -1 where nothing is mapped.
  iova_to_pfn(iova: number): number {
    const e = this.#extentAt(iova);
    return e ? e.pages.pfns[e.first + Math.floor((iova - e.iova) / PAGE)] : -1;
  }

  // The device writes `word` at iova: through the mapping into the frame
  // (as k.dma_write does), or a logged fault. True when it reached memory.
  dma_write(iova: number, word: number): boolean {
    const pfn = this.#translate(iova, IOMMU_WRITE);
    if (pfn < 0) return false;
    this.kernel.dma_write(pfn, word);
    return true;
  }

  // The device reads the word at iova; null after a logged fault.
  dma_read(iova: number): number | null {
    const pfn = this.#translate(iova, IOMMU_READ);
    return pfn < 0 ? null : this.kernel.dma_read(pfn);
  }

  extents(): readonly IommuExtent[] { return this.#extents; }

  #translate(iova: number, need: number): number {
    const e = this.#extentAt(iova);
    if (e && e.prot & need) return e.pages.pfns[e.first + Math.floor((iova - e.iova) / PAGE)];
    // A non-present second-level entry has neither R nor W: the reason names the access.
    const write = need === IOMMU_WRITE;
    const [bus, devfn] = this.bdf.split(':');
    this.kernel.printk(`DMAR: [${write ? 'DMA Write' : 'DMA Read'} NO_PASID] Request device [${bus}:${devfn}] fault addr 0x${(iova - (iova % PAGE)).toString(16)} [fault reason 0x${write ? '05' : '06'}] PTE ${write ? 'Write' : 'Read'} access is not set`);
    return -1;
  }

  #indexAfter(iova: number): number {
    return indexAfter(this.#extents, iova);
  }

  #extentAt(iova: number): IommuExtent | null {
    const e = this.#extents[this.#indexAfter(iova) - 1];
    return e && iova < e.iova + e.size ? e : null;
  }
}

// In a list sorted by iova: the index of the first entry whose iova is
// above `iova` (binary search).
export function indexAfter(sorted: readonly { readonly iova: number }[], iova: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].iova <= iova) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
