// Bench case `odirect`: synchronous O_DIRECT 4 KiB reads of an ext4 file
// into an anonymous buffer: the iovec checks, the flush, the FOLL_PIN pin,
// bio_set_pages_dirty(), the DMA of the word and the release.
import { boot, constants as C } from '../src/index';
import type { CaseDef, MetricDef } from './cases';

const PAGE = C.PAGE_SIZE;
const FILE_PAGES = 256;
const OPS = 1024; // reads per timed call, cycling over the file
const METRICS: MetricDef[] = [{ id: 'read4k', unit: 'ops/s', what: 'one synchronous 4 KiB O_DIRECT read (pin, DMA, unpin)' }];

export function odirectCase(): CaseDef {
  return {
    id: 'odirect',
    title: 'O_DIRECT 4 KiB preadv (sync) from an ext4 file into an anon buffer',
    metrics: METRICS,
    budget: { time: 600, iterations: 20, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const k = await boot({ backend, wasm: cfg.wasm, memory: '64MiB', thp: 'never' });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: FILE_PAGES * PAGE, name: 'bench' });
      for (let i = 0; i < FILE_PAGES; i++) f.store.set(i, i + 1);
      const fd = t.open(f, { direct: true });
      const buf = t.mmap({ length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      t.write(buf, 0);
      const iov = [{ base: buf, len: PAGE }];
      const reads = (n: number) => {
        for (let i = 0; i < n; i++) t.preadv(fd, iov, (i % FILE_PAGES) * PAGE);
      };
      return {
        k,
        setup: { buf, pfn: t.translate(buf) },
        once(mark) {
          reads(cfg.smoke ? 8 : OPS);
          mark('read4k', { word: t.read(buf), vmstat: k.vmstat() });
        },
        timed: { read4k: { fn: () => reads(OPS), per: OPS } },
        check: () => {
          const v = k.vmstat();
          if (v.nr_foll_pin_acquired !== v.nr_foll_pin_released) throw new Error('bench: odirect: pins left behind');
        },
      };
    },
  };
}
