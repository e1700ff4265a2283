// The fuzz's RDMA NIC (family 'rdma'): pinned and ODP MRs registered over
// the tasks' VMAs, deregistered, their contexts closed, and a peer's RDMA
// WRITE/READ through them, interleaved with the mm family's munmap, fork
// and exit. Each op's result carries what the device shows (the MR list,
// the remote read's word), which the lockstep runner compares between the
// cores; the pins MRs hold count in the machine's pin balance, and a
// remote write is told to the contents model like any DMA.
import * as C from '../assembly/constants';
import type { IbMr, IbPd, IbUmem, IbUmemOdp, Kernel, RdmaNic, Task, PageArray } from '../src/index';
import type { Op } from './ops';
import type { ContentModel } from './model';

type RdmaOp = Extract<Op, { op: 'rdmaReg' | 'rdmaDereg' | 'rdmaRemote' | 'rdmaClose' }>;

// Access flag sets reg tries: remote write + read (most), read-only, local write, and a bad one (EINVAL).
const REMOTE_RW = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
export const RDMA_ACCESS = [REMOTE_RW, REMOTE_RW, C.IB_ACCESS_REMOTE_READ, C.IB_ACCESS_LOCAL_WRITE, C.IB_ACCESS_REMOTE_WRITE];

export class RdmaFuzz {
  readonly nic: RdmaNic;
  #pds = new Map<Task, IbPd>();

  constructor(readonly k: Kernel, readonly model: ContentModel) {
    this.nic = k.rdma({ odp: true, faultLatencyNs: 1000 });
  }

  run(t: Task, o: RdmaOp, addr: number, len: number): unknown {
    const nic = this.nic;
    switch (o.op) {
      case 'rdmaReg': {
        const mr = nic.reg_mr(this.#pd(t), addr + o.byte, len, RDMA_ACCESS[o.access] | (o.odp ? C.IB_ACCESS_ON_DEMAND : 0));
        return { lkey: mr.lkey, nents: mr.sg.length, mrs: this.state() };
      }
      case 'rdmaDereg': {
        const mrs = nic.mrs();
        if (!mrs.length) return null;
        nic.dereg_mr(mrs[o.pick % mrs.length]);
        return this.state();
      }
      case 'rdmaClose': {
        const pd = this.#pds.get(t);
        this.#pds.delete(t);
        if (pd && t.fds.get(pd.fd) === pd.context) t.close(pd.fd);
        return this.state();
      }
      case 'rdmaRemote': return this.#remote(o);
    }
  }

  // What a peer sees: every live MR, in registration order.
  state(): unknown[] {
    return this.nic.mrs().map((m) => [m.lkey, m.addr, m.length, m.access, m.odp ? m.odpStats() : (m.umem as IbUmem).npages]);
  }

  // The pins the MRs hold, in the machine's held-pin shape.
  held(): { pa: PageArray; n: number; pin: true; write: boolean; task: Task; start: number }[] {
    return this.nic.mrs().filter((m) => !m.odp).map((m) => {
      const u = m.umem as IbUmem;
      return { pa: u.pages, n: u.npages, pin: true, write: u.writable, task: m.pd.context.task, start: Math.floor(m.addr / C.PAGE_SIZE) * C.PAGE_SIZE };
    });
  }

  #pd(t: Task): IbPd {
    let pd = this.#pds.get(t);
    if (!pd || pd.context.closed) this.#pds.set(t, (pd = this.nic.alloc_pd(t)));
    return pd;
  }

  #remote(o: Extract<RdmaOp, { op: 'rdmaRemote' }>): unknown {
    const mrs = this.nic.mrs();
    // A dead key now and then: the completion must be an error.
    if (!mrs.length || o.pick % 8 === 7) return this.nic.remote_read(0x7700 + o.pick, 0);
    const mr = mrs[o.pick % mrs.length];
    const addr = mr.addr + (o.off % 16 === 15 ? mr.length : o.off % mr.length); // sometimes just past the end
    if (!o.write) return { ...this.nic.remote_read(mr.rkey, addr), stats: mr.odpStats() };
    const wc = this.nic.remote_write(mr.rkey, addr, o.word);
    if (wc.status === 'IBV_WC_SUCCESS') this.model.dma(mr.pd.context.task, addr, this.#pfn(mr, addr), o.word);
    return { ...wc, stats: mr.odpStats() };
  }

  // The frame the NIC just wrote: the MR's pinned page, or the ODP mapping's.
  #pfn(mr: IbMr, addr: number): number {
    return mr.odp ? (mr.umem as IbUmemOdp).pfnFor(addr, true) : (mr.umem as IbUmem).pfnAt(addr);
  }
}
