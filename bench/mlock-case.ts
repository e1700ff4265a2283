// Bench case `mlock`: mlock() of an unpopulated 1 GiB anonymous mapping
// (4 KiB pages): VM_LOCKED on the VMA, locked_vm, then the populate that
// faults every page in and marks it PG_mlocked; and munlock() of it.
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;

const METRICS: MetricDef[] = [
  { id: 'mlock', unit: 'ns/page', what: 'mlock(): lock, populate and mark PG_mlocked (mmap in beforeEach, munmap in afterEach, untimed)' },
  { id: 'munlock', unit: 'ns/page', what: 'munlock() of the locked region: PG_mlocked cleared (mmap + mlock untimed)' },
];

export function mlockCase(): CaseDef {
  return {
    id: 'mlock',
    title: "mlock 1 GiB: mlock() of an unpopulated anon mapping (thp 'never'), then munlock()",
    metrics: METRICS,
    budget: { time: 600, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: cfg.smoke ? '64MiB' : '2GiB', thp: 'never', memlock: Infinity });
      const region = cfg.smoke ? 4 * MiB : 1024 * MiB;
      const t = k.spawn();
      let addr = -1;
      const map = () => { addr = t.mmap({ length: region, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS }); };
      const lock = () => t.mlock(addr, region);
      const unlock = () => t.munlock(addr, region);
      const unmap = () => t.munmap(addr, region);
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          map();
          lock();
          mark('mlock', { locked_vm: t.mm.locked_vm, meminfo: k.meminfo(), last: k.page(t.translate(addr + region - PAGE)!) });
          unlock();
          mark('munlock', { locked_vm: t.mm.locked_vm, meminfo: k.meminfo() });
          unmap();
        },
        timed: {
          mlock: { fn: lock, beforeEach: map, afterEach: unmap, per: region / PAGE },
          munlock: { fn: unlock, beforeEach: () => { map(); lock(); }, afterEach: unmap, per: region / PAGE },
        },
        check: () => {
          if (t.maps().length !== 0 || t.mm.locked_vm !== 0 || k.meminfo().Mlocked !== 0) throw new Error('bench: mlock: state left behind');
        },
      };
    },
  };
}
