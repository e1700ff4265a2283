// A Look rendered as a small table: what the CLI prints, what --json and
// the lab's side panels show.
import { FOLL_PIN } from '../../assembly/constants';
import { PAGE_SIZE } from '../../assembly/constants';
import type { Look, ScenarioCtx } from './types';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

// One page's contents word as the scenarios write it: a letter when it is one.
export function word(w: number | null): string {
  if (w === null) return '-';
  return w >= 0x20 && w < 0x7f ? `'${String.fromCharCode(w)}'` : `0x${w.toString(16)}`;
}

const hex = (a: number): string => `0x${a.toString(16)}`;

function frames(c: ScenarioCtx, pfns: number[]): string[][] {
  return pfns.map((pfn) => {
    const p = c.k.page(pfn);
    return [String(pfn), String(p.refcount), String(p.mapcount), String(p.pincount),
      p.maybeDmaPinned ? 'yes' : 'no', `${p.zone}/${p.migratetype}`, p.flags.join(',') || '-', word(p.data)];
  });
}

function ptes(c: ScenarioCtx, task: string, addr: number, pages: number): string[][] {
  const t = c.tasks.get(task);
  if (!t) throw new RangeError(`no task '${task}' in this scenario`);
  if (t.exited) return [[hex(addr), '(exited)', '-', '-']];
  return Array.from({ length: pages }, (_, i) => {
    const a = addr + i * PAGE_SIZE;
    const pfn = t.translate(a);
    return [hex(a), pfn === null ? 'none' : String(pfn), pfn === null ? '-' : String(c.k.page(pfn).refcount), pfn === null ? '-' : word(c.k.page(pfn).data)];
  });
}

function device(c: ScenarioCtx, name: string): string[][] {
  const d = c.k.devices().find((x) => x.name === name);
  if (!d) return [['(closed)', '-', '-', '-', '-']];
  const rows = d.pins().map((p) => [p.object, `pid ${p.pid}`, hex(p.addr), String(p.pages), p.gup_flags & FOLL_PIN ? 'pin' : 'get']);
  for (const ch of d.charges()) rows.push([ch.counter, `pid ${ch.pid}`, ch.range ? hex(ch.range.start) : '-', String(ch.pages), `charge (${ch.by})`]);
  return rows.length ? rows : [['(nothing held)', '-', '-', '-', '-']];
}

export function renderLook(c: ScenarioCtx, l: Look): Table {
  switch (l.kind) {
    case 'frames':
      return { title: l.title, columns: ['pfn', 'refcount', 'mapcount', 'pincount', 'dma_pinned', 'zone/mt', 'flags', 'data'], rows: frames(c, l.pfns(c)) };
    case 'ptes':
      return { title: l.title, columns: ['addr', 'pfn', 'refcount', 'data'], rows: ptes(c, l.task, l.addr(c), l.pages) };
    case 'device':
      return { title: l.title, columns: ['object', 'task', 'addr', 'pages', 'kind'], rows: device(c, l.device(c)) };
    case 'counters':
      return { title: l.title, columns: ['counter', 'value'], rows: Object.entries(l.values(c)).map(([k, v]) => [k, String(v)]) };
  }
}
