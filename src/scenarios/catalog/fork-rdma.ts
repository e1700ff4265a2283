// fork() with a registered RDMA memory region (kernel-history.md §4.1, S2):
// up to 5.8 fork shared the pinned page copy-on-write, so the parent's next
// write moved its buffer to a new page the NIC never sees; from 5.9
// (70e806e4e645) fork copies maybe-pinned pages into the child instead.
import * as C from '../../../assembly/constants';
import type { IbMr, RdmaNic } from '../../devices/rdma';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { task } from './lib';

const RWR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const [A, B, CC] = [0x41, 0x42, 0x43];

const buf = (c: ScenarioCtx): number => c.vars.buf as number;
const nic = (c: ScenarioCtx): RdmaNic => c.vars.nic as RdmaNic;
const mr = (c: ScenarioCtx): IbMr => c.vars.mr as IbMr;

export const forkRdma: Scenario = {
  id: 'fork-rdma',
  title: 'fork() while an RDMA MR is registered: the parent loses its buffer',
  refs: [
    { label: 'LWN: Patching until the COWs come home (part 2)', url: 'https://lwn.net/Articles/849876/' },
    { label: '70e806e4e645 mm: Do early cow for pinned pages during fork() for ptes (5.9)', url: 'https://git.kernel.org/linus/70e806e4e645' },
  ],
  presets: ['5.8', '5.10'],
  boot: { memory: '64MiB', thp: 'never' },
  steps: [
    {
      narration: "The application fills a one-page buffer with 'A'.",
      action: (c) => {
        const t = c.k.spawn({ name: 'rdma-app' });
        c.tasks.set('parent', t);
        c.vars.buf = t.mmap({ length: C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.write(buf(c), A);
        return `mmap() = 0x${buf(c).toString(16)}; write 'A'`;
      },
      look: [{ kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 }],
    },
    {
      narration: 'ibv_reg_mr() registers it for remote read and write: a long-term R/W pin.',
      action: (c) => {
        c.vars.nic = c.k.rdma();
        c.vars.mr = nic(c).reg_mr(nic(c).alloc_pd(task(c, 'parent')), buf(c), C.PAGE_SIZE, RWR);
        c.vars.pinned = task(c, 'parent').translate(buf(c));
        return `ibv_reg_mr(buf, 4096, LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ): lkey 0x${mr(c).lkey.toString(16)}`;
      },
      look: [
        { kind: 'frames', title: 'the pinned frame', pfns: (c) => [c.vars.pinned as number] },
        { kind: 'device', title: 'the NIC', device: (c) => nic(c).name },
      ],
    },
    {
      narration: 'The application forks a child that stays alive (a helper process, system()).',
      action: (c) => {
        const child = task(c, 'parent').fork();
        c.tasks.set('child', child);
        const same = child.translate(buf(c)) === c.vars.pinned;
        return `fork(): the child maps ${same ? 'the same frame, write-protected for COW' : 'a copy of its own (copy_present_page())'}`;
      },
      look: [
        { kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 },
        { kind: 'ptes', title: 'child', task: 'child', addr: buf, pages: 1 },
      ],
    },
    {
      narration: "The parent writes 'B' into its buffer.",
      action: (c) => {
        task(c, 'parent').write(buf(c), B);
        const now = task(c, 'parent').translate(buf(c));
        return now === c.vars.pinned ? 'the write hits the pinned frame' : `COW fault: the parent now maps pfn ${now}; the MR still points at pfn ${c.vars.pinned}`;
      },
      look: [
        { kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 },
        { kind: 'frames', title: 'the pinned frame', pfns: (c) => [c.vars.pinned as number] },
      ],
    },
    {
      narration: "A peer RDMA-READs the buffer through the MR, then RDMA-WRITEs 'C' into it.",
      action: (c) => {
        c.vars.deviceReads = nic(c).remote_read(mr(c).rkey, buf(c)).word;
        nic(c).remote_write(mr(c).rkey, buf(c), CC);
        return [`RDMA READ gets ${word(c.vars.deviceReads as number)}`, "RDMA WRITE 'C'"];
      },
      look: [
        { kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 },
        { kind: 'ptes', title: 'child', task: 'child', addr: buf, pages: 1 },
      ],
    },
  ],
  outcome: (c) => {
    const parentReads = task(c, 'parent').read(buf(c));
    const deviceReads = c.vars.deviceReads as number;
    const coherent = parentReads === CC && deviceReads === B;
    return {
      summary: coherent
        ? "coherent: the NIC read 'B' and the parent reads the peer's 'C'"
        : `silent data loss: the NIC read ${word(deviceReads)}, the parent reads ${word(parentReads)}, the peer's 'C' went to a page only the MR sees`,
      values: { coherent, deviceReads: word(deviceReads), parentReads: word(parentReads), childReads: word(task(c, 'child').read(buf(c))) },
    };
  },
};
