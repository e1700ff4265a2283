// Bench cases `vfio-4k` and `vfio-hugetlb-2m`: VFIO_IOMMU_MAP_DMA of a
// populated 1 GiB anonymous region (pin in batches, walk the contiguous
// runs, charge locked_vm, map the IOMMU domain) and VFIO_IOMMU_UNMAP_DMA of
// it (IOMMU unmap, unpin dirty, uncharge).
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;
const IOVA = 2 ** 32;

const METRICS: MetricDef[] = [
  { id: 'map', unit: 'ns/page', what: 'VFIO_IOMMU_MAP_DMA of the region, READ | WRITE (unmap in afterEach, untimed)', ref: 'vfio_pin_map_dma()' },
  { id: 'unmap', unit: 'ns/page', what: 'VFIO_IOMMU_UNMAP_DMA of the mapped region (map in beforeEach, untimed)', ref: 'vfio_remove_dma()' },
];

export function vfioCase(kind: '4k' | 'hugetlb-2m'): CaseDef {
  const huge = kind === 'hugetlb-2m';
  return {
    id: `vfio-${kind}`,
    title: `VFIO type1 1 GiB (${huge ? 'hugetlb 2 MiB' : "4 KiB pages, thp 'never'"}): MAP_DMA, then UNMAP_DMA`,
    metrics: METRICS,
    budget: { time: 600, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const region = cfg.smoke ? 4 * MiB : 1024 * MiB;
      const k = await boot({
        backend, wasm: cfg.wasm, memory: cfg.smoke ? '64MiB' : '2GiB', thp: 'never', memlock: Infinity,
        hugepages: huge ? { '2MiB': region / (2 * MiB) } : {},
      });
      const t = k.spawn();
      const addr = t.mmap({ length: region, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | (huge ? C.MAP_HUGETLB : 0) });
      t.touch(addr, region, { write: true });
      const c = t.vfio({ iommu: 'type1v2' });
      const map = () => c.map_dma({ vaddr: addr, iova: IOVA, size: region, flags: C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE });
      const unmap = () => { c.unmap_dma({ iova: IOVA, size: region }); };
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          map();
          mark('map', { locked_vm: t.mm.locked_vm, extents: c.domain.extents().length, last: c.domain.iova_to_pfn(IOVA + region - PAGE) === t.translate(addr + region - PAGE) });
          unmap();
          mark('unmap', { locked_vm: t.mm.locked_vm, pinned: k.folio_maybe_dma_pinned(t.translate(addr)!) });
        },
        timed: {
          map: { fn: map, afterEach: unmap, per: region / PAGE },
          unmap: { fn: unmap, beforeEach: map, per: region / PAGE },
        },
        check: () => {
          if (t.mm.locked_vm !== 0 || c.mappings().length !== 0 || k.folio_maybe_dma_pinned(t.translate(addr)!)) throw new Error('bench: vfio: state left behind');
        },
      };
    },
  };
}
