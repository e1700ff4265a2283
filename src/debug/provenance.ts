// Pin provenance (boot({ track: true })), as Android's page_pinner keeps
// it: every reference GUP hands out is recorded with the API call, its
// gup_flags, the task, the current device, the clock time and a call-site
// tag; releases consume the records. Tracking is installed on one Kernel
// instance as own methods wrapping the prototype's, so a machine booted
// without it runs exactly today's code.
import { PG_reserved, SCRATCH_WORDS } from '../../assembly/constants';
import { hasPincount, pinBias } from '../eras/pincount';
import { compoundHead } from '../inspect/page';
import { PageArray } from '../gup/page-array';
import { Task } from '../task';
import type { Mm } from '../mm/mm';
import type { Kernel } from '../devices/kernel';
import type { DmaDevice } from '../devices/device';
import { IbUmem } from '../devices/umem';
import { explainPut, explainUnpin, explainBatch } from './misuse';
import { onLeakedPins } from './lt-leak';

const LT_LEAK_NOTE = 'kept by a failed FOLL_LONGTERM call: check_and_migrate_movable_pages() returned -ENOMEM '
  + 'without unpinning (6.1-6.11, fixed by aa6f8b2593b5); the caller got an error and cannot release them';

export type PinKind = 'FOLL_PIN' | 'FOLL_GET';

// One live (or leaked) record, as k.pins(), k.pinners() and k.leaks() list it.
export interface PinRecord {
  id: number;
  api: string; // the GUP entry point: 'pin_user_pages_fast', 'get_user_pages', …
  kind: PinKind;
  gup_flags: number; // as the caller passed them
  pid: number; // the task whose memory it is
  comm: string;
  device: string | null; // the device model whose code took it (k.asDevice)
  time: number; // k.now() when taken, ns
  caller: string | null; // k.withCaller()'s tag
  pages: number; // references still held
  pfns: number[]; // the frames they are held on
  leaked: boolean; // still held after its task exited or its device closed
  note: string | null; // why pinsim marked it leaked other than at an exit or a close
}

// One call's references: the pfns copied once, a per-page "released" mask
// only once part of the call has been released.
export class Rec {
  gone: Uint8Array | null = null;
  live: number;
  leaked = false;
  released: { api: string; time: number } | null = null;
  // Where the call's pfns were written: the PageArray's root, the arena
  // offset and the root's epoch just after the call. While the epoch stands
  // the entries are these pfns, and a release of that slot needs no compare.
  root: PageArray | null = null;
  off = -1;
  epoch = -1;
  constructor(readonly id: number, readonly api: string, readonly kind: PinKind, readonly gup_flags: number,
    readonly pid: number, readonly comm: string, readonly device: string | null, readonly time: number,
    readonly caller: string | null, readonly pfns: Int32Array, readonly note: string | null = null) {
    this.live = pfns.length;
  }

  holds(i: number): boolean { return this.gone === null ? this.live > 0 : this.gone[i] === 0; }

  drop(i: number): void {
    this.gone ??= new Uint8Array(this.pfns.length);
    this.gone[i] = 1;
    this.live--;
  }

  // "pin_user_pages_fast (pid 3 a.out, device rdma0, caller my_map, t=0ns)"
  describe(): string {
    const dev = this.device === null ? '' : `, device ${this.device}`;
    const at = this.caller === null ? '' : `, caller ${this.caller}`;
    return `${this.api} (pid ${this.pid} ${this.comm}${dev}${at}, t=${this.time}ns)`;
  }

  view(): PinRecord {
    const pfns = Array.from(this.pfns).filter((_, i) => this.holds(i));
    return {
      id: this.id, api: this.api, kind: this.kind, gup_flags: this.gup_flags, pid: this.pid, comm: this.comm,
      device: this.device, time: this.time, caller: this.caller, pages: this.live, pfns, leaked: this.leaked,
      note: this.note,
    };
  }
}

const RELEASED_KEPT = 256; // released records kept to explain a double release: the last 256 to 511
const CHUNK = 1 << 16; // pfns per chunk of record storage

