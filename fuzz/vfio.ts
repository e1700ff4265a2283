// The vfio family: VFIO type1 containers mapping the fuzz tasks' memory,
// unmapping, device DMA through the IOMMU and closing, interleaved with
// whatever other families run (munmap, fork, mlock, exit). Outcomes carry
// the DMA reads and the mapping task's locked_vm, which the lockstep
// compares across cores; checkMemlock() sees the charges, checkPins() the
// pins (vfioHeld()).
import * as C from '../assembly/constants';
import type { PageArray, Task, VfioContainer } from '../src/index';
import type { Machine } from './machine';
import type { Op } from './ops';

const PAGE = C.PAGE_SIZE;
const SLOT = 64 * PAGE; // IOVA spacing of the map slots (a map is at most 64 pages)

export type VfioOp = Extract<Op, { op: 'vfioOpen' | 'vfioMap' | 'vfioUnmap' | 'vfioDma' | 'vfioClose' }>;

export function runVfioOp(m: Machine, t: Task, o: VfioOp): unknown {
  if (o.op === 'vfioOpen') {
    // A small dma_entry_limit so ENOSPC comes up.
    const c = t.vfio({ iommu: o.v2 ? 'type1v2' : 'type1', dmaEntryLimit: 6 });
    m.vfio.push(c);
    return c.name;
  }
  const c = m.vfio[o.c % Math.max(1, m.vfio.length)];
  if (!c) return null;
  switch (o.op) {
    case 'vfioMap': {
      const a = m.addr(t, o.vma, o.off);
      const flags = C.VFIO_DMA_MAP_FLAG_READ | (o.write ? C.VFIO_DMA_MAP_FLAG_WRITE : 0);
      c.map_dma({ vaddr: a, iova: o.slot * SLOT, size: m.len(t, a, o.pages), flags }, t);
      return t.mm.locked_vm;
    }
    case 'vfioUnmap':
      return c.unmap_dma(o.all ? { iova: 0, size: 0, flags: C.VFIO_DMA_UNMAP_FLAG_ALL } : { iova: o.slot * SLOT, size: o.pages * PAGE }, t);
    case 'vfioDma': return dma(m, c, o.slot * SLOT + o.off * PAGE, o.write, o.word);
    case 'vfioClose': {
      const fd = [...t.fds].find(([, f]) => f === c);
      return fd ? t.close(fd[0]) : null;
    }
  }
}

// The pins the containers hold, as the pin balance counts them: each
// IOMMU-mapped run of pages is one FOLL_PIN per page.
export function vfioHeld(cs: readonly VfioContainer[]): { pa: PageArray; n: number; pin: boolean }[] {
  return cs.filter((c) => !c.closed).flatMap((c) => c.domain.extents().map((e) => {
    const n = e.size / PAGE;
    return { pa: e.pages.subarray(e.first, e.first + n), n, pin: true };
  }));
}

// The device's access at iova; a write that reached memory is told to the
// content model as the mapping task's page (which, after a munmap or a
// remap, the model sees is no longer that frame).
function dma(m: Machine, c: VfioContainer, iova: number, write: boolean, word: number): unknown {
  if (!write) return c.dma_read(iova);
  const pfn = c.closed ? -1 : c.domain.iova_to_pfn(iova);
  const ok = c.dma_write(iova, word);
  const map = c.mappings().find((x) => x.iova <= iova && iova < x.iova + x.size);
  const owner = map && m.k.tasks.find((x) => x.pid === map.pid);
  if (ok && owner) m.model.dma(owner, map.vaddr + (iova - map.iova), pfn, word);
  return ok;
}
