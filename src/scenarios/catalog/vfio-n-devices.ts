// N VFIO devices × guest RAM: with a vIOMMU each assigned device has its
// own container (its own address space), and each maps, pins and charges
// the whole guest RAM to mm->locked_vm again: nothing deduplicates across
// containers (devices-and-accounting.md §7, §13). kubevirt sized
// RLIMIT_MEMLOCK as guest RAM + overhead, so the second device's
// MAP_DMA failed; libvirt (and kubevirt since PR #17805) allow N × RAM.
import * as C from '../../../assembly/constants';
import type { VfioContainer } from '../../devices/vfio';
import type { Scenario, ScenarioCtx } from '../types';
import { KiB, failure, memlockCounters, spawn, task, v } from './lib';

const MiB = 1024 * KiB;
const GUEST = 32 * MiB;
const OVERHEAD = 1 * MiB;
const RW_DMA = C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE;

// A qemu process with guest RAM (-mem-prealloc) under the given limit.
function startQemu(c: ScenarioCtx, name: string, limit: number): string {
  const t = spawn(c, name, { uid: 107, memlock: limit });
  c.vars[`${name}.ram`] = t.mmap({ length: GUEST, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_POPULATE });
  return `${name} (uid 107): RLIMIT_MEMLOCK ${limit / MiB} MiB, guest RAM ${GUEST / MiB} MiB populated`;
}

// One assigned device: a container of its own mapping all of guest RAM at IOVA 0.
function assign(c: ScenarioCtx, qemu: string, bdf: string): string {
  const t = task(c, qemu);
  const ctr = t.vfio({ iommu: 'type1v2', bdf });
  c.vars[`${qemu}.${bdf}`] = ctr;
  const e = failure(() => ctr.map_dma({ vaddr: v<number>(c, `${qemu}.ram`), iova: 0, size: GUEST, flags: RW_DMA }));
  c.vars[`${qemu}.${bdf}.error`] = e?.code ?? null;
  return `device ${bdf}: VFIO_IOMMU_MAP_DMA(guest RAM, ${GUEST / MiB} MiB) = ${e ? `-${e.code}` : 0}`;
}

const device = (qemu: string, bdf: string) => ({ kind: 'device' as const, title: `container of ${bdf}`, device: (c: ScenarioCtx) => v<VfioContainer>(c, `${qemu}.${bdf}`).name });
const counters = (qemu: string) => ({ kind: 'counters' as const, title: `${qemu} memlock (pages)`, values: (c: ScenarioCtx) => ({ ...memlockCounters(c, qemu), 'VmLck (kB)': task(c, qemu).status().VmLck }) });

export const vfioNDevices: Scenario = {
  id: 'vfio-n-devices',
  title: 'two VFIO devices behind a vIOMMU: guest RAM charged to locked_vm twice',
  refs: [
    { label: 'kubevirt PR #17805: scale VFIO memory overhead for memlock accounting', url: 'https://github.com/kubevirt/kubevirt/pull/17805' },
    { label: 'kubevirt #18915: vIOMMU + 2 VFIO devices: vfio_container_dma_map ENOMEM', url: 'https://github.com/kubevirt/kubevirt/issues/18915' },
  ],
  presets: ['latest'],
  boot: { memory: '256MiB', thp: 'never' },
  steps: [
    {
      narration: 'virt-handler sets qemu\'s RLIMIT_MEMLOCK to guest RAM + overhead (33 MiB) and qemu preallocates 32 MiB of guest RAM.',
      action: (c) => startQemu(c, 'qemu', GUEST + OVERHEAD),
      look: [counters('qemu')],
    },
    {
      narration: 'The first GPU (01:00.0) gets a container that maps all of guest RAM: 8192 pages pinned and charged to locked_vm.',
      action: (c) => assign(c, 'qemu', '01:00.0'),
      look: [device('qemu', '01:00.0'), counters('qemu')],
    },
    {
      narration: 'The second GPU (02:00.0) sits behind the vIOMMU in its own address space: it maps the same RAM again.',
      action: (c) => assign(c, 'qemu', '02:00.0'),
      look: [counters('qemu')],
    },
    {
      narration: 'The VM fails to start; with the fix, the limit is guest RAM × 2 devices + overhead (65 MiB) and both maps pass.',
      action: (c) => {
        // qemu tears its containers down (unmapping and uncharging) and exits.
        for (const bdf of ['01:00.0', '02:00.0']) v<VfioContainer>(c, `qemu.${bdf}`).close();
        task(c, 'qemu').exit();
        return [startQemu(c, 'qemu-fixed', 2 * GUEST + OVERHEAD), assign(c, 'qemu-fixed', '01:00.0'), assign(c, 'qemu-fixed', '02:00.0')];
      },
      look: [device('qemu-fixed', '01:00.0'), device('qemu-fixed', '02:00.0'), counters('qemu-fixed')],
    },
  ],
  outcome: (c) => {
    const fixed = task(c, 'qemu-fixed');
    return {
      summary: `guest RAM + overhead: the second device's MAP_DMA is ${v<string | null>(c, 'qemu.02:00.0.error') ?? 'fine'}; with 2 × RAM + overhead locked_vm holds ${fixed.mm.locked_vm} pages (VmLck ${fixed.status().VmLck} kB) for ${GUEST / C.PAGE_SIZE} pages of RAM`,
      values: {
        firstDevice: v<string | null>(c, 'qemu.01:00.0.error'), secondDevice: v<string | null>(c, 'qemu.02:00.0.error'),
        fixedErrors: [v<string | null>(c, 'qemu-fixed.01:00.0.error'), v<string | null>(c, 'qemu-fixed.02:00.0.error')].filter((e) => e !== null).length,
        fixedLockedVm: fixed.mm.locked_vm, fixedVmLckKiB: fixed.status().VmLck, guestPages: GUEST / C.PAGE_SIZE,
      },
    };
  },
};
