// Contiguous physical ranges: cma_alloc()/cma_release() (mm/cma.c) over
// alloc_contig_range() (mm/page_alloc.c), and memory hot-unplug's
// offline_pages()/online_pages() (mm/memory_hotplug.c). The core does the
// per-page work (assembly/contig.ts); the folios in the way move with the
// shared migration code (src/mm/migrate.ts), whose targets come from
// outside CMA and ZONE_MOVABLE (GFP_HIGHUSER_PIN), so never from the range.
import * as C from '../../assembly/constants';
import type { KernelBase } from '../kernel';
import { migrateListed } from './migrate';
import { dumpPage } from '../inspect/page';

interface ContigState {
  cma: Map<number, number>; // cma->bitmap, as the allocations it records: first pfn -> count
  offline: Set<number>; // first pfns of the offlined sections
}
const states = new WeakMap<KernelBase, ContigState>();

function state(k: KernelBase): ContigState {
  let s = states.get(k);
  if (!s) states.set(k, s = { cma: new Map(), offline: new Set() });
  return s;
}

function count(n: unknown, what: string): number {
  if (typeof n !== 'number') throw new TypeError(`${what} must be a number`);
  if (!Number.isInteger(n) || n < 0 || n > C.MAX_PAGES_PER_CALL) throw new RangeError(`${what} must be an integer in [0, 2^30]`);
  return n;
}

// The CMA area's pfns [start, end): the top of ZONE_NORMAL (boot({ cma })).
function cmaArea(k: KernelBase): { start: number; end: number } {
  const end = (k.layout.ram - k.layout.movable) / C.PAGE_SIZE;
  return { start: end - k.layout.cma / C.PAGE_SIZE, end };
}

// alloc_contig_range() for [start, end): migrate every LRU folio with a
// page there, then take the range if it is all free. Returns 0 or -errno,
// and the frame that was in the way (-1 if none). Pages that did migrate
// stay where they went on failure, as in the kernel.
function allocContigRange(k: KernelBase, start: number, end: number, how: number): { ret: number; busy: number; failed: number } {
  const core = k.core;
  core.lru_add_drain(); // alloc_contig_range() and offline_pages(): lru_cache_disable() drains every CPU's batches
  for (let from = start; from < end;) {
    const n = core.contig_collect(from, end);
    from = core.contig_next();
    if (n === 0) continue;
    const failed = migrateListed(k, n);
    if (failed > 0) {
      // -EAGAIN (a pin or another extra reference froze the refcount) is
      // -EBUSY here; -ENOMEM (no target) stays.
      const s = k.v.scratch;
      let i = 0;
      while ((s[C.MIGRATE_BATCH + i] | 0) >= 0) i++;
      const err = s[C.MIGRATE_BATCH + i] | 0;
      return { ret: err === -C.ENOMEM ? -C.ENOMEM : -C.EBUSY, busy: s[i], failed };
    }
  }
  const busy = core.contig_first_busy(start, end);
  if (busy >= 0) return { ret: -C.EBUSY, busy, failed: 0 };
  core.contig_take(start, end, how);
  return { ret: 0, busy: -1, failed: 0 };
}

// Mirrors cma_alloc(): the first pfn of `n` contiguous frames of the CMA
// area aligned to 2^align pages, or -errno where the kernel returns NULL
// (-EINVAL: n is 0 or there is no CMA area; -ENOMEM: no unallocated
// aligned range is left; -EBUSY: every range tried had a page that could
// not move). Candidates are tried from the bottom of the area, each
// unallocated aligned range in turn, as cma_alloc() walks its bitmap;
// pinsim skips those that still hold the frame that failed the last one.
export function cmaAlloc(k: KernelBase, n: number, align = 0): number {
  count(n, 'count');
  count(align, 'align');
  const st = state(k);
  const { start: lo, end: hi } = cmaArea(k);
  if (n === 0 || lo === hi) return -C.EINVAL;
  const step = 2 ** Math.min(align, C.CMA_ALIGNMENT);
  let ret = -C.ENOMEM;
  let s = Math.ceil(lo / step) * step;
  return k.guard(() => {
    while (s + n <= hi) {
      const taken = [...st.cma].find(([p, c]) => p < s + n && s < p + c);
      if (taken) {
        s = Math.ceil((taken[0] + taken[1]) / step) * step;
        continue;
      }
      const r = allocContigRange(k, s, s + n, C.CONTIG_CMA);
      if (r.ret === 0) {
        st.cma.set(s, n);
        return s;
      }
      ret = r.ret;
      if (ret !== -C.EBUSY) break;
      s = Math.max(s + step, Math.ceil((r.busy + 1) / step) * step);
    }
    // cma_alloc()'s pr_err_ratelimited() since v5.11, the area named as cma= names it (UNVERIFIED: the text).
    k.printk(`cma: cma_alloc: reserved: alloc failed, req-size: ${n} pages, ret: ${ret}`);
    return ret;
  });
}

