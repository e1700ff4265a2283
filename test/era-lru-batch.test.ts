// The per-CPU LRU-batch reference (rule lruBatchRef, kernel-history.md
// §3.E E1, §3.J J5, §6.4): a new folio waits in the batch holding one
// reference until lru_add_drain(). 5.9-5.17 copy such a page on a write
// fault (5.18's d4c470970d45 drains the local batch first, rule
// wpDrainsLocalLru); long-term migration fails on it until J5
// (98c6d259319e, rule longtermDrainsByRefcount) drains the batches. Both cores.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, anon } from './helpers';
import type { Kernel, Task } from '../src/index';
import type { BootOptions } from '../src/boot';

const A = 0xa;
const B = 0xb;
const LW = C.FOLL_WRITE | C.FOLL_LONGTERM;
const ON = { lruBatchRef: true } as const;

const onLru = (k: Kernel, pfn: number): boolean => (k.v.flags[pfn] & C.PG_lru) !== 0;
const stat = (k: Kernel, i: number): number => k.v.stats[i];
const pins = (k: Kernel): number => (k.vmstat().nr_foll_pin_acquired ?? 0) - (k.vmstat().nr_foll_pin_released ?? 0);

// One freshly faulted anon page holding A.
function fresh(t: Task): { a: number; pfn: number } {
  const a = anon(t, 1);
  t.write(a, A);
  return { a, pfn: t.translate(a)! };
}

