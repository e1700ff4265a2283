// The pin leak behind llama.cpp #9988: on 6.1-6.11 a FOLL_LONGTERM pin
// whose pages had to leave CMA, failing with -ENOMEM for want of memory
// outside CMA, returned the error but kept its pins (24a95998e9ba
// introduced it, aa6f8b2593b5 fixed it in 6.12; kernel-history.md §3.I).
// The driver sees a failure and never unpins; the frames outlive the
// process, and /proc/vmstat's nr_foll_pin_acquired runs away from
// nr_foll_pin_released. What ran out is pinsim's choice (UNVERIFIED, as in
// the era rules): free frames outside CMA to migrate the pages to.
import * as C from '../../../assembly/constants';
import type { ScenarioCtx, Scenario } from '../types';
import { needsPinApi, anonFilled, pinCounters, ret, spawn, task, v } from './lib';

const PAGES = 16;
const GUP_FLAGS = C.FOLL_WRITE | C.FOLL_LONGTERM;

const buf = (c: ScenarioCtx): number => v<number>(c, 'buf');
const pfns = (c: ScenarioCtx): number[] => v<number[]>(c, 'pfns');
// Free frames outside the CMA area: where a long-term pin may move a page.
const freeOutsideCma = (c: ScenarioCtx): number => {
  const m = c.k.meminfo();
  return m.zones.Normal.free - m.CmaFree / 4;
};
const stillPinned = (c: ScenarioCtx): number => pfns(c).filter((p) => c.k.page(p).maybeDmaPinned).length;

const counters = (c: ScenarioCtx): Record<string, number> => ({
  ...pinCounters(c),
  'free frames outside CMA': freeOutsideCma(c),
  'MemFree (kB)': c.k.meminfo().MemFree,
  'k.leaks() pages': c.k.leaks().reduce((s, r) => s + r.pages, 0),
});

export const pinLeak: Scenario = {
  id: 'pin-leak',
  title: 'a failed long-term pin keeps its pins: nr_foll_pin_acquired >> released, memory gone after exit',
  refs: [
    { label: 'llama.cpp #9988: memory leak in llama-server after exit (acquired 7502048, released 2048)', url: 'https://github.com/ggml-org/llama.cpp/issues/9988' },
    { label: 'kernel bugzilla 219427', url: 'https://bugzilla.kernel.org/show_bug.cgi?id=219427' },
    { label: 'aa6f8b2593b5 mm/gup: stop leaking pinned pages in low memory conditions (6.12)', url: 'https://git.kernel.org/linus/aa6f8b2593b5' },
  ],
  presets: ['6.11', 'latest'],
  requires: needsPinApi,
  boot: { memory: '64MiB', cma: '32MiB', thp: 'never', track: true },
  steps: [
    {
      narration: 'llama-server allocates and fills a 16-page KV buffer; half the RAM is CMA, so the pages land there.',
      action: (c) => {
        c.vars.memFree = c.k.meminfo().MemFree;
        const t = spawn(c, 'llama');
        c.vars.buf = anonFilled(t, PAGES, 0x4b);
        c.vars.pfns = Array.from({ length: PAGES }, (_, i) => t.translate(buf(c) + i * C.PAGE_SIZE)!);
        const inCma = pfns(c).filter((p) => c.k.page(p).migratetype === 'CMA').length;
        return `mmap(${PAGES} pages) = 0x${buf(c).toString(16)}, written: ${inCma} of its ${PAGES} frames are in CMA`;
      },
      look: [{ kind: 'frames', title: 'the buffer (first two pages)', pfns: (c) => pfns(c).slice(0, 2) }],
    },
    {
      narration: 'Another process takes every free frame outside CMA: the machine is low on memory.',
      action: (c) => {
        const hog = spawn(c, 'hog');
        const a = hog.mmap({ length: 64 * 2 ** 20, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_NORESERVE });
        let done = 0;
        // Each touch takes frames from CMA and from outside it: repeat until nothing is left outside.
        for (let n = freeOutsideCma(c); n > 0; n = freeOutsideCma(c)) {
          hog.touch(a + done * C.PAGE_SIZE, n * C.PAGE_SIZE, { write: true });
          done += n;
        }
        return `the hog populated ${done} pages; ${freeOutsideCma(c)} frames are free outside CMA`;
      },
      look: [{ kind: 'counters', title: 'memory and pins', values: counters }],
    },
    {
      narration: 'The GPU driver registers the buffer (cudaHostRegister): pin_user_pages(FOLL_LONGTERM) must first move it out of CMA.',
      action: (c) => {
        const pages = c.k.pageArray(PAGES);
        const r = c.k.withCaller('nv_host_register', () => c.k.pin_user_pages(task(c, 'llama'), buf(c), PAGES, GUP_FLAGS, pages));
        pages.free();
        c.vars.pinResult = r;
        return `pin_user_pages(buf, ${PAGES}, FOLL_WRITE | FOLL_LONGTERM) = ${ret(r)}${r < 0 ? ': the driver gives up, with nothing to unpin' : ''}`;
      },
      look: [
        { kind: 'frames', title: 'the buffer (first two pages)', pfns: (c) => pfns(c).slice(0, 2) },
        { kind: 'counters', title: 'memory and pins', values: counters },
      ],
    },
    {
      narration: 'llama-server exits and the hog exits: every page they mapped should go back to the free lists.',
      action: (c) => {
        task(c, 'hog').exit();
        task(c, 'llama').exit();
        const held = stillPinned(c);
        if (!held) return 'every frame of the buffer is free again';
        return [`${held} frames of the buffer are still pinned, mapped by nobody: no one can unpin them`,
          ...c.k.leaks().map((r) => `k.leaks(): ${r.pages} ${r.kind} pages by ${r.api} at ${r.caller ?? '?'} (pid ${r.pid})`)];
      },
      look: [
        { kind: 'frames', title: 'the buffer (first two pages)', pfns: (c) => pfns(c).slice(0, 2) },
        { kind: 'counters', title: 'memory and pins', values: counters },
      ],
    },
  ],
  outcome: (c) => {
    const { nr_foll_pin_acquired: acquired, nr_foll_pin_released: released } = pinCounters(c);
    const leaked = c.k.leaks();
    const pages = leaked.reduce((s, r) => s + r.pages, 0);
    const lostKiB = v<number>(c, 'memFree') - c.k.meminfo().MemFree;
    return {
      summary: pages
        ? `leak: the failed pin kept ${pages} pages; nr_foll_pin_acquired ${acquired} vs released ${released}; ${lostKiB} kB of RAM never come back (k.leaks(): ${leaked[0].note})`
        : `no leak: the failed pin dropped its pins; nr_foll_pin_acquired ${acquired} = released ${released}`,
      values: { pinResult: v<number>(c, 'pinResult'), acquired, released, leakedPages: pages, stillPinned: stillPinned(c), memFreeLostKiB: lostKiB },
    };
  },
};
