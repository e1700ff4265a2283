// The README's "Write your own device model" example (examples/capture-device.ts):
// it charges locked_vm, refuses over RLIMIT_MEMLOCK, writes frames on the
// clock, releases on close and exit, and shows the stale-buffer hazard.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Capture } from '../examples/capture-device';
import type { Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode } from './helpers';

const PERIOD = 1_000_000; // 1 ms

describe.each(BACKENDS)('example capture device (%s core)', (backend) => {
  it('pins FOLL_WRITE|FOLL_LONGTERM and charges mm->locked_vm as the device; lists its pin', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const cam = new Capture(k, t, a, 4, PERIOD);
    expect(t.fds.get(cam.fd)).toBe(cam);
    expect(t.status().VmLck).toBe(16);
    expect(t.mm.pinned_vm).toBe(0);
    expect(cam.charges()).toEqual([expect.objectContaining({ counter: 'mm.locked_vm', pages: 4, pid: t.pid, device: 'video0' })]);
    expect(cam.pins()).toEqual([{ device: 'video0', object: 'buffer 0', pid: t.pid, addr: a, length: 4 * PAGE, pages: 4, gup_flags: C.FOLL_WRITE | C.FOLL_LONGTERM }]);
    for (let i = 0; i < 4; i++) expect(k.folio_maybe_dma_pinned(t.translate(a + i * PAGE)!)).toBe(true);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(4);
  });

  it('over RLIMIT_MEMLOCK: ENOMEM, nothing pinned, charged or registered; CAP_IPC_LOCK passes', async () => {
    const k = await bootTest(backend, { memlock: '16KiB' });
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    expectCode(k, () => new Capture(k, t, a, 5, PERIOD), 'ENOMEM');
    expect(t.mm.locked_vm).toBe(0);
    expect(k.devices()).toEqual([]);
    expect(k.memlockLedger()).toEqual([]);
    expect(k.pending()).toEqual([]);
    expect(new Capture(k, t, a, 4, PERIOD).frames).toBe(0); // exactly at the limit passes
    const root = k.spawn({ caps: ['CAP_IPC_LOCK'] });
    const b = anon(root, 8);
    const cam = new Capture(k, root, b, 8, PERIOD);
    expect(root.mm.locked_vm).toBe(8); // charged, not checked
    expect(cam.name).toBe('video0-2');
    expectCode(k, () => new Capture(k, root, 0x1000, 1, PERIOD), 'EFAULT'); // nothing mapped there: unwound
    expect(root.mm.locked_vm).toBe(8);
    expect(k.devices().map((d) => d.name)).toEqual(['video0', 'video0-2']);
  });

  it('frames arrive on the clock by DMA into the pinned pages, one per period, round the buffer', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    const cam = new Capture(k, t, a, 3, PERIOD);
    expect(k.advance(PERIOD - 1)).toBe(0);
    expect(cam.frames).toBe(0);
    expect(k.advance(1)).toBe(1);
    expect(t.read(a)).toBe(1);
    k.advance(3 * PERIOD);
    expect(cam.frames).toBe(4);
    expect([t.read(a), t.read(a + PAGE), t.read(a + 2 * PAGE)]).toEqual([4, 2, 3]);
    expect(k.pending()).toEqual([{ at: 5 * PERIOD, what: 'video0: frame' }]);
  });

  it('the last close stops the clock, unpins dirty and uncharges; so does exit, into an mm whose task is gone', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const cam = new Capture(k, t, a, 2, PERIOD);
    k.advance(PERIOD);
    t.close(cam.fd);
    expect(cam.closed).toBe(true);
    expect(cam.pins()).toEqual([]);
    expect(t.mm.locked_vm).toBe(0);
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    expect(k.vmstat().nr_foll_pin_released).toBe(2);
    expect(k.pending()).toEqual([]);
    k.advance(10 * PERIOD);
    expect(cam.frames).toBe(1);

    const free = k.meminfo().MemFree;
    const p = k.spawn();
    const b = anon(p, 2);
    const cam2 = new Capture(k, p, b, 2, PERIOD);
    const child = p.fork(); // shares the fd
    p.exit();
    expect(cam2.closed).toBe(false);
    expect(p.mm.locked_vm).toBe(2); // still charged to the dead mm
    k.advance(2 * PERIOD);
    expect(cam2.frames).toBe(2);
    child.exit();
    expect(cam2.closed).toBe(true);
    expect(p.mm.locked_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(k.meminfo().MemFree).toBe(free);
  });

  it('the stale-buffer hazard: after munmap the frames still land in the pinned pages, which the process no longer sees', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 0xaaaa);
    const pinned = t.translate(a)!;
    const cam = new Capture(k, t, a, 1, PERIOD);
    t.munmap(a, PAGE);
    const b = t.mmap({ addr: a, length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED });
    k.advance(3 * PERIOD);
    expect(cam.frames).toBe(3);
    expect(k.dma_read(pinned)).toBe(3); // the device wrote its frames…
    expect(t.read(b)).toBe(0); // …where the process no longer looks
    expect(t.translate(b)).not.toBe(pinned);
    expect(k.page(pinned)).toMatchObject({ refcount: 1 + C.GUP_PIN_COUNTING_BIAS - 1, mapcount: 0 });
    t.close(cam.fd);
    expect(k.page(pinned).refcount).toBe(0); // freed by the unpin
  });
});