export class Tracker {
  readonly live = new Set<Rec>();
  readonly #byFirst = new Map<number, Rec[]>(); // live records by their first pfn, for releaseCall()
  readonly released: Rec[] = [];
  device: string | null = null;
  #next = 1;
  depth = 0; // > 0 inside a tracked call: the inner calls it makes are its own

  constructor(readonly k: Kernel) {}

  record(api: string, kind: PinKind, flags: number, target: Task | Mm, pages: PageArray, n: number, at = 0,
    note: string | null = null): Rec {
    const t = target instanceof Task ? target : this.k.tasks.find((x) => x.mm === target);
    const pid = t ? t.pid : (target as Mm).owner.pid;
    const pfns = this.#copy(this.k.v.pages.subarray(pages.offset + at, pages.offset + at + n));
    const rec = new Rec(this.#next++, api, kind, flags, pid, t ? t.name : '?', this.device, this.k.now(), this.k.callerTag, pfns, note);
    rec.root = pages.root;
    rec.off = pages.offset + at;
    rec.epoch = pages.root.epoch;
    this.live.add(rec);
    const same = this.#byFirst.get(pfns[0]);
    if (same) same.push(rec);
    else this.#byFirst.set(pfns[0], [rec]);
    return rec;
  }

  // The records' pfns live in shared chunks (a typed array per record
  // would cost an allocation of its own): a chunk is freed with its last record.
  #chunk = new Int32Array(CHUNK);
  #used = 0;

  #copy(pfns: Int32Array): Int32Array {
    if (this.#used + pfns.length > this.#chunk.length) {
      this.#chunk = new Int32Array(Math.max(CHUNK, pfns.length));
      this.#used = 0;
    }
    const out = this.#chunk.subarray(this.#used, this.#used + pfns.length);
    out.set(pfns);
    this.#used += pfns.length;
    return out;
  }

  // A whole call released at once, as a driver usually does: a live,
  // untouched FOLL_PIN record of exactly the first n pfns of pages. The
  // record of that very slot, while its epoch stands, needs no compare;
  // else the first whose copy matches (compared in the core, the copy
  // passed through scratch).
  releaseCall(pages: PageArray, n: number, api: string): boolean {
    const off = pages.offset;
    const same = this.#byFirst.get(this.k.v.pages[off]);
    if (!same) return false;
    const whole = (rec: Rec): boolean => rec.kind === 'FOLL_PIN' && rec.gone === null && rec.pfns.length === n;
    let hit = same.find((rec) => whole(rec) && rec.root === pages.root && rec.off === off && rec.epoch === pages.root.epoch);
    if (!hit && n <= SCRATCH_WORDS) {
      hit = same.find((rec) => {
        if (!whole(rec)) return false;
        this.k.v.scratch.set(rec.pfns);
        return this.k.core.pages_match(off, n);
      });
    }
    if (!hit) return false;
    hit.live = 0;
    this.retire(hit, api);
    return true;
  }

  // The newest live record holding a reference of `kind` on pfn's folio
  // (the page itself preferred), with the page's index in it; null if none.
  find(pfn: number, kind: PinKind): [Rec, number] | null {
    const head = compoundHead(this.k.v, pfn);
    let hit: [Rec, number] | null = null;
    let exact = false;
    for (const rec of this.live) {
      if (rec.kind !== kind) continue;
      for (let i = 0; i < rec.pfns.length; i++) {
        if (!rec.holds(i)) continue;
        if (rec.pfns[i] === pfn) [hit, exact] = [[rec, i], true];
        else if (!exact && compoundHead(this.k.v, rec.pfns[i]) === head) hit = [rec, i];
      }
    }
    return hit;
  }

  // Consumes one reference of kind on pfn; the record it came from, or null.
  consume(pfn: number, kind: PinKind, api: string): Rec | null {
    const hit = this.find(pfn, kind);
    if (!hit) return null;
    hit[0].drop(hit[1]);
    hit[0].released = { api, time: this.k.now() }; // its latest release, for a later double release
    if (hit[0].live === 0) this.retire(hit[0], api);
    return hit[0];
  }

