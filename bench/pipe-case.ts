// Bench case `pipe-vmsplice`: vmsplice(2) of a full ring (16 populated
// anonymous pages, one FOLL_GET reference each) into a pipe, and the read
// that empties it (copy out, put_page per buffer).
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const N = C.PIPE_DEF_BUFFERS;

const METRICS: MetricDef[] = [
  { id: 'vmsplice', unit: 'ns/page', what: 'vmsplice of 16 pages into an empty pipe (the read in afterEach, untimed)', ref: 'vmsplice_to_pipe()' },
  { id: 'read', unit: 'ns/page', what: 'read of the 16 spliced pages (the vmsplice in beforeEach, untimed)', ref: 'pipe_read()' },
];

export function pipeCase(): CaseDef {
  return {
    id: 'pipe-vmsplice',
    title: 'a pipe: vmsplice of 16 anonymous 4 KiB pages, then the read that empties it',
    metrics: METRICS,
    budget: { time: 300, iterations: 200, warmupTime: 50, warmupIterations: 10 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: '64MiB', thp: 'never' });
      const t = k.spawn();
      const addr = t.mmap({ length: N * PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      t.touch(addr, N * PAGE, { write: true });
      const [r, w] = t.pipe();
      const splice = () => { t.vmsplice(w, [{ base: addr, len: N * PAGE }]); };
      const read = () => { t.read_pipe(r, N * PAGE); };
      const refs = () => k.page(t.translate(addr)!).refcount;
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          splice();
          mark('vmsplice', { refcount: refs() });
          read();
          mark('read', { refcount: refs() });
        },
        timed: {
          vmsplice: { fn: splice, afterEach: read, per: N },
          read: { fn: read, beforeEach: splice, per: N },
        },
        check: () => {
          if (refs() !== 1) throw new Error('bench: pipe: references left behind');
        },
      };
    },
  };
}