// Random opens, closes, forks, exits and clock ticks: locked_vm of every mm
// (exited ones too) equals the ledger's device charges and the pages of the
// live devices charged to it, and pins balance against them.
type Step = { op: 'open'; task: number; pages: number } | { op: 'close' | 'exit' | 'fork'; pick: number } | { op: 'tick' };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('open' as const), task: fc.nat(3), pages: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constantFrom('close' as const, 'exit' as const, 'fork' as const), pick: fc.nat(7) }),
  fc.constant({ op: 'tick' as const }),
);

function checkBalance(k: Kernel, mms: Task[], cams: Capture[]): void {
  const live = cams.filter((c) => !c.closed);
  for (const t of mms) {
    const held = live.filter((c) => c.task === t).reduce((n, c) => n + c.pins()[0]!.pages, 0);
    expect(t.mm.locked_vm).toBe(held);
    expect(k.memlockLedger().filter((c) => c.pid === t.pid).reduce((n, c) => n + c.pages, 0)).toBe(held);
  }
  const v = k.vmstat();
  expect(v.nr_foll_pin_acquired - v.nr_foll_pin_released).toBe(live.reduce((n, c) => n + c.pins()[0]!.pages, 0));
}

describe.each(BACKENDS)('example capture device: property (%s core)', (backend) => {
  it('counters = ledger = live devices, pins balanced, through opens, closes, forks, exits and ticks', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { maxLength: 30 }), async (steps) => {
      const k = await bootTest(backend, { memlock: '64KiB' });
      const mms: Task[] = [];
      const cams: Capture[] = [];
      for (const s of steps) {
        const alive = k.tasks;
        switch (s.op) {
          case 'open': {
            const t = alive[s.task % Math.max(1, alive.length)] ?? k.spawn();
            if (!mms.includes(t)) mms.push(t);
            try { cams.push(new Capture(k, t, anon(t, s.pages), s.pages, 1000)); } catch (e) { expect((e as { code?: string }).code).toBe('ENOMEM'); }
            break;
          }
          case 'close': {
            const c = cams[s.pick % Math.max(1, cams.length)];
            const holder = c && alive.find((t) => t.fds.get(c.fd) === c);
            if (holder) holder.close(c.fd);
            break;
          }
          case 'exit': alive[s.pick % Math.max(1, alive.length)]?.exit(); break;
          case 'fork': alive[s.pick % Math.max(1, alive.length)]?.fork(); break;
          case 'tick': k.advance(1000); break;
        }
        checkBalance(k, mms, cams);
      }
      for (const t of [...k.tasks]) t.exit();
      checkBalance(k, mms, cams);
      expect(k.devices()).toEqual([]);
    }), { numRuns: 30 });
  });
});
