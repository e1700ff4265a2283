// Pin provenance (boot({ track: true })): the records each API and device
// leaves, withCaller tags, pins()/pinners() filters, the misuse
// explanations, and leak reports at exit and device close.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeviceFile, type DevicePin, type Kernel, type Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE } from './helpers';

// A device that pins a buffer long-term and may forget to unpin it.
class Grabber extends DeviceFile {
  readonly path = '/dev/grabber0';
  readonly pages;
  constructor(k: Kernel, readonly t: Task, readonly addr: number, readonly n: number, readonly leaky = false) {
    super(k, k.deviceName('grabber0'));
    this.pages = k.pageArray(n);
    this.as(() => k.withCaller('grabber_map', () => k.pin_user_pages_fast(t, addr, n, C.FOLL_WRITE | C.FOLL_LONGTERM, this.pages)));
  }
  pins(): DevicePin[] { return []; }
  protected release(): void {
    if (!this.leaky) this.kernel.unpin_user_pages(this.pages, this.n);
  }
}

const newLines = (k: Kernel, from: number): string[] => k.dmesg().slice(from);

describe.each(BACKENDS)('pin provenance (%s core)', (backend) => {
  it('is off by default: the queries say so, k.check() still works', async () => {
    const k = await bootTest(backend);
    expect(k.tracker).toBeNull();
    expect(() => k.pins()).toThrow(/boot\(\{ track: true \}\)/);
    expect(() => k.leaks()).toThrow(/track/);
    expect(k.check()).toEqual([]);
    expect(k.withCaller('x', () => 7)).toBe(7);
    await expect(bootTest(backend, { track: 1 as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('records each GUP entry point with its kind, flags, task, time and caller', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn({ name: 'app' });
    const a = anon(t, 8);
    t.write(a, 1);
    const pa = k.pageArray(8);
    k.advance(500);
    expect(k.withCaller('my_driver_map', () => k.pin_user_pages_fast(t, a, 2, C.FOLL_WRITE, pa))).toBe(2);
    expect(k.get_user_pages_fast(t, a + 2 * PAGE, 1, 0, pa.subarray(2))).toBe(1);
    expect(k.pin_user_pages(t, a + 3 * PAGE, 1, C.FOLL_WRITE, pa.subarray(3))).toBe(1);
    expect(k.pin_user_pages_remote(t.mm, a + 4 * PAGE, 1, 0, pa.subarray(4))).toBe(1);
    expect(k.get_user_pages(t, a + 5 * PAGE, 1, 0, pa.subarray(5))).toBe(1);
    expect(k.pin_user_pages_unlocked(t, a + 6 * PAGE, 1, pa.subarray(6), C.FOLL_WRITE)).toBe(1);
    expect(k.pin_longterm_pages(t, a + 7 * PAGE, 1, 0, pa.subarray(7))).toBe(1);
    const recs = k.pins();
    expect(recs.map((r) => [r.api, r.kind, r.pages])).toEqual([
      ['pin_user_pages_fast', 'FOLL_PIN', 2], ['get_user_pages_fast', 'FOLL_GET', 1], ['pin_user_pages', 'FOLL_PIN', 1],
      ['pin_user_pages_remote', 'FOLL_PIN', 1], ['get_user_pages', 'FOLL_GET', 1], ['pin_user_pages_unlocked', 'FOLL_PIN', 1],
      ['pin_user_pages', 'FOLL_PIN', 1], // pin_longterm_pages() is pin_user_pages() with FOLL_LONGTERM
    ]);
    expect(recs[0]).toMatchObject({ pid: t.pid, comm: 'app', device: null, time: 500, caller: 'my_driver_map', gup_flags: C.FOLL_WRITE, leaked: false });
    expect(recs[0].pfns).toEqual([pa.get(0), pa.get(1)]);
    expect(recs[6].gup_flags).toBe(C.FOLL_LONGTERM);
    expect(recs[1].caller).toBeNull();
    expect(k.pinners(pa.get(0)!).map((r) => r.api)).toEqual(['pin_user_pages_fast']);
    expect(k.pins({ pid: t.pid + 1 })).toEqual([]);
    expect(k.check()).toEqual([]);
    // Releases consume: a whole call at once, or page by page.
    k.unpin_user_pages(pa, 2);
    k.unpin_user_page(pa.get(3)!);
    k.put_page(pa.get(2)!);
    k.unpin_user_page_range_dirty_lock(pa.get(4)!, 1, false);
    k.put_page(pa.get(5)!);
    k.unpin_user_pages_dirty_lock(pa.subarray(6), 2, true);
    expect(k.pins()).toEqual([]);
    expect(k.check()).toEqual([]);
    expect(k.dmesg().filter((l) => l.startsWith('pinsim: ') && !l.includes('booted'))).toEqual([]);
  });

  it('a partly released call keeps its other pages; pinners() answers per folio', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn();
    const a = t.mmap({ length: 2 * 1024 * 1024, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.madvise(a, 2 * 1024 * 1024, C.MADV_HUGEPAGE);
    t.write(a, 1);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages_fast(t, a, 4, C.FOLL_WRITE, pa)).toBe(4);
    const head = pa.get(0)!;
    k.unpin_user_page(pa.get(1)!);
    expect(k.pins()[0].pages).toBe(3);
    expect(k.pins()[0].pfns).toEqual([head, pa.get(2), pa.get(3)]);
    // Any page of the THP names the record.
    expect(k.pinners(head + 100).map((r) => r.pages)).toEqual([3]);
    expect(k.check()).toEqual([]);
    // One batch of four pins on a folio that holds three: refused whole.
    const mark = k.dmesg().length;
    k.unpin_user_pages(pa, 4);
    expect(newLines(k, mark)).toEqual([
      `pinsim: unpin_user_pages() of pfn ${head}: drops 4 pins of a folio that holds 3 (the newest on record from pin_user_pages_fast (pid ${t.pid} init, t=0ns)): the unpin would underflow`,
      'WARNING: CPU: 0 PID: 0 at mm/gup.c:gup_put_folio: unpinning a folio that holds no pin (pinsim leaves it untouched)',
    ]);
    expect(k.pins()[0].pages).toBe(3);
    expect(k.check()).toEqual([]);
    k.unpin_user_pages(pa.subarray(2), 2);
    k.unpin_user_page(head);
    expect(k.pins()).toEqual([]);
  });

  it('records a device\'s pins under its name and reports its leak at close', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn({ name: 'trainer' });
    const a = anon(t, 16);
    const good = new Grabber(k, t, a, 8);
    const bad = new Grabber(k, t, a + 8 * PAGE, 8, true);
    expect(k.pins({ device: good.name }).map((r) => [r.caller, r.pages, r.pid])).toEqual([['grabber_map', 8, t.pid]]);
    expect(k.pins({ device: bad.name })).toHaveLength(1);
    const mark = k.dmesg().length;
    good.close();
    expect(newLines(k, mark)).toEqual([]);
    bad.close();
    expect(newLines(k, mark)).toEqual([`pinsim: leak: device ${bad.name} holds 8 FOLL_PIN pages taken by pin_user_pages_fast at grabber_map (t=0ns)`]);
    expect(k.leaks().map((r) => [r.device, r.pages, r.leaked])).toEqual([[bad.name, 8, true]]);
    // The pages stay pinned: the machine agrees with the records.
    expect(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released).toBe(8);
    expect(k.check()).toEqual([]);
  });

  it('reports a task\'s pins left at exit in one line per call site (llama.cpp #9988)', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn({ name: 'llama' });
    const a = anon(t, 64);
    const pa = k.pageArray(1);
    for (let i = 0; i < 48; i++) expect(k.pin_user_pages_fast(t, a + i * PAGE, 1, C.FOLL_WRITE, pa)).toBe(1);
    k.withCaller('mmap_pin', () => k.get_user_pages_fast(t, a + 60 * PAGE, 1, 0, pa));
    const child = t.fork();
    const mark = k.dmesg().length;
    child.exit();
    expect(newLines(k, mark)).toEqual([]); // the pins are the parent's
    t.exit();
    expect(newLines(k, mark)).toEqual([
      `pinsim: leak: pid ${t.pid} (llama) holds 48 FOLL_PIN pages taken by pin_user_pages_fast at t=0ns`,
      `pinsim: leak: pid ${t.pid} (llama) holds 1 FOLL_GET pages taken by get_user_pages_fast at mmap_pin (t=0ns)`,
    ]);
    expect(k.leaks().reduce((s, r) => s + r.pages, 0)).toBe(49);
    const v = k.vmstat();
    expect(v.nr_foll_pin_acquired - v.nr_foll_pin_released).toBe(48);
    expect(k.check()).toEqual([]);
  });
});

describe.each(BACKENDS)('misuse explained (%s core)', (backend) => {
  async function setup(track: boolean) {
    const k = await bootTest(backend, { track });
    const t = k.spawn({ name: 'drv' });
    const a = anon(t, 4);
    t.write(a, 1);
    return { k, t, a, pa: k.pageArray(4) };
  }

  it('unpin_user_page() of a FOLL_GET page (open-gpu-kernel-modules #563): the arithmetic and the provenance', async () => {
    const { k, t, a, pa } = await setup(true);
    k.withCaller('nv_get_pages', () => k.get_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa));
    const pfn = pa.get(0)!;
    const rc = k.v.refcount[pfn];
    const mark = k.dmesg().length;
    k.unpin_user_page(pfn);
    expect(newLines(k, mark)).toEqual([
      `pinsim: unpin_user_page() of pfn ${pfn}: taken with FOLL_GET by get_user_pages_fast (pid ${t.pid} drv, caller nv_get_pages, t=0ns), not pinned: the unpin takes _refcount ${rc} - GUP_PIN_COUNTING_BIAS = ${rc - 1024} (underflow)`,
      'WARNING: CPU: 0 PID: 0 at mm/gup.c:gup_put_folio: unpinning a folio that holds no pin (pinsim leaves it untouched)',
    ]);
    expect(k.v.refcount[pfn]).toBe(rc); // refused: the page is untouched
    expect(k.pins()).toHaveLength(1); // the FOLL_GET reference is still held
    k.put_page(pfn);
    expect(k.check()).toEqual([]);
  });

  it('a double unpin names the pin and its release', async () => {
    const { k, t, a, pa } = await setup(true);
    k.pin_user_pages_fast(t, a, 1, 0, pa);
    const pfn = pa.get(0)!;
    k.advance(10);
    k.unpin_user_pages(pa, 1);
    const mark = k.dmesg().length;
    k.unpin_user_page(pfn);
    expect(newLines(k, mark)[0]).toBe(`pinsim: unpin_user_page() of pfn ${pfn}: double unpin: its pin from pin_user_pages_fast (pid ${t.pid} drv, t=0ns) was released by unpin_user_pages at t=10ns: the unpin takes _refcount ${k.v.refcount[pfn]} - GUP_PIN_COUNTING_BIAS = ${k.v.refcount[pfn] - 1024} (underflow)`);
    expect(newLines(k, mark)[1]).toMatch(/^WARNING: .*gup_put_folio/);
    expect(k.check()).toEqual([]);
  });

  it('a double unpin of a page whose call was released only in part', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn({ name: 'drv' });
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const pa = k.pageArray(4);
    k.withCaller('gpu_map', () => k.pin_user_pages_fast(t, a, 4, C.FOLL_WRITE, pa));
    k.advance(5);
    k.unpin_user_pages(pa, 2);
    expect(k.pins()[0].pfns).toEqual([pa.get(2), pa.get(3)]);
    const mark = k.dmesg().length;
    k.unpin_user_page(pa.get(0)!);
    expect(newLines(k, mark)[0]).toBe(`pinsim: unpin_user_page() of pfn ${pa.get(0)}: double unpin: its pin from pin_user_pages_fast (pid ${t.pid} drv, caller gpu_map, t=0ns) was released by unpin_user_pages at t=5ns: the unpin takes _refcount 1 - GUP_PIN_COUNTING_BIAS = -1023 (underflow)`);
    expect(k.pins()[0].pages).toBe(2); // refused: the other pins are untouched
    expect(k.check()).toEqual([]);
  });

  it('put_page() of a pinned page: the reference it takes is the pin\'s', async () => {
    const { k, t, a, pa } = await setup(true);
    k.pin_user_pages_fast(t, a, 1, 0, pa);
    const pfn = pa.get(0)!;
    const rc = k.v.refcount[pfn];
    const mark = k.dmesg().length;
    k.put_page(pfn);
    expect(newLines(k, mark)).toEqual([
      `pinsim: put_page() of pfn ${pfn}: no FOLL_GET reference on record, but pinned by pin_user_pages_fast (pid ${t.pid} drv, t=0ns): _refcount ${rc} - 1 = ${rc - 1} takes a reference the pin or a mapping owns`,
    ]);
    // The machine now holds one reference fewer than the pin and the PTE need.
    expect(k.check().map((v) => v.rule)).toEqual(['records']);
  });

  it('an extra put_page(): bad_page() as without tracking, then who dropped it and who maps it', async () => {
    for (const track of [false, true]) {
      const { k, t, a, pa } = await setup(track);
      k.withCaller('drv_get', () => k.get_user_pages_fast(t, a, 1, 0, pa));
      const pfn = pa.get(0)!;
      k.put_page(pfn);
      const mark = k.dmesg().length;
      k.put_page(pfn); // the mapping's reference: the page is freed while mapped
      const lines = newLines(k, mark);
      expect(lines[0]).toBe(`BUG: Bad page state in process swapper/0  pfn:${pfn.toString(16).padStart(5, '0')}`);
      const ours = lines.filter((l) => l.startsWith('pinsim: '));
      expect(ours).toEqual(track ? [
        `pinsim: put_page() of pfn ${pfn}: extra put: its FOLL_GET reference from get_user_pages_fast (pid ${t.pid} drv, caller drv_get, t=0ns) was already put by put_page at t=0ns`,
        `pinsim: pfn ${pfn} is still mapped by pid ${t.pid} (drv) at 0x${a.toString(16)}`,
      ] : []);
    }
  });
});

