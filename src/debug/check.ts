// k.check(): the machine's invariants on demand, tracking on or off. The
// per-frame walk is the core's (assembly/check.ts); the façade adds the
// memlock ledger, the pin counters and, with tracking, the records.
import * as C from '../../assembly/constants';
import { compoundHead } from '../inspect/page';
import type { Kernel } from '../devices/kernel';
import { trackedPinPages, type Tracker } from './provenance';
import { hasPincount, pinBias } from '../eras/pincount';

export interface Violation {
  rule: string; // which invariant: 'refcount', 'pincount', 'buddy', 'mapcount', 'memlock', 'vmstat', 'records'
  pfn?: number;
  detail: string;
}

const FRAME_RULES: Record<number, [string, string]> = {
  [C.CHECK_REFCOUNT_NEGATIVE]: ['refcount', '_refcount < 0'],
  [C.CHECK_PINCOUNT_OVER_REFCOUNT]: ['pincount', 'large folio: _pincount > _refcount'],
  [C.CHECK_BUDDY_IN_USE]: ['buddy', 'PG_buddy frame (on a free list) is mapped or referenced'],
  [C.CHECK_MAPPED_OVER_REFCOUNT]: ['mapcount', 'folio mapped more times than it has references'],
};

function frameViolations(k: Kernel): Violation[] {
  const n = k.guard(() => k.core.check_frames(k.nrFrames));
  const out: Violation[] = [];
  for (let i = 0; i < Math.min(n, C.CHECK_MAX); i++) {
    const pfn = k.v.scratch[2 * i];
    const [rule, detail] = FRAME_RULES[k.v.scratch[2 * i + 1]];
    out.push({ rule, pfn, detail: `pfn ${pfn}: ${detail} (refcount ${k.v.refcount[k.v.page(pfn)]}, mapcount ${k.v.mapcount[k.v.page(pfn)]})` });
  }
  if (n > C.CHECK_MAX) out.push({ rule: 'frames', detail: `${n - C.CHECK_MAX} more frame violations` });
  return out;
}

// Each frame's mapcount (and each large folio's _entire_mapcount) equals
// the page-table entries of live mms that map it: one core walk per VMA
// per chunk of CHECK_MAX frames.
function mapcountViolations(k: Kernel): Violation[] {
  const mms = [...new Set(k.tasks.map((t) => t.mm))].filter((mm) => !mm.dead);
  const out: Violation[] = [];
  for (let lo = 0; lo < k.nrFrames; lo += C.CHECK_MAX) {
    const n = Math.min(C.CHECK_MAX, k.nrFrames - lo);
    const bad = k.guard(() => {
      k.core.check_map_clear();
      for (const mm of mms) for (const v of mm.vmas) k.core.check_map_walk(mm.pgd, v.start / C.PAGE_SIZE, (v.end - v.start) / C.PAGE_SIZE, lo);
      return k.core.check_map_compare(lo, n);
    });
    if (bad === 0) continue;
    const pfn = k.core.check_map_first();
    out.push({ rule: 'mapcount', pfn, detail: `pfn ${pfn}${bad > 1 ? ` (and ${bad - 1} more)` : ''}: mapcount ${k.v.mapcount[k.v.page(pfn)]} is not the page-table entries that map it` });
  }
  return out;
}

// Each live mm's locked_vm and pinned_vm, and each user's locked_vm, equal
// the ledger's entries for them.
function memlockViolations(k: Kernel): Violation[] {
  const sums = new Map<string, number>();
  const ledger = k.memlockLedger();
  for (const c of ledger) {
    const key = c.counter === 'user.locked_vm' ? `${c.counter} uid ${c.uid}` : `${c.counter} pid ${c.pid}`;
    sums.set(key, (sums.get(key) ?? 0) + c.pages);
  }
  const counters: [string, number][] = [];
  for (const t of k.tasks) {
    if (t.mm.owner.pid !== t.pid) continue;
    counters.push([`mm.locked_vm pid ${t.pid}`, t.mm.locked_vm], [`mm.pinned_vm pid ${t.pid}`, t.mm.pinned_vm]);
  }
  for (const uid of new Set([...k.tasks.map((t) => t.uid), ...ledger.map((c) => c.uid)])) {
    counters.push([`user.locked_vm uid ${uid}`, k.user(uid).locked_vm]);
  }
  return counters.filter(([key, v]) => (sums.get(key) ?? 0) !== v)
    .map(([key, v]) => ({ rule: 'memlock', detail: `${key}: counter ${v} pages, ledger ${sums.get(key) ?? 0}` }));
}

// With tracking: every small folio holds at least GUP_PIN_COUNTING_BIAS
// references per pin on record, one per FOLL_GET reference and one per
// PTE mapping it; a large one at least its pins in _pincount.
function recordViolations(k: Kernel, tr: Tracker): Violation[] {
  const pins = new Map<number, number>();
  const gets = new Map<number, number>();
  for (const rec of tr.live) {
    const m = rec.kind === 'FOLL_PIN' ? pins : gets;
    rec.pfns.forEach((p, i) => { if (rec.holds(i)) m.set(compoundHead(k.v, p), (m.get(compoundHead(k.v, p)) ?? 0) + 1); });
  }
  const out: Violation[] = [];
  for (const head of new Set([...pins.keys(), ...gets.keys()])) {
    const p = pins.get(head) ?? 0;
    const g = gets.get(head) ?? 0;
    if (k.v.flags[k.v.page(head)] & C.PG_reserved) continue; // the zero pages: no references taken
    const large = hasPincount(k.kr, k.v.flags[k.v.page(head)]); // the era's exact pin count, else the bias
    const need = large ? p + g : p * pinBias(k.kr) + g + k.v.mapcount[k.v.page(head)];
    if (k.v.refcount[k.v.page(head)] < need) {
      out.push({ rule: 'records', pfn: head, detail: `pfn ${head}: refcount ${k.v.refcount[k.v.page(head)]} < ${need} (${p} pins, ${g} FOLL_GET references on record${large ? '' : `, ${k.v.mapcount[k.v.page(head)]} mappings`})` });
    }
    if (large && k.v.index[k.v.page(head + 1)] < p) {
      out.push({ rule: 'records', pfn: head, detail: `pfn ${head}: _pincount ${k.v.index[k.v.page(head + 1)]} < ${p} pins on record` });
    }
  }
  return out;
}

export function checkKernel(k: Kernel, tr: Tracker | null): Violation[] {
  const out = frameViolations(k).concat(mapcountViolations(k), memlockViolations(k));
  // Before 5.7 there are no counters (and in 5.6 a pin is a plain reference).
  if (!k.kr.pinVmstat || k.kr.pinBias === 1) return tr ? out.concat(recordViolations(k, tr)) : out;
  const net = k.v.stats[C.NR_FOLL_PIN_ACQUIRED] - k.v.stats[C.NR_FOLL_PIN_RELEASED];
  const held = k.guard(() => k.core.count_pins(k.nrFrames));
  if (net !== held) out.push({ rule: 'vmstat', detail: `nr_foll_pin_acquired - nr_foll_pin_released = ${net}, the frames hold ${held} pins` });
  if (tr) {
    const recorded = trackedPinPages(tr);
    if (net !== recorded) out.push({ rule: 'vmstat', detail: `nr_foll_pin_acquired - nr_foll_pin_released = ${net}, the records hold ${recorded} FOLL_PIN pages` });
    out.push(...recordViolations(k, tr));
  }
  return out;
}
