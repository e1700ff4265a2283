// The per-CPU LRU-add batch's reference and long-term pins
// (kernel-history.md §3.J J5, §6.4): a freshly faulted page waits in a
// per-CPU batch, holding one reference the page's mappings do not explain,
// until lru_add_drain(). Long-term pinning migrates a CMA page first, and
// migration refuses a page with an unexplained reference: the pin fails
// with -ENOMEM from 5.13 (pinned in place in CMA before), until Hugh
// Dickins' 98c6d259319e drains the batches whenever such a reference may
// be one. pinsim has the batch behind the lruBatchRef rule (off in every
// preset); this scenario switches it on.
import * as C from '../../../assembly/constants';
import type { Task } from '../../task';
import type { Scenario, ScenarioCtx } from '../types';
import { driverPin, spawnWithBuffer } from './lib';

const PAGE = C.PAGE_SIZE;
const LW = C.FOLL_WRITE | C.FOLL_LONGTERM;

const app = (c: ScenarioCtx): Task => c.tasks.get('app')!;
const buf = (c: ScenarioCtx): number => c.vars.buf as number;
const fresh = (c: ScenarioCtx): number => c.vars.fresh as number;

// A long-term pin of the buffer: its result, and where the page is.
function pin(c: ScenarioCtx, key: string): string[] {
  const failedBefore = c.k.vmstat().pgmigrate_fail;
  const r = driverPin(c, app(c), buf(c), LW);
  c.vars[key] = r.n;
  if (r.pfn !== null) c.vars.pinned = r.pfn;
  const failed = c.k.vmstat().pgmigrate_fail - failedBefore;
  const p = r.pfn === null ? null : c.k.page(r.pfn);
  return [
    `${r.line}${failed ? ` (migration failed: pgmigrate_fail +${failed})` : ''}`,
    p ? `the pin holds pfn ${p.pfn} in ${p.zone}/${p.migratetype}${p.pfn === fresh(c) ? ', the page it was' : ''}` : 'nothing is pinned',
  ];
}

export const lruBatchRef: Scenario = {
  id: 'lru-batch-ref',
  title: "The per-CPU LRU batch's reference makes a long-term pin of a fresh CMA page fail",
  refs: [
    { label: '98c6d259319e mm/gup: check ref_count instead of lru before migration (Hugh Dickins, 2025)', url: 'https://git.kernel.org/linus/98c6d259319e' },
    { label: "Will Deacon's report, quoted in the patch (linux-stable mirror)", url: 'https://lists.linaro.org/archives/list/linux-stable-mirror@lists.linaro.org/message/ZILJMGDRR7M3JKUBNNYQFLFTILKI2OQJ' },
    { label: 'f0f4463837da mm/gup: longterm pin migration cleanup (5.13: a failed migration fails the pin)', url: 'https://git.kernel.org/linus/f0f4463837da' },
  ],
  presets: ['5.18', '5.10', 'latest'],
  boot: { memory: '64MiB', cma: '32MiB', thp: 'never', rules: { lruBatchRef: true } },
  steps: [
    {
      narration: 'A process writes a fresh page, from CMA; the new folio waits in the per-CPU LRU-add batch, which holds a reference to it.',
      action: (c) => {
        c.vars.buf = spawnWithBuffer(c, 'app', 'vmm', PAGE);
        app(c).write(buf(c), 0x47);
        c.vars.fresh = app(c).translate(buf(c));
        const p = c.k.page(fresh(c));
        return `pfn ${p.pfn} (${p.migratetype}): refcount ${p.refcount}, mapcount ${p.mapcount}, ${p.flags.includes('lru') ? 'on the LRU' : 'not on the LRU yet'}`;
      },
      look: [{ kind: 'frames', title: 'the fresh page', pfns: (c) => [fresh(c)] }],
    },
    {
      narration: 'A driver pins it long-term (guest memory of a VM): GUP must migrate it out of CMA first.',
      action: (c) => pin(c, 'first'),
      look: [
        { kind: 'frames', title: 'the fresh page', pfns: (c) => [fresh(c)] },
        { kind: 'counters', title: 'vmstat', values: (c) => ({ pgmigrate_success: c.k.vmstat().pgmigrate_success, pgmigrate_fail: c.k.vmstat().pgmigrate_fail }) },
      ],
    },
    {
      narration: 'Something drains the batch (lru_add_drain(): the 15th new folio, or a drain elsewhere); a failed driver retries.',
      action: (c) => {
        c.k.lru_add_drain();
        const p = c.k.page(app(c).translate(buf(c)));
        const lines = [`lru_add_drain(): the process's page, pfn ${p.pfn}, has refcount ${p.refcount} and is ${p.flags.includes('lru') ? 'on the LRU' : 'not on the LRU'}`];
        if (c.vars.first === 1) return [...lines, 'nothing to retry'];
        return [...lines, ...pin(c, 'retry')];
      },
      look: [{ kind: 'frames', title: 'the pinned frame', pfns: (c) => (c.vars.pinned === undefined ? [] : [c.vars.pinned as number]) }],
    },
  ],
  outcome: (c) => {
    const first = c.vars.first as number;
    const pinnedPfn = c.vars.pinned as number | undefined;
    const pinnedInCma = pinnedPfn !== undefined && c.k.page(pinnedPfn).migratetype === 'CMA';
    const errno = (n: number): number | string => (n === -C.ENOMEM ? '-ENOMEM' : n);
    return {
      summary: first !== 1 ? 'spurious failure: -ENOMEM while the batch held the page; the retry after a drain succeeds'
        : pinnedInCma ? 'pinned in place: the migration failed and the page stays in CMA, blocking cma_alloc()'
          : 'pinned after migrating the page out of CMA (the batch was drained first)',
      values: { firstPin: errno(first), retry: c.vars.retry === undefined ? null : errno(c.vars.retry as number), pinnedInCma },
    };
  },
};