describe.each(BACKENDS)('the per-CPU LRU-batch reference (%s core)', (backend) => {
  const boot = (kernel: string, rules = {}, opts: BootOptions = {}) =>
    bootTest(backend, { memory: '64MiB', thp: 'never', kernel, rules, ...opts } as BootOptions);

  describe('folio_add_lru(): the batch and its drain', () => {
    it('off (every preset): a new page is on the LRU at once with the mapping\'s reference only', async () => {
      for (const kernel of ['5.5', '5.10', 'latest']) {
        const k = await boot(kernel);
        const { pfn } = fresh(k.spawn());
        expect(k.page(pfn).refcount).toBe(1);
        expect(onLru(k, pfn)).toBe(true);
      }
    });

    it('on: each new page waits off the LRU with a second reference; the 15th fills the batch and drains all 15', async () => {
      const k = await boot('5.10', ON);
      const t = k.spawn();
      const a = anon(t, C.PAGEVEC_SIZE);
      const pfns: number[] = [];
      for (let i = 0; i < C.PAGEVEC_SIZE - 1; i++) {
        t.write(a + i * PAGE, i);
        pfns.push(t.translate(a + i * PAGE)!);
      }
      for (const pfn of pfns) {
        expect(k.page(pfn).refcount).toBe(2);
        expect(onLru(k, pfn)).toBe(false);
      }
      t.write(a + (C.PAGEVEC_SIZE - 1) * PAGE, 99); // folio_batch_add() leaves no space: the batch is moved
      pfns.push(t.translate(a + (C.PAGEVEC_SIZE - 1) * PAGE)!);
      for (const pfn of pfns) {
        expect(k.page(pfn).refcount).toBe(1);
        expect(onLru(k, pfn)).toBe(true);
      }
      expect(k.check()).toEqual([]);
    });

    it('k.lru_add_drain() puts the waiting pages on the LRU and drops the batch\'s references', async () => {
      const k = await boot('5.10', ON);
      const { pfn } = fresh(k.spawn());
      k.lru_add_drain();
      expect(k.page(pfn).refcount).toBe(1);
      expect(onLru(k, pfn)).toBe(true);
    });

    it('the batch\'s reference keeps an unmapped page allocated until the drain frees it', async () => {
      const k = await boot('latest', ON);
      const t = k.spawn();
      const { a, pfn } = fresh(t);
      t.munmap(a, PAGE);
      expect(k.page(pfn).refcount).toBe(1);
      expect(k.page(pfn).mapcount).toBe(0);
      expect(k.check()).toEqual([]);
      const free = k.vmstat().nr_free_pages;
      k.lru_add_drain();
      expect(k.page(pfn).refcount).toBe(0);
      expect(k.vmstat().nr_free_pages).toBe(free + 1);
      expect(k.check()).toEqual([]);
    });
  });

  // E1: a write fault after mprotect(R) then mprotect(RW) on a page fork
  // never shared: do_wp_page() decides with the batch's reference counted.
  describe('spurious COW: do_wp_page() on a page the batch still holds', () => {
    async function wp(kernel: string, rules: object, drain: boolean) {
      const k = await boot(kernel, rules);
      const t = k.spawn();
      const { a, pfn } = fresh(t);
      t.mprotect(a, PAGE, C.PROT_READ);
      t.mprotect(a, PAGE, RW);
      if (drain) k.lru_add_drain();
      const copies = stat(k, C.COW_COPIES);
      const reuses = stat(k, C.COW_REUSES);
      t.write(a, B);
      expect(t.read(a)).toBe(B);
      expect(k.check()).toEqual([]);
      return { k, pfn, moved: t.translate(a) !== pfn, copies: stat(k, C.COW_COPIES) - copies, reuses: stat(k, C.COW_REUSES) - reuses };
    }

    it('5.10 + lruBatchRef: refcount 2 (mapping + batch) makes the write copy; the old frame waits for the drain', async () => {
      const r = await wp('5.10', ON, false);
      expect(r).toMatchObject({ moved: true, copies: 1, reuses: 0 });
      expect(r.k.page(r.pfn).refcount).toBe(1); // only the batch holds it now
      r.k.lru_add_drain();
      expect(r.k.page(r.pfn).refcount).toBe(0);
      expect(r.k.check()).toEqual([]);
    });

    it('5.10 + lruBatchRef after k.lru_add_drain(): refcount 1, reused in place', async () => {
      expect(await wp('5.10', ON, true)).toMatchObject({ moved: false, copies: 0, reuses: 1 });
    });

    it('5.10 without the switch: reused', async () => {
      expect(await wp('5.10', {}, false)).toMatchObject({ moved: false, copies: 0, reuses: 1 });
    });

    it('5.5 + lruBatchRef: the mapcount rule ignores the batch, reused', async () => {
      expect(await wp('5.5', ON, false)).toMatchObject({ moved: false, copies: 0 });
    });

    it('latest + lruBatchRef: PG_anon_exclusive reuses whatever the refcount', async () => {
      const r = await wp('latest', ON, false);
      expect(r).toMatchObject({ moved: false, copies: 0 });
      expect(r.k.page(r.pfn).refcount).toBe(2);
    });

    it('5.18 + lruBatchRef: do_wp_page() drains the local batch first (d4c470970d45), reused', async () => {
      const r = await wp('5.18', ON, false);
      expect(r).toMatchObject({ moved: false, copies: 0, reuses: 1 });
      expect(r.k.page(r.pfn).refcount).toBe(1);
      expect(onLru(r.k, r.pfn)).toBe(true);
    });

    it('bisect: 5.18 without wpDrainsLocalLru copies; 5.10 with it reuses', async () => {
      expect(await wp('5.18', { ...ON, wpDrainsLocalLru: false }, false)).toMatchObject({ moved: true, copies: 1, reuses: 0 });
      expect(await wp('5.10', { ...ON, wpDrainsLocalLru: true }, false)).toMatchObject({ moved: false, copies: 0, reuses: 1 });
    });

    it('bisect: latest with cowReuse \'refcount\' and without the local drain copies like 5.10', async () => {
      expect(await wp('latest', { ...ON, cowReuse: 'refcount', wpDrainsLocalLru: false }, false)).toMatchObject({ moved: true, copies: 1 });
    });
  });

  // J5: a long-term pin of a CMA page still in the batch.
  describe('spurious long-term migration failure on a page the batch holds', () => {
    const cmaStart = (k: Kernel): number => (k.layout.ram - k.layout.movable - k.layout.cma) / PAGE;

    async function ltPin(kernel: string, rules: object, drain = false) {
      const k = await boot(kernel, rules, { cma: '32MiB' });
      const t = k.spawn();
      const { a, pfn } = fresh(t);
      expect(pfn).toBeGreaterThanOrEqual(cmaStart(k));
      if (drain) k.lru_add_drain();
      const fail = k.vmstat().pgmigrate_fail;
      const pa = k.pageArray(1);
      const ret = k.pin_user_pages(t, a, 1, LW, pa);
      const got = pa.get(0);
      expect(t.read(a)).toBe(A);
      expect(k.check()).toEqual([]);
      return {
        k, pfn, ret, migrated: ret === 1 && got !== pfn && got! < cmaStart(k), pinnedInCma: ret === 1 && got === pfn,
        failed: k.vmstat().pgmigrate_fail - fail, pins: pins(k),
      };
    }

    it('5.18 + lruBatchRef: the batch\'s reference fails migration, -ENOMEM, nothing held', async () => {
      const r = await ltPin('5.18', ON);
      expect(r).toMatchObject({ ret: -C.ENOMEM, failed: 1, pins: 0 });
      expect(onLru(r.k, r.pfn)).toBe(false); // back where it was: in the batch, off the LRU
      expect(r.k.page(r.pfn).refcount).toBe(2);
    });

    it('5.18 + lruBatchRef after k.lru_add_drain(): migrated out of CMA', async () => {
      expect(await ltPin('5.18', ON, true)).toMatchObject({ ret: 1, migrated: true, failed: 0, pins: 1 });
    });

    it('5.18 without the switch: migrated', async () => {
      expect(await ltPin('5.18', {})).toMatchObject({ ret: 1, migrated: true, failed: 0 });
    });

    it('5.10 + lruBatchRef: the failure pins the page in place in CMA (before 5.13)', async () => {
      expect(await ltPin('5.10', ON)).toMatchObject({ ret: 1, pinnedInCma: true, failed: 1, pins: 1 });
    });

    it('latest + lruBatchRef: J5 drains the batch first, migrated', async () => {
      expect(await ltPin('latest', ON)).toMatchObject({ ret: 1, migrated: true, failed: 0, pins: 1 });
    });

    it('bisect: 5.18 + J5 migrates; latest without J5 fails -ENOMEM', async () => {
      expect(await ltPin('5.18', { ...ON, longtermDrainsByRefcount: true })).toMatchObject({ ret: 1, migrated: true });
      expect(await ltPin('latest', { ...ON, longtermDrainsByRefcount: false })).toMatchObject({ ret: -C.ENOMEM, failed: 1, pins: 0 });
    });

    it('cma_alloc() drains the batches first (lru_cache_disable()): the batched page moves', async () => {
      const k = await boot('5.18', ON, { cma: '32MiB' });
      const lo = cmaStart(k);
      const t = k.spawn();
      const { a } = fresh(t);
      const hi = (k.layout.ram - k.layout.movable) / PAGE;
      expect(k.cma_alloc(hi - lo)).toBe(lo);
      expect(t.translate(a)!).toBeLessThan(lo);
      expect(t.read(a)).toBe(A);
      expect(k.check()).toEqual([]);
    });
  });
});
