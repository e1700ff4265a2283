// The stale MR that registration caches (MPI, UCX, libfabric) run into: a
// pinned MR keeps the frames it pinned; after munmap and a new mmap at the
// same address the process has new frames and the NIC still uses the old
// ones, with no error anywhere (devices-and-accounting.md §3.7). An ODP MR
// pins nothing and follows the page tables through its interval notifier,
// so the same sequence stays coherent.
import * as C from '../../../assembly/constants';
import type { IbMr, RdmaNic } from '../../devices/rdma';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { anonFilled, hex, spawn, task, v } from './lib';

const PAGES = 4;
const LEN = PAGES * C.PAGE_SIZE;
const ACCESS = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const [A, B, CC, D] = [0x41, 0x42, 0x43, 0x44];

const buf = (c: ScenarioCtx): number => v<number>(c, 'buf');
const nic = (c: ScenarioCtx): RdmaNic => v<RdmaNic>(c, 'nic');
const mr = (c: ScenarioCtx): IbMr => v<IbMr>(c, 'mr');
const odp = (c: ScenarioCtx): IbMr => v<IbMr>(c, 'odp');

// free() of a large block is munmap; the next malloc of the same size is a
// new mmap, which lands where the old one was.
function remap(c: ScenarioCtx, w: number): string {
  const t = task(c, 'mpi-rank');
  t.munmap(buf(c), LEN);
  const again = anonFilled(t, PAGES, w);
  return `free(): munmap(${hex(buf(c))}); malloc(): mmap() = ${hex(again)}${again === buf(c) ? ' (the same address)' : ''}, written ${word(w)}`;
}

// A peer's RDMA READ of the first page, then an RDMA WRITE of `w`; what the CPU then reads.
function peer(c: ScenarioCtx, m: IbMr, w: number, key: string): string[] {
  const rd = nic(c).remote_read(m.rkey, buf(c));
  const wr = nic(c).remote_write(m.rkey, buf(c), w);
  const cpu = task(c, 'mpi-rank').read(buf(c));
  c.vars[key] = { nicRead: word(rd.word ?? null), cpuAfterWrite: word(cpu) };
  return [`RDMA READ: ${rd.status}, gets ${word(rd.word ?? null)}${rd.faulted ? ' (the NIC faulted the page in)' : ''}`,
    `RDMA WRITE ${word(w)}: ${wr.status}; the CPU reads ${word(cpu)}`];
}

const ptes = { kind: 'ptes' as const, title: 'mpi-rank', task: 'mpi-rank', addr: buf, pages: 2 };
const nicLook = { kind: 'device' as const, title: 'the NIC', device: (c: ScenarioCtx) => nic(c).name };

export const staleMrRemap: Scenario = {
  id: 'stale-mr-remap',
  title: 'munmap and re-mmap under a registered MR: the NIC keeps the old pages (and how ODP avoids it)',
  refs: [
    { label: 'libfabric-cray #1000: possible corruption issue in the memory registration cache', url: 'https://github.com/ofi-cray/libfabric-cray/issues/1000' },
    { label: 'openucx/ucx #4269: a stale registration cache entry after address reuse', url: 'https://github.com/openucx/ucx/issues/4269' },
    { label: '8ada2c1c0c1d IB/core: Add support for on demand paging regions (3.19)', url: 'https://git.kernel.org/linus/8ada2c1c0c1d' },
    { label: 'NVIDIA DOCA: On-Demand Paging', url: 'https://docs.nvidia.com/doca/archive/3-1-0-core-update/optimized-memory-access/index.html' },
  ],
  presets: ['latest'],
  boot: { memory: '64MiB', thp: 'never' },
  steps: [
    {
      narration: "An MPI rank mallocs a 16 KiB send buffer (an mmap) and fills it with 'A'.",
      action: (c) => {
        c.vars.buf = anonFilled(spawn(c, 'mpi-rank'), PAGES, A);
        c.vars.oldPfn = task(c, 'mpi-rank').translate(buf(c));
        return `mmap(16 KiB) = ${hex(buf(c))}`;
      },
      look: [ptes],
    },
    {
      narration: 'The registration cache registers it once (ibv_reg_mr: a long-term pin) and keeps the MR for reuse.',
      action: (c) => {
        c.vars.nic = c.k.rdma({ odp: true });
        c.vars.pd = nic(c).alloc_pd(task(c, 'mpi-rank'));
        c.vars.mr = nic(c).reg_mr(v(c, 'pd'), buf(c), LEN, ACCESS);
        return `ibv_reg_mr(buf, 16 KiB) = rkey ${hex(mr(c).rkey)}: ${PAGES} pages pinned`;
      },
      look: [nicLook],
    },
    {
      narration: 'The application frees the buffer and mallocs another of the same size; the cache sees nothing.',
      action: (c) => remap(c, B),
      look: [ptes, { kind: 'frames', title: 'the frame the MR holds', pfns: (c) => [v<number>(c, 'oldPfn')] }],
    },
    {
      narration: 'The next send hits the cache by address; a peer RDMA-READs the buffer and RDMA-WRITEs into it.',
      action: (c) => peer(c, mr(c), CC, 'pinnedSeen'),
      look: [ptes, { kind: 'frames', title: 'the frame the MR holds', pfns: (c) => [v<number>(c, 'oldPfn')] }],
    },
    {
      narration: 'Now the same with an ODP MR: no pin; an interval notifier tells the driver when the pages change.',
      action: (c) => {
        nic(c).dereg_mr(mr(c));
        c.vars.odp = nic(c).reg_mr(v(c, 'pd'), buf(c), LEN, ACCESS | C.IB_ACCESS_ON_DEMAND);
        nic(c).remote_read(odp(c).rkey, buf(c));
        return ['ibv_dereg_mr(): the old frames are freed', `ibv_reg_mr(buf, 16 KiB, ... | ON_DEMAND) = rkey ${hex(odp(c).rkey)}; the first access faults the page in`];
      },
      look: [nicLook, { kind: 'counters', title: 'ODP', values: (c) => ({ ...odp(c).odpStats(), 'VmPin (kB)': task(c, 'mpi-rank').status().VmPin }) }],
    },
    {
      narration: 'free() and malloc() again: the munmap invalidates the device mapping, so the peer reaches the new pages.',
      action: (c) => [remap(c, D), ...peer(c, odp(c), CC, 'odpSeen')],
      look: [ptes, { kind: 'counters', title: 'ODP', values: (c) => ({ ...odp(c).odpStats(), 'VmPin (kB)': task(c, 'mpi-rank').status().VmPin }) }],
    },
  ],
  outcome: (c) => {
    const p = v<{ nicRead: string; cpuAfterWrite: string }>(c, 'pinnedSeen');
    const o = v<{ nicRead: string; cpuAfterWrite: string }>(c, 'odpSeen');
    return {
      summary: `pinned MR: the peer read ${p.nicRead} (stale; the process holds 'B') and its write never reached the process (reads ${p.cpuAfterWrite}); ODP MR: the peer read ${o.nicRead} and the process reads its ${o.cpuAfterWrite}`,
      values: { pinnedNicRead: p.nicRead, pinnedCpuAfterWrite: p.cpuAfterWrite, odpNicRead: o.nicRead, odpCpuAfterWrite: o.cpuAfterWrite, odpInvalidations: odp(c).odpStats().invalidations },
    };
  },
};
