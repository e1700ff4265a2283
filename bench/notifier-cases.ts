// Benchmark cases for MMU interval notifiers and hmm_range_fault (issue 10).
import { boot, constants as C, HMM_PFN_REQ_FAULT, type Kernel, type MmuIntervalNotifier, type Task } from '../src/index';
import type { CaseDef, Backend, SuiteConfig } from './cases';
import { Hash } from './util';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RW = C.PROT_READ | C.PROT_WRITE;
const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS;
const SUBS = 1000;

async function populated(backend: Backend, cfg: SuiteConfig, thp: boolean): Promise<{ k: Kernel; t: Task; base: number; region: number }> {
  const region = cfg.smoke ? 4 * MiB : GiB;
  const k = await boot({ memory: cfg.smoke ? '64MiB' : '2GiB', thp: thp ? 'always' : 'never', backend, wasm: cfg.wasm });
  const t = k.spawn();
  const m = t.mmap({ length: region + 2 * MiB, prot: RW, flags: ANON });
  const base = Math.ceil(m / (2 * MiB)) * 2 * MiB;
  t.touch(base, region, { write: true });
  return { k, t, base, region };
}

// A driver's subscription: set_seq under its (absent) lock, counted.
function subscribe(k: Kernel, t: Task, start: number, length: number, hits: { n: number }): MmuIntervalNotifier {
  const sub = k.mmu_interval_notifier_insert(t.mm, start, length, {
    invalidate(s, _r, seq) {
      k.mmu_interval_set_seq(s, seq);
      hits.n++;
      return true;
    },
  });
  if (typeof sub === 'number') throw new Error(`bench: insert returned ${sub}`);
  return sub;
}

export function notifierCase(): CaseDef {
  return {
    id: 'notifier',
    title: `mprotect of a populated 1 GiB THP region with ${SUBS} interval notifiers (PROTECTION_VMA)`,
    metrics: [
      { id: 'invalidate', unit: 'ms/op', what: `mprotect(PROT_READ) of the region, which calls all ${SUBS} subscriptions once; mprotect back untimed` },
      { id: 'bare', unit: 'ms/op', what: 'the same mprotect with the subscriptions removed (untimed), for the notifier share' },
    ],
    budget: { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const { k, t, base, region } = await populated(backend, cfg, true);
      const hits = { n: 0 };
      const stride = Math.floor(region / SUBS / PAGE) * PAGE;
      let subs: MmuIntervalNotifier[] = [];
      const insertAll = () => { subs = Array.from({ length: SUBS }, (_, i) => subscribe(k, t, base + i * stride, stride, hits)); };
      const removeAll = () => { for (const s of subs) k.mmu_interval_notifier_remove(s); };
      const protect = () => t.mprotect(base, region, C.PROT_READ);
      const restore = () => t.mprotect(base, region, RW);
      insertAll();
      return {
        k,
        setup: { base, stride },
        once(mark) {
          hits.n = 0;
          protect();
          mark('mprotect', { hits: hits.n, retry: k.mmu_interval_read_retry(subs[0], 0) });
          restore();
        },
        timed: {
          invalidate: { fn: protect, afterEach: restore, per: 1 },
          bare: { beforeEach: removeAll, fn: protect, afterEach: () => { restore(); insertAll(); }, per: 1 },
        },
        check: () => {
          hits.n = 0;
          protect();
          restore();
          if (hits.n !== 2 * SUBS) throw new Error(`bench: notifier: ${hits.n} callbacks, expected ${2 * SUBS}`);
        },
      };
    },
  };
}

export function hmmCase(): CaseDef {
  return {
    id: 'hmm',
    title: 'hmm_range_fault of a populated 1 GiB region (4 KiB pages)',
    metrics: [
      { id: 'snapshot', unit: 'ns/page', what: 'hmm_range_fault() with no request flags (snapshot) over the region' },
      { id: 'fault', unit: 'ns/page', what: 'hmm_range_fault() with HMM_PFN_REQ_FAULT over the region (all present: no fault taken)' },
    ],
    budget: { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const { k, t, base, region } = await populated(backend, cfg, false);
      const sub = subscribe(k, t, base, region, { n: 0 });
      const pfns = new BigUint64Array(region / PAGE);
      const run = (default_flags: bigint) => () => {
        const r = k.hmm_range_fault({
          notifier: sub, notifier_seq: k.mmu_interval_read_begin(sub), start: base, end: base + region,
          hmm_pfns: pfns, default_flags, pfn_flags_mask: 0n,
        });
        if (r !== 0) throw new Error(`bench: hmm_range_fault returned ${r}`);
      };
      const hash = () => new Hash().addAll(Array.from(pfns.subarray(0, 4096), (e) => Number(e & 0xffffffffn))).value;
      return {
        k,
        setup: { base },
        once(mark) {
          run(0n)();
          mark('snapshot', hash());
          run(HMM_PFN_REQ_FAULT)();
          mark('fault', hash());
        },
        timed: { snapshot: { fn: run(0n), per: region / PAGE }, fault: { fn: run(HMM_PFN_REQ_FAULT), per: region / PAGE } },
        check: () => {
          if (k.vmstat().nr_foll_pin_acquired !== 0) throw new Error('bench: hmm took pins');
        },
      };
    },
  };
}