  // The record of kind that held pfn's folio and released it most recently:
  // a live one that let go of part of its pages, else a retired one.
  releasedHolding(pfn: number, kind: PinKind): Rec | null {
    const head = compoundHead(this.k.v, pfn);
    const held = (rec: Rec, i: number): boolean => rec.pfns[i] === pfn || compoundHead(this.k.v, rec.pfns[i]) === head;
    let hit: Rec | null = null;
    for (const rec of this.live) {
      if (rec.kind === kind && rec.gone !== null && rec.pfns.some((_, i) => rec.gone![i] === 1 && held(rec, i))) hit = rec;
    }
    for (let r = this.released.length - 1; r >= 0 && hit === null; r--) {
      const rec = this.released[r];
      if (rec.kind === kind && rec.pfns.some((_, i) => held(rec, i))) hit = rec;
    }
    return hit;
  }

  retire(rec: Rec, api: string): void {
    this.live.delete(rec);
    const same = this.#byFirst.get(rec.pfns[0])!;
    if (same.length === 1) this.#byFirst.delete(rec.pfns[0]);
    else same.splice(same.indexOf(rec), 1);
    rec.released = { api, time: this.k.now() };
    this.released.push(rec);
    // Trimmed in batches (a shift per release would move the whole list).
    if (this.released.length >= 2 * RELEASED_KEPT) this.released.splice(0, RELEASED_KEPT);
  }

  // Marks and reports the live records `lost` matches (a task that exited,
  // a device that closed), one dmesg line per API, kind and call site.
  leak(lost: (r: Rec) => boolean, holder: string): void {
    const groups = new Map<string, { rec: Rec; pages: number }>();
    for (const rec of this.live) {
      if (rec.leaked || !lost(rec)) continue;
      rec.leaked = true;
      const key = `${rec.kind} ${rec.api} ${rec.caller}`;
      const g = groups.get(key);
      if (g) g.pages += rec.live;
      else groups.set(key, { rec, pages: rec.live });
    }
    for (const { rec, pages } of groups.values()) {
      const at = rec.caller === null ? `t=${rec.time}ns` : `${rec.caller} (t=${rec.time}ns)`;
      this.k.printk(`pinsim: leak: ${holder} holds ${pages} ${rec.kind} pages taken by ${rec.api} at ${at}`);
    }
  }
}

const ZERO_PFN = 0; // the shared zero page (assembly/mem.ts)

type Fn = (a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown) => unknown;

// The acquire entry points: API name, reference kind, index of `pages`
// (gup_flags is the other of 3 and 4).
const ACQUIRE: [string, PinKind, number][] = [
  ['get_user_pages', 'FOLL_GET', 4], ['get_user_pages_remote', 'FOLL_GET', 4], ['get_user_pages_unlocked', 'FOLL_GET', 3],
  ['get_user_pages_fast', 'FOLL_GET', 4], ['get_user_pages_fast_only', 'FOLL_GET', 4],
  ['pin_user_pages', 'FOLL_PIN', 4], ['pin_user_pages_fast', 'FOLL_PIN', 4], ['pin_user_pages_remote', 'FOLL_PIN', 4],
  ['pin_user_pages_unlocked', 'FOLL_PIN', 3],
];

