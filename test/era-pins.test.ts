// Kernel eras, pin accounting: no pin API before 5.6 (ENOSYS), pins that
// are plain references in 5.6, the bias, _pincount by order and the vmstat
// counters from 5.7, and the zero page counted by pins until 6.4 (S13).
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import { gupTestIoctl } from '../src/gup-test/ioctl';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode, codeOf } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const BIAS = C.GUP_PIN_COUNTING_BIAS;

function written(k: Kernel, pages: number): { t: Task; a: number } {
  const t = k.spawn();
  const a = anon(t, pages);
  t.touch(a, pages * PAGE, { write: true });
  return { t, a };
}

// A PMD THP, written: its head pfn.
function thp(k: Kernel): { t: Task; a: number; head: number } {
  const t = k.spawn();
  const raw = anon(t, 1024);
  const a = Math.ceil(raw / HPAGE) * HPAGE;
  t.touch(a, HPAGE, { write: true });
  const head = k.page(t.translate(a)!).head;
  expect(k.page(head).order).toBe(C.HPAGE_PMD_ORDER);
  return { t, a, head };
}

const stat = (k: Kernel, name: string): number | undefined => k.vmstat()[name];

describe.each(BACKENDS)('kernel eras: the pin API (%s core)', (backend) => {
  it('5.5 has no pin_*() / unpin_*(): ENOSYS naming the commit, nothing touched; GUP and put_user_page*() work', async () => {
    const k = await bootTest(backend, { kernel: '5.5' });
    const { t, a } = written(k, 2);
    const pa = k.pageArray(2);
    const pfn = t.translate(a)!;
    expectCode(k, () => k.pin_user_pages_fast(t, a, 1, 0, pa), 'ENOSYS');
    expectCode(k, () => k.pin_user_pages(t, a, 1, 0, pa), 'ENOSYS');
    expectCode(k, () => k.pin_user_pages_remote(t.mm, a, 1, 0, pa), 'ENOSYS');
    expectCode(k, () => k.pin_user_pages_unlocked(t, a, 1, pa, 0), 'ENOSYS');
    expectCode(k, () => k.pin_longterm_pages(t, a, 1, 0, pa), 'ENOSYS');
    expectCode(k, () => k.unpin_user_page(pfn), 'ENOSYS');
    expectCode(k, () => k.unpin_user_pages(pa, 1), 'ENOSYS');
    expectCode(k, () => k.unpin_user_pages_dirty_lock(pa, 1, true), 'ENOSYS');
    expectCode(k, () => k.unpin_user_page_range_dirty_lock(pfn, 1, true), 'ENOSYS');
    let msg = '';
    try { k.pin_user_pages_fast(t, a, 1, 0, pa); } catch (e) { msg = (e as Error).message; }
    expect(msg).toContain('pin_user_pages_fast() does not exist in kernel 5.5: added in 5.6 by eddb1c228f79 (use get_user_pages_fast())');
    // GET works; the 5.3-5.5 put_user_page*() placeholders are put_page().
    const rc = k.page(pfn).refcount;
    expect(k.get_user_pages_fast(t, a, 2, 0, pa)).toBe(2);
    expect(k.page(pfn).refcount).toBe(rc + 1);
    k.put_user_pages_dirty_lock(pa, 2, true);
    expect(k.page(pfn).refcount).toBe(rc);
    expect(k.vmstat()).not.toHaveProperty('nr_foll_pin_acquired');
    expect(k.procVmstat()).not.toContain('nr_foll_pin');
    expect(k.check()).toEqual([]);
  });

  it('5.5: gup_test PIN commands are unknown ioctls (EINVAL), GUP ones run', async () => {
    const k = await bootTest(backend, { kernel: '5.5' });
    const { t, a } = written(k, 4);
    const args = { addr: a, size: 4 * PAGE, nrPagesPerCall: 4, gupFlags: 0, testFlags: 0, whichPages: [] };
    expect(codeOf(() => gupTestIoctl(k, t, 'PIN_BASIC_TEST', args))).toBe('EINVAL');
    expect(gupTestIoctl(k, t, 'GUP_BASIC_TEST', args).nrPages).toBe(4);
  });

  it('rules.pinApi flips only the API: latest without it refuses, 5.5 with it pins (as 5.6 would: +1)', async () => {
    const off = await bootTest(backend, { rules: { pinApi: false } });
    const w = written(off, 1);
    expectCode(off, () => off.pin_user_pages_fast(w.t, w.a, 1, 0, off.pageArray(1)), 'ENOSYS');
    const on = await bootTest(backend, { kernel: '5.5', rules: { pinApi: true } });
    const v = written(on, 1);
    const pfn = v.t.translate(v.a)!;
    const rc = on.page(pfn).refcount;
    expect(on.pin_user_pages_fast(v.t, v.a, 1, 0, on.pageArray(1))).toBe(1);
    expect(on.page(pfn).refcount).toBe(rc + 1);
  });

  it('pinning on 5.5 with tracking on: the ENOSYS passes through, the records stay clean', async () => {
    const k = await bootTest(backend, { kernel: '5.5', track: true });
    const { t, a } = written(k, 1);
    expect(codeOf(() => k.pin_user_pages(t, a, 1, 0, k.pageArray(1)))).toBe('ENOSYS');
    expect(k.pins()).toEqual([]);
    expect(k.check()).toEqual([]);
  });
});

