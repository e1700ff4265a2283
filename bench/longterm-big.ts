// A FOLL_LONGTERM pin of 64 GiB of faulted 4 KiB pages in one
// pin_user_pages_fast() call on a 256 GiB machine, and its unpin (part of
// npm run bench:boot).
import { boot, constants as C } from '../src/index';

const PAGES = (64 * 1024 ** 3) / C.PAGE_SIZE;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export async function longtermPin64G(backend: 'wasm' | 'ts', repeats = 3): Promise<string> {
  const k = await boot({ memory: '256GiB', backend, thp: 'never' });
  const t = k.spawn();
  const rw = C.PROT_READ | C.PROT_WRITE;
  let t0 = performance.now();
  const a = t.mmap({ length: PAGES * C.PAGE_SIZE, prot: rw, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_POPULATE });
  const populate = performance.now() - t0;
  const pa = k.pageArray(PAGES);
  const pin: number[] = [];
  const unpin: number[] = [];
  for (let i = 0; i < repeats; i++) {
    t0 = performance.now();
    const got = k.pin_user_pages_fast(t, a, PAGES, C.FOLL_WRITE | C.FOLL_LONGTERM, pa);
    pin.push(performance.now() - t0);
    if (got !== PAGES) throw new Error(`pinned ${got} of ${PAGES} pages`);
    t0 = performance.now();
    k.unpin_user_pages(pa, PAGES);
    unpin.push(performance.now() - t0);
  }
  const tables = k.vmstat().nr_page_table_pages;
  return `256GiB ${backend}: FOLL_LONGTERM pin of 64GiB (4 KiB pages) median ${median(pin).toFixed(0)} ms, `
    + `unpin ${median(unpin).toFixed(0)} ms (of ${repeats}); MAP_POPULATE ${populate.toFixed(0)} ms, ${tables} page-table pages`;
}
