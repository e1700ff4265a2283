// The fuzz's io_uring rings (family 'io_uring'): rings set up, buffers
// registered over the machine's VMAs (with a sparse slot), READ_FIXED and
// WRITE_FIXED on the disk and shm files, unregister and close, interleaved
// with mmap, munmap, access, fork and exit. Each request completes at its
// own time, so 'uringSettle' meets them one by one and tells the content
// model what each DMA changed; the CQEs are the op's result, compared
// between the cores. Live rings' pins join the machine's pin balance.
import * as C from '../assembly/constants';
import type { IoUring, Task } from '../src/index';
import type { Machine } from './machine';
import type { Op } from './ops';

const PAGE = C.PAGE_SIZE;
const FILE_FDS = [3, 4]; // disk (ext4), shm (tmpfs): open in every task

export type UringOp = Extract<Op, { op: 'uringSetup' | 'uringRegister' | 'uringUnregister' | 'uringClose' | 'uringRw' | 'uringSettle' }>;

// A request in flight: where its DMA lands (frames taken at submission,
// which the request keeps pinned) and which file pages it moves.
interface Req { t: Task; write: boolean; file: number; fpage: number; addr: number; pfns: (number | null)[] }

export class Rings {
  readonly rings: { ring: IoUring; t: Task }[] = [];
  #reqs = new Map<number, Req>(); // by user_data
  #next = 1;

  constructor(readonly m: Machine) {}

  // The frames live rings hold pins on, one entry per pin.
  pinned(): number[] {
    return this.rings.filter((r) => !r.ring.closed).flatMap((r) => r.ring.pinned());
  }

  run(t: Task, o: UringOp): unknown {
    if (o.op === 'uringSetup') {
      const ring = t.io_uring_setup(4);
      this.rings.push({ ring, t });
      return ring.fd;
    }
    if (o.op === 'uringSettle') return this.#settle();
    const r = this.rings.length ? this.rings[o.pick % this.rings.length] : null;
    if (!r) return null;
    switch (o.op) {
      case 'uringRegister': {
        const a = this.m.addr(r.t, o.vma, o.off);
        const per = Math.max(PAGE, Math.floor(this.m.len(r.t, a, o.pages) / o.n));
        const skew = o.odd ? 100 : 0; // unaligned buffers
        const iovs = Array.from({ length: o.n }, (_, i) => ({ iov_base: a + i * per + skew, iov_len: per - skew }));
        return r.ring.register_buffers([...iovs, { iov_base: 0, iov_len: 0 }]);
      }
      case 'uringUnregister': return r.ring.unregister_buffers();
      case 'uringClose': return r.t.close(r.ring.fd);
      case 'uringRw': return this.#submit(r.ring, r.t, o);
    }
  }

  #submit(ring: IoUring, t: Task, o: Extract<Op, { op: 'uringRw' }>): unknown {
    const buf = ring.buffers().find((b) => b.index === o.buf);
    const addr = buf ? buf.addr + (o.off % Math.ceil(buf.length / PAGE)) * PAGE : 0x10000000;
    const len = o.pages * PAGE;
    const pfns = Array.from({ length: o.pages }, (_, i) => ring.frame(o.buf, addr + i * PAGE));
    this.m.k.advance(1); // a completion time of its own
    const ud = this.#next++;
    this.#reqs.set(ud, { t, write: o.write, file: o.file, fpage: o.fpage, addr, pfns });
    if (o.write) ring.write_fixed(FILE_FDS[o.file], o.buf, addr, len, o.fpage * PAGE, ud);
    else ring.read_fixed(FILE_FDS[o.file], o.buf, addr, len, o.fpage * PAGE, ud);
    return this.#reap(); // a request refused at submission has its CQE now
  }

  // Runs the pending completions one at a time, the model following each.
  #settle(): unknown[] {
    const k = this.m.k;
    const out: unknown[] = [];
    for (let p = k.pending()[0]; p; p = k.pending()[0]) {
      k.advance(p.at - k.now());
      out.push(...this.#reap());
    }
    return out;
  }

  // The CQEs posted since the last look: the content model learns what each DMA moved.
  #reap(): [number, number][] {
    const out: [number, number][] = [];
    for (const { ring } of this.rings) {
      if (ring.closed) continue;
      for (const cqe of ring.peek_cqes()) {
        const q = this.#reqs.get(cqe.user_data)!;
        this.#reqs.delete(cqe.user_data);
        if (cqe.res > 0) this.#moved(q, Math.ceil(cqe.res / PAGE));
        out.push([cqe.user_data, cqe.res]);
      }
    }
    return out;
  }

  #moved(q: Req, n: number): void {
    const { k, model } = this.m;
    const f = this.m.files[q.file];
    for (let i = 0; i < n; i++) {
      const pfn = q.pfns[i]!;
      if (q.write) model.pwrote(f, q.fpage + i, k.dma_read(pfn));
      else model.dma(q.t, q.addr + i * PAGE, pfn, model.preadExpect(f, q.fpage + i) ?? 0);
    }
  }
}
