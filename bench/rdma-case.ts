// Bench cases for the RDMA NIC (issue 11): ibv_reg_mr + ibv_dereg_mr of a
// populated 1 GiB region (ib_umem_get's 512-page pin batches, charge and
// scatterlist; ib_umem_release), an ODP prefetch fault of 2 MiB, and a
// peer's RDMA WRITE through a pinned and an ODP MR.
import { boot, constants as C, type IbMr, type Kernel, type RdmaNic, type Task } from '../src/index';
import type { CaseDef, MetricDef, Backend, SuiteConfig } from './cases';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RW = C.PROT_READ | C.PROT_WRITE;
const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS;
const ACCESS = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const WRITES = 10_000; // remote writes per timed call

async function machine(backend: Backend, cfg: SuiteConfig, thp: boolean, region: number) {
  const k = await boot({ memory: cfg.smoke ? '64MiB' : '2GiB', thp: thp ? 'always' : 'never', memlock: Infinity, backend, wasm: cfg.wasm });
  const t = k.spawn();
  const m = t.mmap({ length: region + 2 * MiB, prot: RW, flags: ANON });
  const base = Math.ceil(m / (2 * MiB)) * 2 * MiB;
  t.touch(base, region, { write: true });
  const nic = k.rdma({ odp: true });
  return { k, t, base, nic, pd: nic.alloc_pd(t) };
}

function check(k: Kernel, t: Task, nic: RdmaNic, live: number): void {
  const s = k.vmstat();
  if (nic.mrs().length !== live || s.nr_foll_pin_acquired !== s.nr_foll_pin_released + nic.pins().reduce((n, p) => n + p.pages, 0)
    || t.mm.pinned_vm !== nic.pins().reduce((n, p) => n + p.pages, 0)) {
    throw new Error(`bench: rdma: MRs or pins left behind (${nic.mrs().length} MRs, pinned_vm ${t.mm.pinned_vm})`);
  }
}

const REG_METRICS: MetricDef[] = [
  { id: 'reg', unit: 'ms/op', what: 'reg_mr: charge pinned_vm, pin_user_pages_fast in 512-page batches, build the scatterlist (dereg untimed)' },
  { id: 'dereg', unit: 'ms/op', what: 'dereg_mr: unpin (dirtying) and uncharge (reg untimed)' },
];

function regCase(thp: boolean): CaseDef {
  const kind = thp ? 'thp' : '4k';
  return {
    id: `rdma-mr/${kind}`,
    title: `ibv_reg_mr + ibv_dereg_mr of a populated 1 GiB region of ${thp ? 'THP (2 MiB folios)' : '4 KiB pages'}`,
    metrics: REG_METRICS,
    budget: { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const region = cfg.smoke ? 4 * MiB : GiB;
      const { k, t, base, nic, pd } = await machine(backend, cfg, thp, region);
      let mr: IbMr | null = null;
      const reg = () => { mr = nic.reg_mr(pd, base, region, ACCESS); };
      const dereg = () => { nic.dereg_mr(mr!); };
      return {
        k,
        setup: { base, order: k.page(t.translate(base)!).order },
        once(mark) {
          reg();
          mark('reg', { lkey: mr!.lkey, nents: mr!.sg.length, first: mr!.sg[0], pinned_vm: t.mm.pinned_vm, vmstat: k.vmstat() });
          dereg();
          mark('dereg', { pinned_vm: t.mm.pinned_vm, vmstat: k.vmstat() });
        },
        timed: {
          reg: { fn: reg, afterEach: dereg, per: 1 },
          dereg: { beforeEach: reg, fn: dereg, per: 1 },
        },
        check: () => check(k, t, nic, 0),
      };
    },
  };
}

function odpCase(): CaseDef {
  return {
    id: 'rdma-odp',
    title: 'RDMA ODP: prefetch fault of 2 MiB (4 KiB pages), and a peer\'s RDMA WRITE through pinned and ODP MRs',
    metrics: [
      { id: 'fault', unit: 'ns/page', what: 'ibv_advise_mr(PREFETCH_WRITE) of 2 MiB the CPU has not faulted: hmm_range_fault faults and maps 512 pages (MADV_DONTNEED untimed)' },
      { id: 'write-pinned', unit: 'ops/s', what: `remote_write through a pinned MR, ${WRITES} words spread over 1 MiB` },
      { id: 'write-odp', unit: 'ops/s', what: `remote_write through an ODP MR, every page already faulted in, ${WRITES} words over 1 MiB` },
    ],
    budget: { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const { k, t, base, nic, pd } = await machine(backend, cfg, false, 4 * MiB);
      const odp = nic.reg_mr(pd, base, 2 * MiB, ACCESS | C.IB_ACCESS_ON_DEMAND);
      const pinned = nic.reg_mr(pd, base + 2 * MiB, MiB, ACCESS);
      const hot = nic.reg_mr(pd, base + 3 * MiB, MiB, ACCESS | C.IB_ACCESS_ON_DEMAND);
      nic.advise_mr(hot, C.IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE, base + 3 * MiB, MiB);
      const drop = () => t.madvise(base, 2 * MiB, C.MADV_DONTNEED);
      const fault = () => nic.advise_mr(odp, C.IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE, base, 2 * MiB);
      const writes = (mr: IbMr, at: number) => () => {
        for (let i = 0; i < WRITES; i++) {
          if (nic.remote_write(mr.rkey, at + (i % 256) * PAGE, i).status !== 'IBV_WC_SUCCESS') throw new Error('bench: remote_write failed');
        }
      };
      return {
        k,
        setup: { base, lkeys: [odp.lkey, pinned.lkey, hot.lkey] },
        once(mark) {
          drop();
          fault();
          mark('fault', { stats: odp.odpStats(), last: t.translate(base + 2 * MiB - PAGE) });
          writes(pinned, base + 2 * MiB)();
          writes(hot, base + 3 * MiB)();
          mark('writes', { pinned: t.read(base + 2 * MiB + 255 * PAGE), odp: t.read(base + 3 * MiB + 255 * PAGE), stats: hot.odpStats(), digest: k.digest() });
        },
        timed: {
          fault: { beforeEach: drop, fn: fault, per: 512 },
          'write-pinned': { fn: writes(pinned, base + 2 * MiB), per: WRITES },
          'write-odp': { fn: writes(hot, base + 3 * MiB), per: WRITES },
        },
        check: () => check(k, t, nic, 3),
      };
    },
  };
}

export function rdmaCases(): CaseDef[] {
  return [regCase(false), regCase(true), odpCase()];
}
