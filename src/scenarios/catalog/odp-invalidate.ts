// An RDMA ODP memory region pins nothing: the NIC faults pages in through
// hmm_range_fault() when it misses, and the MR's interval notifier drops
// the device's mapping whenever the CPU page tables change (fork's
// write-protect, a COW, migration, munmap). The next access faults again
// and finds the current page, so the NIC and the process never part ways,
// and the pages stay movable (src/devices/umem-odp.ts).
import * as C from '../../../assembly/constants';
import type { IbMr, RdmaNic } from '../../devices/rdma';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { anonFilled, hex, ret, spawn, task, v } from './lib';

const PAGES = 8;
const ACCESS = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ | C.IB_ACCESS_ON_DEMAND;
const [A, B, CC] = [0x41, 0x42, 0x43];

const buf = (c: ScenarioCtx): number => v<number>(c, 'buf');
const nic = (c: ScenarioCtx): RdmaNic => v<RdmaNic>(c, 'nic');
const mr = (c: ScenarioCtx): IbMr => v<IbMr>(c, 'mr');
const app = (c: ScenarioCtx) => task(c, 'app');

// A peer's RDMA READ of the first page: what it got, and whether the NIC had to fault.
function peerRead(c: ScenarioCtx): string {
  const r = nic(c).remote_read(mr(c).rkey, buf(c));
  c.vars.lastRead = r.status === 'IBV_WC_SUCCESS' ? word(r.word) : r.status;
  return `RDMA READ: ${r.status}${r.word === null ? '' : `, gets ${word(r.word)}`}${r.faulted ? ' (device miss: faulted in through hmm_range_fault())' : ' (device hit)'}`;
}

const stats = {
  kind: 'counters' as const, title: 'the ODP MR',
  values: (c: ScenarioCtx) => ({ ...mr(c).odpStats(), 'VmPin (kB)': app(c).status().VmPin, 'time (ns)': c.k.now() }),
};
const ptes = { kind: 'ptes' as const, title: 'app', task: 'app', addr: buf, pages: 1 };

export const odpInvalidate: Scenario = {
  id: 'odp-invalidate',
  title: 'an RDMA ODP MR: no pin, invalidated on fork, COW, migration and munmap, refaulted on the next access',
  refs: [
    { label: '8ada2c1c0c1d IB/core: Add support for on demand paging regions (3.19)', url: 'https://git.kernel.org/linus/8ada2c1c0c1d' },
    { label: 'Documentation/mm/hmm.rst', url: 'https://docs.kernel.org/mm/hmm.html' },
    { label: 'NVIDIA DOCA: On-Demand Paging', url: 'https://docs.nvidia.com/doca/archive/3-1-0-core-update/optimized-memory-access/index.html' },
  ],
  presets: ['latest'],
  boot: { memory: '64MiB', thp: 'never' },
  steps: [
    {
      narration: "The application fills an 8-page buffer with 'A' and registers it with IB_ACCESS_ON_DEMAND: nothing is pinned or charged.",
      action: (c) => {
        c.vars.buf = anonFilled(spawn(c, 'app'), PAGES, A);
        c.vars.nic = c.k.rdma({ odp: true });
        c.vars.mr = nic(c).reg_mr(nic(c).alloc_pd(app(c)), buf(c), PAGES * C.PAGE_SIZE, ACCESS);
        return `ibv_reg_mr(${hex(buf(c))}, 32 KiB, ... | ON_DEMAND) = rkey ${hex(mr(c).rkey)}`;
      },
      look: [ptes, { kind: 'device', title: 'the NIC', device: (c) => nic(c).name }, stats],
    },
    {
      narration: 'A peer reads the buffer: the NIC misses, faults the page in (20 µs on the clock), then reads it; a second read hits.',
      action: (c) => [peerRead(c), peerRead(c)],
      look: [{ kind: 'frames', title: 'the page (no extra reference)', pfns: (c) => [app(c).translate(buf(c))!] }, stats],
    },
    {
      narration: "fork() write-protects the buffer, which invalidates the NIC's mapping; the parent's write of 'B' then copies the page.",
      action: (c) => {
        c.tasks.set('child', app(c).fork());
        app(c).write(buf(c), B);
        return ['fork(); the parent writes \'B\'', peerRead(c)];
      },
      look: [ptes, { kind: 'ptes', title: 'child', task: 'child', addr: buf, pages: 1 }, stats],
    },
    {
      narration: 'Compaction migrates the page: possible because nothing pins it; the NIC refaults the new frame.',
      action: (c) => {
        const before = app(c).translate(buf(c))!;
        const r = c.k.migrate_folio(before);
        c.vars.migrate = r;
        return [`migrate_folio(pfn ${before}) = ${ret(r)}: now pfn ${app(c).translate(buf(c))}`, peerRead(c)];
      },
      look: [ptes, stats],
    },
    {
      narration: 'munmap() of the buffer: the device mapping goes, and a remote access is an error completion, not a stale page.',
      action: (c) => {
        app(c).munmap(buf(c), PAGES * C.PAGE_SIZE);
        const w = nic(c).remote_write(mr(c).rkey, buf(c), CC);
        c.vars.afterMunmap = w.status;
        return [`munmap(${hex(buf(c))}, 32 KiB)`, `RDMA WRITE: ${w.status}`];
      },
      look: [stats],
    },
  ],
  outcome: (c) => {
    const s = mr(c).odpStats();
    return {
      summary: `no pin at any point; ${s.invalidations} invalidations, ${s.faults} device faults; the peer always read the current page, and after munmap got ${v<string>(c, 'afterMunmap')}`,
      values: { faults: s.faults, invalidations: s.invalidations, migrate: v<number>(c, 'migrate'), lastRead: v<string>(c, 'lastRead'), afterMunmap: v<string>(c, 'afterMunmap'), pinned: c.k.vmstat().nr_foll_pin_acquired },
    };
  },
};
