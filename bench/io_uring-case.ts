// Bench case `io_uring`: IORING_REGISTER_BUFFERS of 1,000 buffers of 1 MiB
// over a populated THP-backed region (pin, coalesce into folios, charge
// each 2 MiB folio once per ring), then IORING_UNREGISTER_BUFFERS.
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;

const METRICS: MetricDef[] = [
  { id: 'register', unit: 'ns/page', what: 'ring.register_buffers() of the buffers: pin, coalesce, account (unregister in afterEach, untimed)' },
  { id: 'unregister', unit: 'ns/page', what: 'ring.unregister_buffers(): unpin and uncharge (register in beforeEach, untimed)' },
];

export function ioUringCase(): CaseDef {
  return {
    id: 'io_uring',
    title: 'io_uring fixed buffers: register 1,000 × 1 MiB (THP-backed), then unregister',
    metrics: METRICS,
    budget: { time: 600, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: cfg.smoke ? '64MiB' : '2GiB', thp: 'always', memlock: Infinity });
      const n = cfg.smoke ? 8 : 1000;
      const t = k.spawn();
      const base = t.mmap({ length: (n + 2) * MiB, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      const addr = Math.ceil(base / (2 * MiB)) * 2 * MiB;
      t.touch(addr, n * MiB, { write: true });
      const iovecs = Array.from({ length: n }, (_, i) => ({ iov_base: addr + i * MiB, iov_len: MiB }));
      const ring = t.io_uring_setup(8);
      const register = () => ring.register_buffers(iovecs);
      const unregister = () => ring.unregister_buffers();
      const per = (n * MiB) / PAGE;
      return {
        k,
        setup: { addr, meminfo: k.meminfo() },
        once(mark) {
          register();
          const b = ring.buffers();
          mark('register', { n: b.length, bvecs: b.reduce((s, x) => s + x.bvecs, 0), user: k.user(t.uid).locked_vm, pinned: t.mm.pinned_vm });
          unregister();
          mark('unregister', { pinned: t.mm.pinned_vm, digest: k.digest() });
        },
        timed: {
          register: { fn: register, afterEach: unregister, per },
          unregister: { fn: unregister, beforeEach: register, per },
        },
        check: () => {
          if (t.mm.pinned_vm !== 0 || k.user(t.uid).locked_vm !== 0 || ring.pins().length !== 0) throw new Error('bench: io_uring: state left behind');
        },
      };
    },
  };
}
