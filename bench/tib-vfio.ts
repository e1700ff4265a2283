// VFIO_IOMMU_MAP_DMA of 512 GiB of 1 GiB hugetlb pages on a 1 TiB machine
// (900 x 1 GiB at boot), and its unmap (part of npm run bench:boot 1TiB).
import { boot, constants as C } from '../src/index';

const GIB = 1024 ** 3;
const SIZE = 512 * GIB;
const IOVA = 2 ** 32;

export const TIB_OPTIONS = { memory: '1TiB', hugepages: { '1GiB': 900 } };

export async function vfioMap512G(backend: 'wasm' | 'ts'): Promise<string> {
  const k = await boot({ ...TIB_OPTIONS, backend, memlock: Infinity });
  const t = k.spawn();
  const a = t.mmap({ length: SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB | C.MAP_HUGE_1GB });
  const c = t.vfio({ iommu: 'type1v2' });
  let t0 = performance.now();
  c.map_dma({ vaddr: a, iova: IOVA, size: SIZE, flags: C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE });
  const map = performance.now() - t0;
  if (t.mm.locked_vm !== SIZE / C.PAGE_SIZE) throw new Error(`locked_vm ${t.mm.locked_vm}`);
  t0 = performance.now();
  c.unmap_dma({ iova: IOVA, size: SIZE });
  const unmap = performance.now() - t0;
  return `1TiB ${backend}: VFIO_IOMMU_MAP_DMA of 512GiB (1 GiB pages, faulted by the pin) ${map.toFixed(0)} ms, unmap ${unmap.toFixed(0)} ms`;
}