// Installs tracking on k: wrappers as own properties, shadowing the
// prototype's methods (every entry point takes at most 6 arguments). A
// call made from inside a tracked call (pin_longterm_pages() calling
// pin_user_pages()) is the outer call's.
export function installTracking(k: Kernel): Tracker {
  const tr = new Tracker(k);
  const own = k as unknown as Record<string, Fn>;
  const proto = (name: string): Fn => (own[name] as Fn).bind(k);
  const outer = (name: string, run: (orig: Fn, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown) => unknown): void => {
    const orig = proto(name);
    own[name] = (a, b, c, d, e, f) => {
      if (tr.depth > 0) return orig(a, b, c, d, e, f);
      tr.depth++;
      try {
        return run(orig, a, b, c, d, e, f);
      } finally {
        tr.depth--;
      }
    };
  };
  let call: [string, PinKind, number, Task | Mm] | null = null; // the acquire call in progress
  onLeakedPins(k, (pages, at, n) => {
    if (call === null) return;
    const [api, kind, flags, target] = call;
    const rec = tr.record(api, kind, flags, target, pages, n, at, LT_LEAK_NOTE);
    rec.leaked = true;
  });
  for (const [name, kind, at] of ACQUIRE) {
    outer(name, (orig, a, b, c, d, e, f) => {
      const flags = (at === 4 ? d : e) as number;
      call = [name, kind, flags, a as Task | Mm];
      const pages = at === 4 ? e : d;
      if (pages instanceof PageArray && !pages.freed) pages.root.epoch++; // the core writes its entries
      let r: number;
      try {
        r = orig(a, b, c, d, e, f) as number;
      } finally {
        call = null;
      }
      if (r > 0 && pages instanceof PageArray) tr.record(name, kind, flags, a as Task | Mm, pages, r);
      return r;
    });
  }
  // A batch the folio holds: its records consumed. One it does not hold is
  // refused whole by the core (a WARN): the records stay, the pages without
  // any are explained.
  const unpinEach = (name: string, pfns: ArrayLike<number>): void => {
    forEachBatch(tr, pfns, (from, to, pins) => {
      // the zero page since 6.5: never pin-counted, never refused
      const held = (pfns[from] === ZERO_PFN && !k.kr.zeroPagePinCounted) || pins >= to - from;
      if (!held && tr.find(pfns[from], 'FOLL_PIN')) explainBatch(tr, name, pfns[from], to - from, pins);
      for (let i = from; i < to; i++) {
        if (held ? !tr.consume(pfns[i], 'FOLL_PIN', name) : !tr.find(pfns[i], 'FOLL_PIN')) explainUnpin(tr, name, pfns[i]);
      }
      return held;
    });
  };
  outer('unpin_user_page', (orig, pfn) => {
    if (Number.isSafeInteger(pfn) && (pfn as number) >= 0 && (pfn as number) < k.nrFrames) unpinEach('unpin_user_page', [pfn as number]);
    return orig(pfn);
  });
  for (const name of ['unpin_user_pages', 'unpin_user_pages_dirty_lock']) {
    outer(name, (orig, pages, n, dirty) => {
      if (pages instanceof PageArray && Number.isSafeInteger(n) && (n as number) > 0 && (n as number) <= pages.length && !pages.freed) {
        // A pfn of no frame makes the core refuse the whole call: nothing to consume.
        if (!tr.releaseCall(pages, n as number, name)) {
          const pfns = pages.pfns.slice(0, n as number);
          if (pfns.every((p) => p < k.nrFrames)) unpinEach(name, pfns);
        }
      }
      return orig(pages, n, dirty);
    });
  }
  outer('unpin_user_page_range_dirty_lock', (orig, pfn, n, dirty) => {
    const [p, nr] = [pfn as number, n as number];
    if (Number.isSafeInteger(p) && Number.isSafeInteger(nr) && nr > 0 && p >= 0 && p + nr <= k.nrFrames && typeof dirty === 'boolean') {
      unpinEach('unpin_user_page_range_dirty_lock', Array.from({ length: nr }, (_, i) => p + i));
    }
    return orig(pfn, n, dirty);
  });
  // ib_umem_release() unpins its scatterlist in the core (one
  // unpin_user_page_range_dirty_lock() per entry): its pages, as pinned.
  outer('ib_umem_release', (orig, umem) => {
    if (umem instanceof IbUmem && !umem.released) {
      const pfns = () => umem.pages.pfns.slice(0, umem.npages);
      if (!k.kr.pinApi) {
        const after = putEach('put_user_pages_dirty_lock', pfns()); // 5.5's umem: GUP references
        const r = orig(umem);
        after();
        return r;
      }
      if (!tr.releaseCall(umem.pages, umem.npages, 'unpin_user_page_range_dirty_lock')) unpinEach('unpin_user_page_range_dirty_lock', pfns());
    }
    return orig(umem);
  });
  // FOLL_GET references released in one call: each entry's record
  // consumed; returns what to report once the puts are done.
  const putEach = (name: string, pfns: ArrayLike<number>): (() => void) => {
    const after: (() => void)[] = [];
    for (let i = 0; i < pfns.length; i++) {
      if (pfns[i] < 0 || tr.consume(pfns[i], 'FOLL_GET', name) !== null) continue;
      const explain = explainPut(tr, pfns[i]);
      if (explain) after.push(explain);
    }
    return () => after.forEach((f) => f());
  };
  const arrayRelease = (name: string, pin: () => boolean): void => {
    outer(name, (orig, pages, n, dirty) => {
      let after = (): void => {};
      if (pages instanceof PageArray && Number.isSafeInteger(n) && (n as number) > 0 && (n as number) <= pages.length && !pages.freed) {
        const pfns = pages.pfns.slice(0, n as number);
        if (pfns.every((p) => p < k.nrFrames)) {
          if (pin()) unpinEach(name, pfns);
          else after = putEach(name, pfns);
        }
      }
      const r = orig(pages, n, dirty);
      after();
      return r;
    });
  };
  arrayRelease('release_pages', () => false);
  // 5.3-5.5's placeholders: put_page() before the pin API, unpins after.
  for (const name of ['put_user_pages', 'put_user_pages_dirty_lock']) arrayRelease(name, () => k.kr.pinApi);
  outer('put_page', (orig, pfn) => {
    if (!Number.isSafeInteger(pfn) || (pfn as number) < 0 || (pfn as number) >= k.nrFrames) return orig(pfn);
    const rec = tr.consume(pfn as number, 'FOLL_GET', 'put_page');
    const explain = rec === null ? explainPut(tr, pfn as number) : null;
    const r = orig(pfn);
    explain?.();
    return r;
  });
  // The current device, for the records; leaks at a task's exit and a device's close.
  const asDevice = proto('asDevice');
  own.asDevice = (name, fn) => {
    const prev = tr.device;
    tr.device = name as string;
    try {
      return asDevice(name, fn);
    } finally {
      tr.device = prev;
    }
  };
  const removeTask = proto('removeTask');
  own.removeTask = (t) => {
    removeTask(t);
    const task = t as Task;
    tr.leak((r) => r.device === null && r.pid === task.pid, `pid ${task.pid} (${task.name})`);
  };
  const unregisterDevice = proto('unregisterDevice');
  own.unregisterDevice = (d) => {
    unregisterDevice(d);
    const dev = d as DmaDevice;
    tr.leak((r) => r.device === dev.name, `device ${dev.name}`);
  };
  return tr;
}

