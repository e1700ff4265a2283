// PageArray: the `struct page *pages[]` of GUP calls, living in the core's
// arena; subarray() is `pages + i`.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, anon, C, PAGE } from './helpers';

describe.each(BACKENDS)('PageArray (%s core)', (backend) => {
  it('starts all NULL and is filled by the core', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const pa = k.pageArray(6);
    expect(pa.toArray()).toEqual([null, null, null, null, null, null]);
    expect(k.pin_user_pages_fast(t, a, 4, C.FOLL_WRITE, pa)).toBe(4);
    expect(pa.toArray().slice(0, 4)).toEqual([0, 1, 2, 3].map((i) => t.translate(a + i * PAGE)));
    expect(pa.get(4)).toBe(null);
    k.unpin_user_pages(pa, 4);
  });

  it('subarray(i) is pages + i: GUP fills it, the parent sees it, one unpin over the parent releases all', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    const pa = k.pageArray(8);
    for (let i = 0; i < 8; i += 2) expect(k.pin_user_pages_fast(t, a + i * PAGE, 2, C.FOLL_WRITE, pa.subarray(i, i + 2))).toBe(2);
    expect(pa.toArray()).toEqual([...Array(8).keys()].map((i) => t.translate(a + i * PAGE)));
    expect(k.vmstat().nr_foll_pin_acquired).toBe(8);
    k.unpin_user_pages(pa, 8);
    expect(k.vmstat().nr_foll_pin_released).toBe(8);
    expect(k.folio_maybe_dma_pinned(pa.get(0)!)).toBe(false);
  });

  it('a view cannot be freed on its own and dies with its parent', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const pa = k.pageArray(4);
    const view = pa.subarray(1, 3);
    expect(view.length).toBe(2);
    expect(() => view.free()).toThrow(/taken from/);
    expect(() => pa.subarray(3, 5)).toThrow(RangeError);
    pa.free();
    expect(view.freed).toBe(true);
    expect(() => view.get(0)).toThrow(/after free/);
    expect(() => k.pin_user_pages_fast(t, 0x10000, 1, 0, view)).toThrow(TypeError);
  });

  it('freed arrays give their entries back (adjacent free ranges coalesce)', async () => {
    const k = await bootTest(backend);
    const size = k.v.pages.length;
    const a = k.pageArray(size / 4);
    const b = k.pageArray(size / 4);
    const c = k.pageArray(size / 2);
    expect(() => k.pageArray(1)).toThrow(RangeError);
    b.free();
    a.free();
    const whole = k.pageArray(size / 2); // a + b, coalesced
    expect(whole.offset).toBe(0);
    whole.free();
    c.free();
    expect(k.pageArray(size).length).toBe(size);
  });

  it('an array of another machine is refused', async () => {
    const k = await bootTest(backend);
    const other = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const before = k.digest();
    expect(() => k.pin_user_pages_fast(t, a, 1, 0, other.pageArray(1))).toThrow(TypeError);
    expect(k.digest()).toBe(before);
  });
});
