// The pinning half of the tour: the cases of the kernel's
// Documentation/core-api/pin_user_pages.rst, fork with a pinned page, the
// 1024-reference false positive, and a FOLL_LONGTERM migration out of CMA.
import * as C from '../../assembly/constants';
import { boot } from '../boot';
import type { Backend } from '../core/core';
import type { Kernel } from '../devices/kernel';

const PAGE = C.PAGE_SIZE;
const RW = C.PROT_READ | C.PROT_WRITE;
const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS;

export async function tourPinning(out: (line: string) => void, backend: Backend = 'wasm'): Promise<void> {
  const k = await boot({ memory: '256MiB', backend, cma: '128MiB', thp: 'never' });
  const page = (pfn: number | null) => {
    if (pfn === null) return 'not mapped';
    const p = k.page(pfn);
    return `pfn ${pfn} refcount ${p.refcount} maybe_dma_pinned ${k.folio_maybe_dma_pinned(pfn)} (${p.zone}, ${p.migratetype} pageblock)`;
  };
  const pins = (k: Kernel) => `nr_foll_pin_acquired ${k.vmstat().nr_foll_pin_acquired}, nr_foll_pin_released ${k.vmstat().nr_foll_pin_released}`;
  const t = k.spawn({ name: 'app' });
  const buf = t.mmap({ length: 8 * PAGE, prot: RW, flags: ANON });
  t.touch(buf, 8 * PAGE, { write: true });

  out('\n== pin_user_pages.rst CASE 1: Direct IO: FOLL_PIN, short term');
  const pa = k.pageArray(8);
  out(`pin_user_pages_fast(buf, 4, FOLL_WRITE) = ${k.pin_user_pages_fast(t, buf, 4, C.FOLL_WRITE, pa)}`);
  out(`  page 0: ${page(pa.get(0))}   (a small folio: +GUP_PIN_COUNTING_BIAS = 1024 per pin)`);
  k.dma_write(pa.get(0)!, 0xd10);
  k.unpin_user_pages_dirty_lock(pa, 4, true);
  out(`the device wrote 0x${t.read(buf).toString(16)}; unpin_user_pages_dirty_lock(..., true): ${page(pa.get(0))}`);
  out(`  ${pins(k)}`);

  out('\n== CASE 2: RDMA: FOLL_PIN | FOLL_LONGTERM, and a migration out of CMA');
  out(`  before: ${page(t.translate(buf + 4 * PAGE))}   (movable allocations use CMA while it holds most free memory)`);
  const inCma = [0, 1, 2, 3].filter((i) => k.page(t.translate(buf + (4 + i) * PAGE)!).migratetype === 'CMA').length;
  const migrated = k.vmstat().pgmigrate_success;
  out(`  ${inCma} of the 4 pages are in CMA pageblocks`);
  const n = k.pin_user_pages(t, buf + 4 * PAGE, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pa);
  out(`pin_user_pages(buf + 4 pages, 4, FOLL_WRITE | FOLL_LONGTERM) = ${n}`);
  out(`  after:  ${page(pa.get(0))}   (migrated first: CMA pages may not be pinned long term)`);
  out(`  vmstat pgmigrate_success +${k.vmstat().pgmigrate_success - migrated}: only the ${inCma} pages in CMA moved, `
    + `the other ${4 - inCma} were pinned where they were`);
  out(`  the task now maps ${t.translate(buf + 4 * PAGE)} at buf + 4 pages`);

  out('\n== fork() while a page is pinned for DMA');
  const child = t.fork();
  out(`  parent maps ${page(t.translate(buf + 4 * PAGE))} (kept, writable)`);
  out(`  child maps  ${page(child.translate(buf + 4 * PAGE))} (copied at fork: copy_present_page())`);
  out(`  an unpinned page stays shared copy-on-write: parent ${t.translate(buf)}, child ${child.translate(buf)}`);
  child.exit();
  k.unpin_user_pages(pa, n);

  out('\n== CASE 3: MMU notifier users take no reference at all');
  const before = k.page(t.translate(buf)!).refcount;
  const mirror = Array.from({ length: 4 }, (_, i) => t.translate(buf + i * PAGE));
  out(`  a device page table mirrored by walking the page tables: [${mirror.join(', ')}], refcount stays ${before}`);
  out('  (pinsim does not model the notifier callbacks: invalidation is the driver\'s job)');

  out('\n== CASE 4: only struct page manipulation: plain get_user_pages(), FOLL_GET');
  const g = k.pageArray(1);
  k.get_user_pages(t, buf, 1, 0, g);
  out(`  get_user_pages(buf, 1, 0): ${page(g.get(0))}   (+1, no pin counted)`);
  k.put_page(g.get(0)!);
  out(`  put_page(): ${page(g.get(0))}; ${pins(k)}`);

  out('\n== page_maybe_dma_pinned() false positive: 1024 plain references look like a pin');
  for (let i = 0; i < 1024; i++) k.get_user_pages_fast(t, buf, 1, 0, g);
  out(`  after 1024 x get_user_pages_fast(buf, 1): ${page(g.get(0))}`);
  out(`  page_maybe_dma_pinned ${k.page_maybe_dma_pinned(g.get(0)!)} although ${pins(k)}: false positives are allowed, false negatives are not`);
  for (let i = 0; i < 1024; i++) k.put_page(g.get(0)!);
  out(`  after 1024 x put_page(): ${page(g.get(0))}`);
  out(`\n${k.procVmstat().split('\n').filter((l) => l.startsWith('nr_foll_pin') || l.startsWith('pgmigrate')).join('\n')}`);
}
