// Inspection: page snapshots, dump_page() text and /proc/meminfo numbers,
// all read straight from the core's views.
import * as C from '../../assembly/constants';
import type { CoreViews } from '../core/types';
import { hasPincount } from '../eras/pincount';
import type { KernelRules } from '../eras/timeline';

interface Host {
  readonly v: CoreViews;
  readonly kr: KernelRules;
  readonly layout: { ram: number; cma: number; movable: number; pmem: number };
  readonly core: { count_mlocked(): number };
}

const FLAG_NAMES: [number, string][] = [
  [C.PG_referenced, 'referenced'], [C.PG_uptodate, 'uptodate'], [C.PG_dirty, 'dirty'], [C.PG_lru, 'lru'],
  [C.PG_head, 'head'], [C.PG_private, 'private'], [C.PG_reserved, 'reserved'], [C.PG_swapbacked, 'swapbacked'],
  [C.PG_anon, 'anon'], [C.PG_anon_exclusive, 'anon_exclusive'], [C.PG_buddy, 'buddy'], [C.PG_table, 'table'],
  [C.PG_hugetlb, 'hugetlb'], [C.PG_tail, 'tail'], [C.PG_isolated, 'isolated'], [C.PG_hwpoison, 'hwpoison'],
  [C.PG_bad, 'bad'],
  [C.PG_mlocked, 'mlocked'],
];
const ZONE_NAMES = ['Normal', 'Movable', 'Device'];
const MIGRATETYPE_NAMES = ['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic', 'CMA', 'Isolate'];

export interface PageSnapshot {
  pfn: number;
  head: number; // compound_head(): the folio's first pfn
  order: number; // the folio's order
  refcount: number; // folio_ref_count()
  mapcount: number; // page_mapcount(): PTE mappings of this page + PMD/PUD mappings of its folio
  pincount: number; // folio's _pincount (large folios; 0 for small ones)
  maybeDmaPinned: boolean; // folio_maybe_dma_pinned()
  flags: string[]; // PG_* names, this page's and its folio's
  zone: string;
  migratetype: string; // of its pageblock
  mapping: number; // file id (page cache), anon_vma id (anon), 0
  index: number; // page offset in the file, or virtual page number for anon
  data: number; // the page's contents (one word)
}

// compound_head(): only a tail names another frame as its head (a frame
// never allocated since boot has no head recorded).
export function compoundHead(v: CoreViews, pfn: number): number {
  return v.flags[v.page(pfn)] & C.PG_tail ? v.head[v.page(pfn)] : pfn;
}

