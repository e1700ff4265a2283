// A long-term pin through GUP-fast and the CMA area (kernel-history.md
// §4.3, §6.3 S7). CMA lends its memory to movable allocations on the
// promise that cma_alloc() can migrate them away. FOLL_LONGTERM moves a
// page out of CMA before pinning it (9a4e9f3b2d73, 5.1), but only the slow
// path did until df3a0a21b698 (5.7): GUP-fast pinned the page where it
// was, and cma_alloc() of that range failed for as long as the pin lived.
import * as C from '../../../assembly/constants';
import type { Task } from '../../task';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { driverPin, spawnWithBuffer } from './lib';

const PAGE = C.PAGE_SIZE;
const PAGES = 4;
const LW = C.FOLL_WRITE | C.FOLL_LONGTERM;

const app = (c: ScenarioCtx): Task => c.tasks.get('app')!;
const buf = (c: ScenarioCtx): number => c.vars.buf as number;
const pinned = (c: ScenarioCtx): number => c.vars.pinned as number;
const inCma = (c: ScenarioCtx, pfn: number): boolean => c.k.page(pfn).migratetype === 'CMA';
const cmaPages = (c: ScenarioCtx): number => (c.k.meminfo().CmaTotal * 1024) / PAGE;

export const longtermCma: Scenario = {
  id: 'longterm-cma',
  title: 'A long-term pin through GUP-fast keeps a page in CMA and cma_alloc() fails (until 5.7)',
  refs: [
    { label: 'df3a0a21b698 mm/gup: fix omission of check on FOLL_LONGTERM in gup fast path (5.7)', url: 'https://git.kernel.org/linus/df3a0a21b698' },
    { label: '9a4e9f3b2d73 mm: update get_user_pages_longterm to migrate pages allocated from CMA region (5.1)', url: 'https://git.kernel.org/linus/9a4e9f3b2d73' },
    { label: 'LWN: Explicit pinning of user-space pages (2019)', url: 'https://lwn.net/Articles/807108/' },
  ],
  presets: ['5.5', '5.8'],
  boot: { memory: '64MiB', cma: '32MiB', thp: 'never' },
  steps: [
    {
      narration: 'A process writes a 4-page buffer; movable allocations may borrow CMA memory, and these do.',
      action: (c) => {
        c.vars.buf = spawnWithBuffer(c, 'app', 'app', PAGES * PAGE);
        const t = app(c);
        for (let i = 0; i < PAGES; i++) t.write(buf(c) + i * PAGE, 0x61 + i);
        const pfns = Array.from({ length: PAGES }, (_, i) => t.translate(buf(c) + i * PAGE)!);
        return `pfns ${pfns.join(', ')}: ${pfns.filter((p) => inCma(c, p)).length} of ${PAGES} in CMA`;
      },
      look: [{ kind: 'frames', title: 'the buffer', pfns: (c) => Array.from({ length: PAGES }, (_, i) => app(c).translate(buf(c) + i * PAGE)!) }],
    },
    {
      narration: "A driver pins the first page long-term through GUP-fast (its era's call), as a DMA buffer it keeps.",
      action: (c) => {
        const was = app(c).translate(buf(c))!;
        const r = driverPin(c, app(c), buf(c), LW, true);
        c.vars.pinned = r.pfn;
        const where = pinned(c) === was ? `pinned in place in CMA, pfn ${was}` : `migrated out of CMA first: pfn ${was} -> ${pinned(c)} (${c.k.page(pinned(c)).zone}/${c.k.page(pinned(c)).migratetype})`;
        return [r.line, where];
      },
      look: [{ kind: 'frames', title: 'the pinned frame', pfns: (c) => [pinned(c)] }],
    },
    {
      narration: 'A camera driver needs its contiguous buffer: cma_alloc() of the whole CMA area migrates every borrowed page out.',
      action: (c) => {
        const ret = c.k.cma_alloc(cmaPages(c));
        c.vars.cmaAlloc = ret;
        return ret >= 0 ? `cma_alloc(${cmaPages(c)}) = pfn ${ret}: the area is the driver's` : `cma_alloc(${cmaPages(c)}) = ${ret} (${ret === -C.EBUSY ? '-EBUSY' : 'error'}): a page held by the pin cannot move`;
      },
      look: [{ kind: 'counters', title: '/proc/meminfo', values: (c) => ({ CmaTotal: `${c.k.meminfo().CmaTotal} kB`, CmaFree: `${c.k.meminfo().CmaFree} kB` }) }],
    },
    {
      narration: 'The process still reads its buffer, wherever its pages went.',
      action: (c) => Array.from({ length: PAGES }, (_, i) => `page ${i}: ${word(app(c).read(buf(c) + i * PAGE))} at pfn ${app(c).translate(buf(c) + i * PAGE)}`),
    },
  ],
  outcome: (c) => {
    const ret = c.vars.cmaAlloc as number;
    const pinnedInCma = inCma(c, pinned(c));
    return {
      summary: ret >= 0 ? 'cma_alloc() succeeds: the long-term pin had moved its page out of CMA' : `cma_alloc() fails with ${ret}: the long-term pin holds a page in the middle of CMA`,
      values: { pinnedInCma, cmaAlloc: ret >= 0 ? 'success' : ret === -C.EBUSY ? '-EBUSY' : ret },
    };
  },
};