// Mirrors cma_release(): frees an allocation cma_alloc() returned; false
// (with a WARN) for a range that is not one. pinsim releases whole
// allocations only (the kernel also takes a part of one).
export function cmaRelease(k: KernelBase, pfn: number, n: number): boolean {
  count(pfn, 'pfn');
  count(n, 'count');
  const st = state(k);
  if (st.cma.get(pfn) !== n) {
    k.warnOnce('mm/cma.c:cma_release', 'range not allocated from the CMA area');
    return false;
  }
  return k.guard(() => {
    const inUse = k.core.contig_give(pfn, pfn + n, C.CONTIG_CMA);
    if (inUse > 0) k.warnOnce('mm/page_alloc.c:free_contig_range', `${inUse} pages are still in use!`);
    st.cma.delete(pfn);
    return true;
  });
}

// Which zone [start, end) lies in wholly and online, or -1
// (test_pages_in_a_zone()).
function zoneOf(k: KernelBase, start: number, end: number, online: boolean): number {
  const ram = k.layout.ram / C.PAGE_SIZE;
  const movable = ram - k.layout.movable / C.PAGE_SIZE;
  const st = state(k);
  for (let sec = start; sec < end; sec += C.PAGES_PER_SECTION) if (st.offline.has(sec) === online) return -1;
  if (start >= movable && end <= ram) return C.ZONE_MOVABLE;
  return end <= movable ? C.ZONE_NORMAL : -1;
}

// Checks offline_pages() and online_pages() share: whole sections (x86-64's
// 128 MiB memory blocks) of ZONE_MOVABLE, all online (offline) now.
function hotplugRange(k: KernelBase, start: number, n: number, online: boolean): number {
  count(start, 'startPfn');
  count(n, 'count');
  if (n === 0 || start % C.PAGES_PER_SECTION !== 0 || n % C.PAGES_PER_SECTION !== 0) return -C.EINVAL;
  // pinsim offlines ZONE_MOVABLE only (the kernel also tries ZONE_NORMAL blocks).
  return zoneOf(k, start, start + n, online) === C.ZONE_MOVABLE ? 0 : -C.EINVAL;
}

// dump_page()'s lines for pfn, with the reason, as the kernel logs them.
function dump(k: KernelBase, pfn: number, why: string): void {
  for (const line of dumpPage(k, pfn).split('\n')) k.printk(line);
  k.printk(`page dumped because: ${why}`);
}

// Mirrors offline_pages(): isolate the range (an unmovable page fails it
// at once), migrate everything on the LRU out of it, and take it out of
// managed memory (MemTotal and the zone's managed pages drop). Returns 0
// or -errno: -EINVAL for a range that is not whole online sections of
// ZONE_MOVABLE, -EBUSY when a page cannot move (a pin holds it). UNVERIFIED
// choice: the kernel retries the migration until a signal arrives (and
// then fails -EINTR); the machine is synchronous, so nothing would change
// between tries, and pinsim fails -EBUSY after one.
export function offlinePages(k: KernelBase, start: number, n: number): number {
  const bad = hotplugRange(k, start, n, true);
  if (bad) return bad;
  return k.guard(() => {
    const unmovable = k.core.contig_first_unmovable(start, start + n);
    const r = unmovable >= 0 ? { ret: -C.EBUSY, busy: unmovable, failed: 0 } : allocContigRange(k, start, start + n, C.CONTIG_OFFLINE);
    if (r.ret === 0) {
      for (let sec = start; sec < start + n; sec += C.PAGES_PER_SECTION) state(k).offline.add(sec);
      return 0;
    }
    // set_migratetype_isolate() and do_migrate_range() report the page (REPORT_FAILURE).
    if (unmovable >= 0) dump(k, unmovable, 'unmovable page');
    else {
      k.printk(`migrating pfn ${r.busy.toString(16)} failed ret:${r.failed}`);
      dump(k, r.busy, 'migration failure');
    }
    return r.ret;
  });
}

// Mirrors online_pages(): offlined sections of ZONE_MOVABLE join the
// allocator again. 0, or -EINVAL for a range that is not offline.
export function onlinePages(k: KernelBase, start: number, n: number): number {
  const bad = hotplugRange(k, start, n, false);
  if (bad) return bad;
  return k.guard(() => {
    k.core.contig_give(start, start + n, C.CONTIG_OFFLINE);
    for (let sec = start; sec < start + n; sec += C.PAGES_PER_SECTION) state(k).offline.delete(sec);
    return 0;
  });
}