// Splits an unpin's entries into the core's batches, as gup_folio_next()
// does (a run of entries in one folio; a NULL entry is skipped), and says
// the pins the folio holds when its turn comes (fn returns whether the
// batch was dropped): the core drops a batch whole or refuses it whole.
function forEachBatch(tr: Tracker, pfns: ArrayLike<number>, fn: (from: number, to: number, pins: number) => boolean): void {
  const v = tr.k.v;
  const taken = new Map<number, number>();
  let i = 0;
  while (i < pfns.length) {
    if (pfns[i] < 0) { i++; continue; }
    const head = compoundHead(v, pfns[i]);
    let j = i + 1;
    while (j < pfns.length && pfns[j] >= 0 && compoundHead(v, pfns[j]) === head) j++;
    const before = taken.get(head) ?? 0;
    const pins = hasPincount(tr.k.kr, v.flags[v.page(head)]) ? v.index[v.page(head + 1)] : Math.floor((v.refcount[v.page(head)] >>> 0) / pinBias(tr.k.kr));
    if (fn(i, j, pins - before)) taken.set(head, before + j - i);
    i = j;
  }
}

// FOLL_PIN pages the live records hold (what acquired - released should
// be): the zero pages (PG_reserved) are handed out but never pin-counted,
// except the shared zero page before 6.5 (zeroPagePinCounted).
function uncounted(k: Kernel, head: number): boolean {
  return (k.v.flags[k.v.page(head)] & PG_reserved) !== 0 && !(head === ZERO_PFN && k.kr.zeroPagePinCounted);
}

export function trackedPinPages(tr: Tracker): number {
  let n = 0;
  for (const r of tr.live) {
    if (r.kind !== 'FOLL_PIN') continue;
    r.pfns.forEach((p, i) => { if (r.holds(i) && !uncounted(tr.k, compoundHead(tr.k.v, p))) n++; });
  }
  return n;
}