describe.each(BACKENDS)('kernel eras: pin accounting, 5.6 vs 5.7 (%s core)', (backend) => {
  it('a small page: +1 and no counters on 5.6 (not maybe-pinned); +1024 and vmstat +1 on 5.7', async () => {
    for (const [kernel, add, counted] of [['5.6', 1, false], ['5.7', BIAS, true], ['latest', BIAS, true]] as const) {
      const k = await bootTest(backend, { kernel, track: true });
      const { t, a } = written(k, 1);
      const pfn = t.translate(a)!;
      const rc = k.page(pfn).refcount;
      const pa = k.pageArray(1);
      expect(k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
      expect(k.page(pfn).refcount, kernel).toBe(rc + add);
      expect(k.folio_maybe_dma_pinned(pfn), kernel).toBe(counted);
      expect(stat(k, 'nr_foll_pin_acquired'), kernel).toBe(counted ? 1 : undefined);
      expect(k.check(), kernel).toEqual([]);
      k.unpin_user_pages_dirty_lock(pa, 1, true);
      expect(k.page(pfn).refcount, kernel).toBe(rc);
      expect(stat(k, 'nr_foll_pin_released'), kernel).toBe(counted ? 1 : undefined);
      expect(k.check(), kernel).toEqual([]);
    }
  });

  it('5.6 with tracking: unpin_user_page() of a FOLL_GET page is a put_page() (no underflow), explained as such', async () => {
    const k = await bootTest(backend, { kernel: '5.6', track: true });
    const { t, a } = written(k, 1);
    const pfn = t.translate(a)!;
    const rc = k.page(pfn).refcount;
    expect(k.get_user_pages(t, a, 1, 0, k.pageArray(1))).toBe(1);
    k.unpin_user_page(pfn);
    expect(k.page(pfn).refcount).toBe(rc);
    expect(k.dmesg().join('\n')).toContain(`_refcount ${rc + 1} - 1 = ${rc} (in 5.6 an unpin is put_page())`);
    expect(k.dmesg().join('\n')).not.toContain('WARNING');
  });

  it('512 subpages of a PMD THP: head +512 on both; _pincount +512 and vmstat +512 on 5.7 only', async () => {
    for (const [kernel, pincount, counted] of [['5.6', 0, undefined], ['5.7', 512, 512], ['5.10', 512, 512]] as const) {
      const k = await bootTest(backend, { kernel, memory: '128MiB' });
      const { t, a, head } = thp(k);
      const rc = k.page(head).refcount;
      const pa = k.pageArray(512);
      expect(k.pin_user_pages(t, a, 512, C.FOLL_WRITE, pa)).toBe(512);
      expect(k.page(head).refcount, kernel).toBe(rc + 512);
      expect(k.page(head).pincount, kernel).toBe(pincount);
      expect(stat(k, 'nr_foll_pin_acquired'), kernel).toBe(counted);
      expect(k.check(), kernel).toEqual([]);
      k.unpin_user_pages(pa, 512);
      expect(k.page(head).refcount, kernel).toBe(rc);
      expect(k.page(head).pincount, kernel).toBe(0);
    }
  });

  it('rules.pinBias 1 on 5.7 makes a pin +1 again (5.6 semantics), nothing else', async () => {
    const k = await bootTest(backend, { kernel: '5.7', rules: { pinBias: 1 } });
    const { t, a } = written(k, 1);
    const pfn = t.translate(a)!;
    const rc = k.page(pfn).refcount;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(k.page(pfn).refcount).toBe(rc + 1);
    expect(stat(k, 'nr_foll_pin_acquired')).toBe(0); // counters exist (pinVmstat), a GET counts nothing
    k.unpin_user_page(pfn);
    expect(k.page(pfn).refcount).toBe(rc);
  });

  it('rules.pinVmstat false: pins still count in refcounts, /proc/vmstat has no nr_foll_pin_* lines', async () => {
    const k = await bootTest(backend, { rules: { pinVmstat: false } });
    const { t, a } = written(k, 1);
    const pfn = t.translate(a)!;
    const rc = k.page(pfn).refcount;
    expect(k.pin_user_pages_fast(t, a, 1, 0, k.pageArray(1))).toBe(1);
    expect(k.page(pfn).refcount).toBe(rc + BIAS);
    expect(k.vmstat()).not.toHaveProperty('nr_foll_pin_acquired');
    expect(k.v.stats[C.NR_FOLL_PIN_ACQUIRED]).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it('rules.exactPincount none: a THP counts its pins with the bias on the head (the order-1 rule of 5.7-5.17)', async () => {
    const k = await bootTest(backend, { memory: '128MiB', rules: { exactPincount: 'none' } });
    const { t, a, head } = thp(k);
    const rc = k.page(head).refcount;
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, 0, pa)).toBe(2);
    expect(k.page(head).refcount).toBe(rc + 2 * BIAS);
    expect(k.page(head).pincount).toBe(0);
    expect(k.folio_maybe_dma_pinned(head + 7)).toBe(true);
    expect(k.check()).toEqual([]);
    k.unpin_user_pages(pa, 2);
    expect(k.page(head).refcount).toBe(rc);
    expect(k.folio_maybe_dma_pinned(head)).toBe(false);
    expect(k.check()).toEqual([]);
  });
});

describe.each(BACKENDS)('kernel eras: S13, pins of the zero page (%s core)', (backend) => {
  // A R/O private anon mapping read-faulted: every page maps the zero page.
  async function pinZero(kernel: '6.4' | 'latest', rules = {}) {
    const k = await bootTest(backend, { kernel, rules, track: true });
    const t = k.spawn();
    const a = anon(t, 3, C.PROT_READ);
    t.touch(a, 3 * PAGE);
    expect(t.translate(a + 2 * PAGE)).toBe(0);
    const rc = k.page(0).refcount;
    const acq = k.vmstat().nr_foll_pin_acquired;
    const pa = k.pageArray(3);
    expect(k.pin_user_pages_fast(t, a, 3, 0, pa)).toBe(3); // the fast walk leaves special PTEs to the slow path
    return { k, pa, rc, acq, added: k.page(0).refcount - rc, counted: k.vmstat().nr_foll_pin_acquired - acq };
  }

  it('6.4: refcount +1024 per pin and vmstat +N; latest: no change; unpin restores both', async () => {
    const old = await pinZero('6.4');
    expect([old.added, old.counted]).toEqual([3 * BIAS, 3]);
    expect(old.k.folio_maybe_dma_pinned(0)).toBe(true);
    expect(old.k.check()).toEqual([]);
    old.k.unpin_user_pages(old.pa, 3);
    expect(old.k.page(0).refcount).toBe(old.rc);
    expect(old.k.vmstat().nr_foll_pin_released).toBe(3);
    expect(old.k.check()).toEqual([]);
    const now = await pinZero('latest');
    expect([now.added, now.counted]).toEqual([0, 0]);
    now.k.unpin_user_pages(now.pa, 3);
    expect(now.k.page(0).refcount).toBe(now.rc);
    expect(now.k.check()).toEqual([]);
  });

  it('rules.zeroPagePinCounted flips exactly that: latest counts, 6.4 does not', async () => {
    expect((await pinZero('latest', { zeroPagePinCounted: true })).added).toBe(3 * BIAS);
    expect((await pinZero('6.4', { zeroPagePinCounted: false })).added).toBe(0);
  });

  it('an unpin of the zero page that holds no pin is refused on 6.4 (WARN), as any other page', async () => {
    const { k, pa, rc } = await pinZero('6.4');
    k.unpin_user_pages(pa, 3);
    k.unpin_user_page(0);
    expect(k.page(0).refcount).toBe(rc);
    expect(k.dmesg().some((l) => l.includes('gup_put_folio'))).toBe(true);
  });

  it('the huge zero folio is pin-counted in every era', async () => {
    for (const kernel of ['5.10', '6.4', 'latest'] as const) {
      const k = await bootTest(backend, { kernel, memory: '128MiB' });
      const t = k.spawn();
      const raw = anon(t, 1024, C.PROT_READ);
      const a = Math.ceil(raw / HPAGE) * HPAGE;
      t.read(a);
      const head = k.page(t.translate(a)!).head;
      expect(k.page(head).order, kernel).toBe(C.HPAGE_PMD_ORDER);
      const pc = k.page(head).pincount;
      expect(k.pin_user_pages(t, a, 1, 0, k.pageArray(1))).toBe(1);
      expect(k.page(head).pincount, kernel).toBe(pc + 1);
    }
  });
});