export function pageSnapshot(k: Host, pfn: number): PageSnapshot {
  const v = k.v;
  const head = compoundHead(v, pfn);
  const headFlags = v.flags[v.page(head)];
  const large = (headFlags & C.PG_head) !== 0;
  const order = large ? (headFlags & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT : 0;
  const bits = v.flags[v.page(pfn)] | (headFlags & ~(C.PG_head | C.PG_ORDER_MASK | C.PG_anon_exclusive));
  const refcount = v.refcount[v.page(head)];
  const exact = hasPincount(k.kr, headFlags);
  const pincount = exact ? v.index[v.page(head + 1)] : 0;
  const table = (v.flags[v.page(pfn)] & (C.PG_table | C.PG_buddy)) !== 0;
  return {
    pfn, head, order, refcount, pincount,
    mapcount: table ? 0 : v.mapcount[v.page(pfn)] + (large ? v.mapping[v.page(head + 1)] : 0),
    maybeDmaPinned: exact ? pincount > 0 : refcount < 0 || refcount >= C.GUP_PIN_COUNTING_BIAS,
    flags: FLAG_NAMES.filter(([b]) => bits & b).map(([, n]) => n),
    zone: ZONE_NAMES[pfn < k.layout.ram / C.PAGE_SIZE
      ? pfn < (k.layout.ram - k.layout.movable) / C.PAGE_SIZE ? C.ZONE_NORMAL : C.ZONE_MOVABLE : C.ZONE_DEVICE],
    migratetype: MIGRATETYPE_NAMES[v.migratetype[pfn >>> C.PAGEBLOCK_ORDER]],
    mapping: table ? 0 : v.mapping[v.page(head)],
    index: table ? 0 : v.index[v.page(head)] + (pfn - head),
    data: v.data[v.page(pfn)],
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

// Bits of pinsim's flags word that the kernel keeps elsewhere: the order (in
// the second page), anon (in ->mapping), tail (in ->compound_head), and the
// page types (in ->page_type, printed on their own line).
const NOT_FLAGS = C.PG_ORDER_MASK | C.PG_anon | C.PG_tail | C.PG_buddy | C.PG_table | C.PG_hugetlb;
// enum pagetype: the top byte of ->page_type.
const PAGE_TYPES: [number, number, string][] = [[C.PG_buddy, 0xf0, 'buddy'], [C.PG_table, 0xf2, 'table'], [C.PG_hugetlb, 0xf4, 'hugetlb']];

// Text in the shape of the kernel's dump_page() -> __dump_folio() (no raw
// struct dumps): the page's own refcount line, for a large folio the
// folio's "head:" line, then the folio's flags in hex and by name (as %pGp
// prints them), and pinsim's zone line.
export function dumpPage(k: Host, pfn: number): string {
  const v = k.v;
  const p = pageSnapshot(k, pfn);
  const folioFlags = v.flags[v.page(p.head)];
  const typed = (v.flags[v.page(pfn)] & (C.PG_table | C.PG_buddy)) !== 0;
  const lines = [`page: refcount:${p.refcount} mapcount:${typed ? 0 : v.mapcount[v.page(pfn)]} mapping:${hex(p.mapping)}`
    + ` index:${hex(p.index)} pfn:${hex(pfn)}`];
  if (p.order > 0) {
    // folio_mapcount(): every PTE mapping of every page plus each entire mapping;
    // folio_nr_pages_mapped(): the pages mapped by PTEs.
    const entire = v.mapping[v.page(p.head + 1)];
    let ptes = 0;
    let mapped = 0;
    for (let i = p.head, end = p.head + 2 ** p.order; i < end; i++) {
      ptes += v.mapcount[v.page(i)];
      if (v.mapcount[v.page(i)] > 0) mapped++;
    }
    lines.push(`head: order:${p.order} mapcount:${ptes + entire} entire_mapcount:${entire} nr_pages_mapped:${mapped} pincount:${p.pincount}`);
  }
  const bits = folioFlags & ~NOT_FLAGS;
  const kind = folioFlags & C.PG_anon ? 'anon ' : '';
  const names = FLAG_NAMES.filter(([b]) => bits & b).map(([, n]) => n).join('|');
  lines.push(`${kind}flags: ${hex(bits)}(${names})${p.migratetype === 'CMA' ? ' CMA' : ''}`);
  const type = PAGE_TYPES.find(([b]) => folioFlags & b);
  if (type) lines.push(`page_type: ${type[1].toString(16)}(${type[2]})`);
  lines.push(`zone: ${p.zone} migratetype: ${p.migratetype}${p.maybeDmaPinned ? ' maybe_dma_pinned' : ''}`);
  return lines.join('\n');
}

export interface MemInfo {
  MemTotal: number; // kB, as /proc/meminfo
  MemFree: number;
  MemUsed: number;
  AnonPages: number;
  AnonHugePages: number;
  Cached: number;
  Unevictable: number; // mlocked folios are the only unevictable ones pinsim has
  Mlocked: number;
  Shmem: number;
  PageTables: number;
  CmaTotal: number;
  CmaFree: number;
  HugePages_Total: number; // 2 MiB pool, in pages
  HugePages_Free: number;
  Hugepagesize: number;
  HugePages1G_Total: number;
  HugePages1G_Free: number;
  Hugetlb: number; // kB held by both pools
  DeviceTotal: number; // kB of pmem (ZONE_DEVICE)
  DeviceFree: number;
  BadPages: number; // kB of frames bad_page() took out of circulation (pinsim's; cf. HardwareCorrupted)
  zones: Record<'Normal' | 'Movable', { managed: number; free: number }>; // pages
}

export function meminfo(k: Host): MemInfo {
  const s = k.v.stats;
  const kb = (pages: number) => pages * 4;
  const total = k.layout.ram / C.PAGE_SIZE - s[C.NR_OFFLINE_PAGES]; // offline_pages() lowers totalram_pages
  const movable = k.layout.movable / C.PAGE_SIZE - s[C.NR_OFFLINE_PAGES]; // only ZONE_MOVABLE goes offline
  const mlocked = kb(k.core.count_mlocked());
  return {
    MemTotal: kb(total),
    MemFree: kb(s[C.NR_FREE_PAGES]),
    MemUsed: kb(total - s[C.NR_FREE_PAGES]),
    AnonPages: kb(s[C.NR_ANON_PAGES]),
    AnonHugePages: s[C.NR_ANON_THPS] * 2048,
    Cached: kb(s[C.NR_FILE_PAGES]),
    Unevictable: mlocked,
    Mlocked: mlocked,
    Shmem: kb(s[C.NR_SHMEM]),
    PageTables: kb(s[C.NR_PAGETABLE]),
    CmaTotal: k.layout.cma / 1024,
    CmaFree: kb(s[C.NR_FREE_CMA_PAGES]),
    HugePages_Total: s[C.HUGETLB_TOTAL],
    HugePages_Free: s[C.HUGETLB_FREE],
    Hugepagesize: 2048,
    HugePages1G_Total: s[C.HUGETLB_TOTAL_1G],
    HugePages1G_Free: s[C.HUGETLB_FREE_1G],
    Hugetlb: s[C.HUGETLB_TOTAL] * 2048 + s[C.HUGETLB_TOTAL_1G] * 1024 * 1024,
    DeviceTotal: k.layout.pmem / 1024,
    DeviceFree: kb(s[C.NR_FREE_DEVICE]),
    BadPages: kb(s[C.NR_BAD_PAGES]),
    zones: {
      Normal: { managed: total - movable, free: k.v.zoneFree[C.ZONE_NORMAL] },
      Movable: { managed: movable, free: k.v.zoneFree[C.ZONE_MOVABLE] },
    },
  };
}
