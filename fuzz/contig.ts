// The contig family: cma_alloc()/cma_release() over the CMA area while the
// other families' pages (pinned or not) sit in it, and offline_pages()/
// online_pages() (on the fuzz's 32 MiB machines, whose ZONE_MOVABLE is
// smaller than a 128 MiB section, only the -EINVAL checks run). After a
// successful cma_alloc every frame in the range is the caller's alone
// (refcount 1, unmapped, no flags).
import * as C from '../assembly/constants';
import { fail, type Machine } from './machine';
import type { Op } from './ops';

const PAGE = C.PAGE_SIZE;

export type ContigOp = Extract<Op, { op: 'cmaAlloc' | 'cmaRelease' | 'offline' | 'online' }>;

export function runContigOp(m: Machine, o: ContigOp): unknown {
  const k = m.k;
  switch (o.op) {
    case 'cmaAlloc': {
      const pfn = k.cma_alloc(o.count, o.align);
      if (pfn < 0) return pfn;
      m.cma.push([pfn, o.count]);
      const { refcount, mapcount, flags } = k.v;
      for (let p = pfn; p < pfn + o.count; p++) {
        if (refcount[p] !== 1 || mapcount[p] !== 0 || flags[p] !== 0) fail(`cma_alloc gave pfn ${p} in use: ${JSON.stringify(k.page(p))}`);
      }
      return pfn;
    }
    case 'cmaRelease': {
      const i = o.pick % Math.max(1, m.cma.length);
      const got = m.cma[i];
      if (!got) return k.cma_release(o.pick, 1);
      m.cma.splice(i, 1);
      return k.cma_release(got[0], got[1]);
    }
    case 'offline': case 'online': {
      const start = (k.layout.ram - k.layout.movable) / PAGE + (o.at << C.PAGEBLOCK_ORDER);
      return o.op === 'offline' ? k.offline_pages(start, C.PAGES_PER_SECTION) : k.online_pages(start, C.PAGES_PER_SECTION);
    }
  }
}

// Teardown: the allocations go back, so that every frame is free again.
export function releaseContig(m: Machine): void {
  for (const [pfn, n] of m.cma.splice(0)) if (!m.k.cma_release(pfn, n)) fail(`cma_release(${pfn}, ${n}) refused at teardown`);
}
