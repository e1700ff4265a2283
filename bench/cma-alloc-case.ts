// Bench case `cma-alloc`: cma_alloc() of 64 MiB at the bottom of a CMA area
// that anonymous memory has populated: every page in the range migrates out
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
      // CMA serves movable allocations while it holds over half the free memory;
      // its free lists hand out the top first. So a populate of `region` fills the
      // top of the area, and the unpopulated bottom is taken (untimed) so that the
      // timed cma_alloc() lands on populated pages.
      const k = await boot({ backend, wasm: cfg.wasm, memory: cfg.smoke ? '64MiB' : '2GiB', cma: cfg.smoke ? '40MiB' : '1536MiB', thp: 'never' });
      const count = (cfg.smoke ? 4 : 64) * MiB / PAGE;
      const region = cfg.smoke ? 16 * MiB : 1024 * MiB;
      const t = k.spawn();
      let addr = -1;
      let pfn = -1;
      let low = 0;
      const populate = () => {
        addr = t.mmap({ length: region, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.touch(addr, region, { write: true });
        const m = k.meminfo();
        low = (m.CmaFree / 4) & ~1023;
        if (low > 0 && k.cma_alloc(low) < 0) throw new Error('bench: cma-alloc: the bottom of the area is busy');
      };
      const alloc = () => { pfn = k.cma_alloc(count); };
      const release = () => {
        if (pfn < 0 || !k.cma_release(pfn, count)) throw new Error(`bench: cma-alloc: cma_alloc gave ${pfn}`);
        const bottom = (k.layout.ram - k.layout.cma - k.layout.movable) / PAGE;
        if (low > 0 && !k.cma_release(bottom, low)) throw new Error('bench: cma-alloc: release of the bottom failed');
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
