// Bench case `cma-alloc`: cma_alloc() of 64 MiB at the bottom of a CMA area
// that anonymous memory has populated: the pages in the range migrate out
// (alloc_contig_range()), then the range is taken from the allocator.
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;

const METRICS: MetricDef[] = [
  { id: 'cma-alloc', unit: 'ns/page', what: 'cma_alloc() of 64 MiB over populated anon pages (populate in beforeEach, cma_release + munmap in afterEach, untimed)' },
];

export function cmaAllocCase(): CaseDef {
  return {
    id: 'cma-alloc',
    title: "cma_alloc 64 MiB: alloc_contig_range() migrating the anon pages in it (thp 'never')",
    metrics: METRICS,
    budget: { time: 600, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: cfg.smoke ? '64MiB' : '512MiB', cma: cfg.smoke ? '32MiB' : '256MiB', thp: 'never' });
      const count = (cfg.smoke ? 4 : 64) * MiB / PAGE;
      const lo = (k.layout.ram - k.layout.cma) / PAGE;
      const t = k.spawn();
      let addr = -1;
      let region = 0;
      let pfn = -1;
      // Fill all of memory (2 MiB left for page tables), then give back what
      // landed outside CMA: the area is populated, the rest is free for the
      // migration targets, whatever order the free lists are in.
      const populate = () => {
        region = (k.meminfo().MemFree * 1024 - 2 * MiB) & ~(2 * MiB - 1);
        addr = t.mmap({ length: region, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.touch(addr, region, { write: true });
        let run = -1;
        for (let a = addr; a <= addr + region; a += PAGE) {
          const outside = a < addr + region && t.translate(a)! < lo;
          if (outside && run < 0) run = a;
          if (!outside && run >= 0) {
            t.madvise(run, a - run, C.MADV_DONTNEED);
            run = -1;
          }
        }
      };
      const alloc = () => { pfn = k.cma_alloc(count); };
      const release = () => {
        if (pfn !== lo || !k.cma_release(pfn, count)) throw new Error(`bench: cma-alloc: cma_alloc gave ${pfn}`);
        t.munmap(addr, region);
      };
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          populate();
          const migrated = k.vmstat().pgmigrate_success;
          alloc();
          mark('cma-alloc', { pfn, migrated: k.vmstat().pgmigrate_success - migrated, meminfo: k.meminfo() });
          release();
        },
        timed: {
          'cma-alloc': { fn: alloc, beforeEach: populate, afterEach: release, per: count },
        },
        check: () => {
          if (t.maps().length !== 0 || k.meminfo().CmaFree !== k.meminfo().CmaTotal) throw new Error('bench: cma-alloc: state left behind');
        },
      };
    },
  };
}
