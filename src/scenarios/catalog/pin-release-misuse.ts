// The other half of get/unpin misuse: a driver converted to
// pin_user_pages() whose error path still calls put_page() (left from its
// get_user_pages() days), and whose close path unpins what the teardown
// already unpinned. pin_user_pages.rst's rule is that a pinned page goes
// back through unpin_user_page*() exactly once; the kernel has no way to
// tell whose reference a put drops, so the damage shows later, elsewhere.
import * as C from '../../../assembly/constants';
import type { PageArray } from '../../gup/page-array';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { needsPinApi, anonFilled, ret, spawn, task, v } from './lib';

const pages = (c: ScenarioCtx): PageArray => v<PageArray>(c, 'pages');
const pfns = (c: ScenarioCtx): number[] => v<number[]>(c, 'pfns');
const frames = [{ kind: 'frames' as const, title: 'the two pinned pages', pfns }];
// Provenance's explanations of a release (not its boot line).
const explained = (lines: readonly string[]): string[] => lines.filter((l) => /^pinsim: (put_page|unpin_user_page)/.test(l));

export const pinReleaseMisuse: Scenario = {
  id: 'pin-release-misuse',
  title: 'put_page() of a pinned page, then a double unpin: a page freed while mapped, a WARN',
  refs: [
    { label: 'Documentation/core-api/pin_user_pages.rst', url: 'https://docs.kernel.org/core-api/pin_user_pages.html' },
    { label: 'LWN: Explicit pinning of user-space pages', url: 'https://lwn.net/Articles/807108/' },
  ],
  presets: ['latest'],
  requires: needsPinApi,
  boot: { memory: '64MiB', thp: 'never', track: true },
  steps: [
    {
      narration: 'A driver pins two pages of an application\'s buffer long-term: refcount 1 + 1024 each.',
      action: (c) => {
        const t = spawn(c, 'app');
        const buf = anonFilled(t, 2, 0x50);
        c.vars.pages = c.k.pageArray(2);
        const n = c.k.withCaller('drv_map', () => c.k.pin_user_pages_fast(t, buf, 2, C.FOLL_WRITE | C.FOLL_LONGTERM, pages(c)));
        c.vars.pfns = [pages(c).get(0)!, pages(c).get(1)!];
        return `pin_user_pages_fast(buf, 2, FOLL_WRITE | FOLL_LONGTERM) = ${ret(n)}`;
      },
      look: frames,
    },
    {
      narration: 'An error path, never converted, drops page 0 with put_page(): it takes one of the references the pin or the mapping owns.',
      action: (c) => {
        c.k.put_page(pfns(c)[0]);
        return [`put_page(pfn ${pfns(c)[0]}): refcount ${c.k.page(pfns(c)[0]).refcount}`, `k.check(): ${c.k.check().map((x) => x.rule).join(', ') || 'no violations'}`];
      },
      look: frames,
    },
    {
      narration: 'The teardown unpins both pages correctly; for page 0 that now drops the last reference while the application still maps it.',
      action: (c) => {
        c.k.unpin_user_pages_dirty_lock(pages(c), 2, true);
        c.vars.freedWhileMapped = c.k.page(pfns(c)[0]).flags.includes('bad');
        return `unpin_user_pages_dirty_lock(pages, 2, true): page 0 ${c.vars.freedWhileMapped ? 'reached the free path while mapped' : `refcount ${c.k.page(pfns(c)[0]).refcount}`}`;
      },
      look: frames,
    },
    {
      narration: 'The close path unpins page 1 again: a double unpin.',
      action: (c) => {
        const before = c.k.page(pfns(c)[1]).refcount;
        c.k.unpin_user_page(pfns(c)[1]);
        c.vars.afterDouble = c.k.page(pfns(c)[1]).refcount;
        return `unpin_user_page(pfn ${pfns(c)[1]}): the kernel would take ${before} - ${C.GUP_PIN_COUNTING_BIAS}; pinsim refuses, refcount stays ${c.vars.afterDouble}`;
      },
      look: frames,
    },
    {
      narration: 'The application still maps page 0, a frame that reached the free path: Linux may hand it to someone else; pinsim keeps it out as bad.',
      action: (c) => {
        const t = task(c, 'app');
        return `page 0 reads ${word(t.read(t.maps()[0].start))}; BadPages ${c.k.meminfo().BadPages} kB`;
      },
      look: [{ kind: 'counters', title: 'machine', values: (c) => ({ 'BadPages (kB)': c.k.meminfo().BadPages, 'k.pins()': c.k.pins().length }) }],
    },
  ],
  outcome: (c) => {
    const log = c.k.dmesg();
    const badPage = log.some((l) => l.startsWith('BUG: Bad page state'));
    const warned = log.some((l) => l.startsWith('WARNING:') && l.includes('gup_put_folio'));
    return {
      summary: `put_page() on a pinned page: ${badPage ? 'the unpin freed it while mapped (BUG: Bad page state)' : 'no visible damage'}; the double unpin: ${warned ? 'WARN, refused' : 'no WARN'}`,
      values: { badPage, badPagesKiB: c.k.meminfo().BadPages, doubleUnpinWarned: warned, refcountAfterDouble: v<number>(c, 'afterDouble'), explained: explained(log).length },
    };
  },
};