describe.each(BACKENDS)('provenance property (%s core)', (backend) => {
  it('random pin/get/unpin/put/fork/exit sequences: k.pins() is what the test holds, k.check() stays clean', async () => {
    const Op = fc.oneof(
      fc.record({ op: fc.constant('pin' as const), page: fc.nat(15), n: fc.integer({ min: 1, max: 4 }), task: fc.nat(2) }),
      fc.record({ op: fc.constant('get' as const), page: fc.nat(15), task: fc.nat(2) }),
      fc.record({ op: fc.constant('release' as const), which: fc.nat() }),
      fc.record({ op: fc.constant('fork' as const), task: fc.nat(2) }),
      fc.record({ op: fc.constant('exit' as const), task: fc.nat(2) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(Op, { maxLength: 30 }), async (ops) => {
      const k = await bootTest(backend, { memory: '16MiB', track: true });
      const tasks: { t: Task; a: number }[] = [];
      const spawn = (t: Task, a: number) => tasks.push({ t, a });
      for (let i = 0; i < 3; i++) { const t = k.spawn(); spawn(t, anon(t, 16)); }
      type Held = { kind: 'FOLL_PIN' | 'FOLL_GET'; pid: number; pa: ReturnType<Kernel['pageArray']>; n: number; leaked: boolean; pfn: number };
      const held: Held[] = [];
      for (const o of ops) {
        const live = tasks.filter((x) => !x.t.exited);
        if (o.op === 'pin' || o.op === 'get') {
          if (!live.length) continue;
          const { t, a } = live[o.task % live.length];
          const n = o.op === 'pin' ? Math.min(o.n, 16 - o.page) : 1;
          const pa = k.pageArray(n);
          const r = o.op === 'pin' ? k.pin_user_pages_fast(t, a + o.page * PAGE, n, C.FOLL_WRITE, pa) : k.get_user_pages_fast(t, a + o.page * PAGE, 1, 0, pa);
          if (r > 0) held.push({ kind: o.op === 'pin' ? 'FOLL_PIN' : 'FOLL_GET', pid: t.pid, pa, n: r, leaked: false, pfn: pa.get(0)! });
        } else if (o.op === 'release') {
          if (!held.length) continue;
          const [h] = held.splice(o.which % held.length, 1);
          if (h.kind === 'FOLL_PIN') k.unpin_user_pages(h.pa, h.n);
          else k.put_page(h.pa.get(0)!);
        } else if (o.op === 'fork') {
          if (!live.length) continue;
          const t = live[o.task % live.length];
          spawn(t.t.fork(), t.a);
        } else {
          if (!live.length) continue;
          const t = live[o.task % live.length].t;
          t.exit();
          for (const h of held) if (h.pid === t.pid) h.leaked = true;
        }
        // A put_page() cannot say whose FOLL_GET reference it drops (of a
        // page fork shares): those records are compared by page only.
        const show = (kind: string, pid: number, n: number, leaked: boolean, pfn: number) => (kind === 'FOLL_PIN' ? [kind, pid, n, leaked] : [kind, pfn]);
        const want = held.map((h) => show(h.kind, h.pid, h.n, h.leaked, h.pfn)).sort();
        expect(k.pins().map((r) => show(r.kind, r.pid, r.pages, r.leaked, r.pfns[0])).sort()).toEqual(want);
        expect(k.leaks().filter((r) => r.kind === 'FOLL_PIN').length).toBe(held.filter((h) => h.leaked && h.kind === 'FOLL_PIN').length);
        expect(k.check()).toEqual([]);
      }
    }), { numRuns: 40 });
  });
});
