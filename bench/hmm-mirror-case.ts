// Bench case `hmm-mirror`: the HMM mirror device (lib/test_hmm.c's dmirror)
// on a populated 2 MiB region of 4 KiB pages: a device fault of the whole
// region (HMM_DMIRROR_READ after an invalidation emptied the device page
// table: hmm_range_fault() in chunks of 32 pages, the entries stored, one
// DMA read per page), and a device read that hits the table.
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';
import { Hash } from './util';

const PAGE = C.PAGE_SIZE;
const NPAGES = 512;
const RW = C.PROT_READ | C.PROT_WRITE;

const METRICS: MetricDef[] = [
  { id: 'fault', unit: 'ns/page', what: 'HMM_DMIRROR_READ of 2 MiB, every page a device-table miss (mprotect RO then RW in beforeEach, untimed, drops the entries)' },
  { id: 'hit', unit: 'ns/page', what: 'one gpu.read() (ns per op) of a page in the device page table (a one-page HMM_DMIRROR_READ, no fault)' },
];

export function hmmMirrorCase(): CaseDef {
  return {
    id: 'hmm-mirror',
    title: 'HMM mirror device (test_hmm dmirror): device fault of 2 MiB, device read hit',
    metrics: METRICS,
    budget: { time: 400, iterations: 20, warmupTime: 100, warmupIterations: 3 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: '64MiB', thp: 'never' });
      const t = k.spawn();
      const base = t.mmap({ length: NPAGES * PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      for (let i = 0; i < NPAGES; i++) t.write(base + i * PAGE, i * 7 + 1);
      const gpu = k.hmmMirror(t);
      const drop = () => { t.mprotect(base, NPAGES * PAGE, C.PROT_READ); t.mprotect(base, NPAGES * PAGE, RW); };
      const fault = () => {
        const r = gpu.ioctl_read(base, NPAGES);
        if (r.faults !== 1 || r.cpages !== NPAGES) throw new Error(`bench: hmm-mirror: ${r.faults} faults, ${r.cpages} pages`);
        return r.data;
      };
      let i = 0;
      const hit = () => { gpu.read(base + (i++ % NPAGES) * PAGE); };
      return {
        k,
        setup: { base },
        once(mark) {
          drop();
          mark('fault', { data: new Hash().addAll(fault()).value, stats: gpu.stats(), mappings: gpu.mappings().length });
          mark('hit', gpu.read(base + 5 * PAGE));
        },
        timed: {
          fault: { fn: fault, beforeEach: drop, per: NPAGES },
          hit: { fn: hit, per: 1 },
        },
        check: () => {
          if (k.vmstat().nr_foll_pin_acquired !== 0 || gpu.pins().length !== 0) throw new Error('bench: hmm-mirror took pins');
          if (k.page(t.translate(base)!).refcount !== 1) throw new Error('bench: hmm-mirror took a page reference');
        },
      };
    },
  };
}
