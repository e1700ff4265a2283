// Provenance's whole-call release (Tracker.releaseCall): a record is
// consumed without comparing its pfns only while its PageArray slot is
// untouched; after a write through the pfns view, a second GUP call into
// the same array or free(), the records are matched by their pfns.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, anon, C, PAGE } from './helpers';

const W = C.FOLL_WRITE;

describe.each(BACKENDS)('provenance: whole-call releases (%s core)', (backend) => {
  it('an entry rewritten through pfns: the unpin is matched page by page, not by the slot', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn();
    const a = anon(t, 3);
    t.touch(a, 3 * PAGE, { write: true });
    const pa = k.pageArray(2);
    const pb = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 2, W, pa)).toBe(2);
    expect(k.pin_user_pages_fast(t, a + 2 * PAGE, 1, W, pb)).toBe(1);
    const [pA, pB] = [pa.get(0)!, pa.get(1)!];
    const pC = pb.get(0)!;
    pa.pfns[1] = pC; // the caller's bug: the array now says A, C
    k.unpin_user_pages(pa, 2);
    const live = k.pins();
    expect(live.map((r) => [r.api, r.pfns])).toEqual([['pin_user_pages_fast', [pB]]]);
    expect(live[0].pages).toBe(1);
    expect(k.pinners(pA)).toEqual([]);
    expect(k.pinners(pC)).toEqual([]);
  });

  it('a second GUP call into part of a live array: the unpin is matched page by page (the first call leaks a page)', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn();
    const a = anon(t, 3);
    t.touch(a, 3 * PAGE, { write: true });
    const pa = k.pageArray(2);
    k.withCaller('first', () => k.pin_user_pages_fast(t, a, 2, W, pa));
    const [p0, p1] = [pa.get(0), pa.get(1)];
    k.withCaller('second', () => k.pin_user_pages_fast(t, a + 2 * PAGE, 1, W, pa.subarray(1)));
    k.unpin_user_pages(pa, 2); // p0 and the second call's page
    expect(k.pins().map((r) => [r.caller, r.pfns])).toEqual([['first', [p1]]]);
    expect(k.pinners(p0!)).toEqual([]);
  });

  it('the same pfns pinned twice into two arrays: each unpin consumes one record, either order', async () => {
    const k = await bootTest(backend, { track: true });
    const t = k.spawn();
    const a = anon(t, 2);
    t.touch(a, 2 * PAGE, { write: true });
    const [p1, p2] = [k.pageArray(2), k.pageArray(2)];
    k.withCaller('one', () => k.pin_user_pages_fast(t, a, 2, W, p1));
    k.withCaller('two', () => k.pin_user_pages_fast(t, a, 2, W, p2));
    k.unpin_user_pages(p2, 2);
    expect(k.pins().map((r) => r.caller)).toEqual(['one']);
    p1.free();
    const p3 = k.pageArray(2); // may reuse p1's arena slot
    expect(k.pin_user_pages_fast(t, a, 2, W, p3)).toBe(2);
    k.unpin_user_pages(p3, 2);
    expect(k.pins().map((r) => r.caller)).toEqual(['one']);
    expect(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released).toBe(2);
  });
});
