// VFIO type1's dma_entry_limit (CVE-2019-3882's fix, v5.1): a container
// holds at most 65,535 DMA mappings, and the next VFIO_IOMMU_MAP_DMA is
// ENOSPC. A user space driver that maps 4 KiB pages one by one (DPDK
// without hugepages, a guest behind a vIOMMU) reaches it at 256 MiB;
// one mapping over the same memory is one entry.
import * as C from '../../../assembly/constants';
import type { VfioContainer } from '../../devices/vfio';
import type { Scenario, ScenarioCtx } from '../types';
import { failure, spawn, task, v } from './lib';

const PAGES = 65536; // 256 MiB of 4 KiB pages
const RW_DMA = C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE;

const ram = (c: ScenarioCtx): number => v<number>(c, 'ram');
const container = (c: ScenarioCtx): VfioContainer => v<VfioContainer>(c, 'container');
const counters = {
  kind: 'counters' as const, title: 'the container',
  values: (c: ScenarioCtx) => ({
    'DMA mappings': container(c).mappings().length,
    'dma_avail': C.VFIO_DMA_ENTRY_LIMIT - container(c).mappings().length,
    'mm.locked_vm (pages)': task(c, 'dpdk').mm.locked_vm,
  }),
};

export const vfioDmaEntries: Scenario = {
  id: 'vfio-dma-entries',
  title: "VFIO's 65,535 DMA mappings per container: the next MAP_DMA is ENOSPC",
  refs: [
    { label: '492855939bdb vfio/type1: Limit DMA mappings per container (CVE-2019-3882, v5.1)', url: 'https://git.kernel.org/linus/492855939bdb' },
    { label: 'cloud-hypervisor #165: the whole guest RAM pinned per device in 4 KiB mappings', url: 'https://github.com/cloud-hypervisor/cloud-hypervisor/issues/165' },
  ],
  presets: ['latest'],
  boot: { memory: '512MiB', thp: 'never' },
  steps: [
    {
      narration: 'A DPDK process (root: CAP_IPC_LOCK) maps 256 MiB of 4 KiB pages and opens a VFIO container for its NIC.',
      action: (c) => {
        const t = spawn(c, 'dpdk', { uid: 0 });
        c.vars.ram = t.mmap({ length: PAGES * C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_POPULATE });
        c.vars.container = t.vfio({ iommu: 'type1v2' });
        return `mmap(256 MiB, MAP_POPULATE); open("/dev/vfio/vfio"), VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)`;
      },
      look: [counters],
    },
    {
      narration: 'It maps each 4 KiB page with its own VFIO_IOMMU_MAP_DMA, IOVA = its index: one entry each.',
      action: (c) => {
        let i = 0;
        let e = null;
        for (; i < PAGES && e === null; i++) {
          e = failure(() => container(c).map_dma({ vaddr: ram(c) + i * C.PAGE_SIZE, iova: i * C.PAGE_SIZE, size: C.PAGE_SIZE, flags: RW_DMA }));
        }
        c.vars.mapped = container(c).mappings().length;
        c.vars.error = e?.code ?? null;
        return [`${c.vars.mapped} MAP_DMA calls succeed`, e ? `MAP_DMA #${i} = -${e.code} (${e.message.replace(/^[A-Z]+: /, '')})` : 'all succeed'];
      },
      look: [counters],
    },
    {
      narration: 'The remedy: unmap everything and map the 256 MiB as one range (or raise vfio_iommu_type1 dma_entry_limit).',
      action: (c) => {
        const bytes = container(c).unmap_dma({ iova: 0, size: 0, flags: C.VFIO_DMA_UNMAP_FLAG_ALL });
        container(c).map_dma({ vaddr: ram(c), iova: 0, size: PAGES * C.PAGE_SIZE, flags: RW_DMA });
        return [`VFIO_IOMMU_UNMAP_DMA(VFIO_DMA_UNMAP_FLAG_ALL) = ${bytes} bytes`, 'MAP_DMA(256 MiB) = 0: one entry'];
      },
      look: [counters],
    },
  ],
  outcome: (c) => ({
    summary: `${v<number>(c, 'mapped')} single-page mappings, then ${v<string | null>(c, 'error') ?? 'no error'}; one mapping covers the same 256 MiB`,
    values: { mapped: v<number>(c, 'mapped'), error: v<string | null>(c, 'error'), finalEntries: container(c).mappings().length, lockedVm: task(c, 'dpdk').mm.locked_vm },
  }),
};
