// Long-term pins era by era (kernel-history.md §4.3, §6.2, §6.3 S7, S8,
// S10, S11): where a FOLL_LONGTERM page may stay (CMA via GUP-fast,
// ZONE_MOVABLE, MIGRATE_ISOLATE), what a failed migration returns (pinned
// anyway, an error, an error that leaks the pins), FOLL_GET|FOLL_LONGTERM,
// and PIN|LONGTERM|WRITE on a file that writes back. Both cores.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, anon } from './helpers';
import type { Kernel, Task } from '../src/index';
import type { BootOptions } from '../src/boot';

const { FOLL_WRITE, FOLL_LONGTERM } = C;
const LW = FOLL_WRITE | FOLL_LONGTERM;
const SECTION = C.PAGES_PER_SECTION;

const cmaStart = (k: Kernel): number => (k.layout.ram - k.layout.movable - k.layout.cma) / PAGE;
const movableStart = (k: Kernel): number => (k.layout.ram - k.layout.movable) / PAGE;
// Live pins by vmstat; before 5.7 there are no such lines (and no pins to count).
const pins = (k: Kernel): number => (k.vmstat().nr_foll_pin_acquired ?? 0) - (k.vmstat().nr_foll_pin_released ?? 0);

// n anon pages written with 100 + i.
function filled(t: Task, n: number): number {
  const a = anon(t, n);
  for (let i = 0; i < n; i++) t.write(a + i * PAGE, 100 + i);
  return a;
}

describe.each(BACKENDS)('long-term pins by era (%s core)', (backend) => {
  // Half the memory is CMA; the first anon pages land there.
  const cmaBoot = async (opts: BootOptions) => {
    const k = await bootTest(backend, { memory: '64MiB', cma: '32MiB', thp: 'never', ...opts });
    const t = k.spawn();
    return { k, t, lo: cmaStart(k), hi: movableStart(k) };
  };

  describe('S7: a CMA page pinned long-term through GUP-fast, then cma_alloc() of the area', () => {
    it('5.5: get_user_pages_fast(FOLL_LONGTERM) pins it in place, cma_alloc() is -EBUSY', async () => {
      const { k, t, lo, hi } = await cmaBoot({ kernel: '5.5' });
      const a = filled(t, 4);
      const pfn = t.translate(a)!;
      expect(pfn).toBeGreaterThanOrEqual(lo);
      const pa = k.pageArray(1);
      expect(k.get_user_pages_fast(t, a, 1, LW, pa)).toBe(1);
      expect(pa.get(0)).toBe(pfn); // still in CMA
      expect(k.page(pfn).refcount).toBe(2);
      expect(k.cma_alloc(hi - lo)).toBe(-C.EBUSY);
      k.put_page(pfn);
      expect(k.cma_alloc(hi - lo)).toBe(lo);
    });

    it('5.8: pin_user_pages_fast(FOLL_LONGTERM) falls back and migrates, cma_alloc() succeeds', async () => {
      const { k, t, lo, hi } = await cmaBoot({ kernel: '5.8' });
      const a = filled(t, 4);
      expect(t.translate(a)!).toBeGreaterThanOrEqual(lo);
      const pa = k.pageArray(1);
      expect(k.pin_user_pages_fast(t, a, 1, LW, pa)).toBe(1);
      expect(pa.get(0)!).toBeLessThan(lo);
      expect(t.translate(a)).toBe(pa.get(0));
      expect(t.read(a)).toBe(100);
      expect(k.cma_alloc(hi - lo)).toBe(lo);
      k.unpin_user_pages(pa, 1);
    });

    it('5.8-6.2: get_user_pages_fast(FOLL_LONGTERM) still pins a CMA page in place (refused only for FOLL_PIN)', async () => {
      for (const kernel of ['5.8', '5.10', '5.18'] as const) {
        const { k, t, lo } = await cmaBoot({ kernel });
        const a = filled(t, 1);
        const pfn = t.translate(a)!;
        expect(pfn).toBeGreaterThanOrEqual(lo);
        const pa = k.pageArray(1);
        expect(k.get_user_pages_fast(t, a, 1, LW, pa)).toBe(1);
        expect(pa.get(0)).toBe(pfn);
      }
    });

    // 5.7 without df3a0a21b698. (On 5.6 a pin is a plain reference down to
    // the core, so the FOLL_PIN-only check has nothing to see there.)
    it('bisect: 5.7 without gupFastLongtermCma "pin" pins the CMA page in place on the fast path', async () => {
      for (const [rules, inPlace] of [[{ gupFastLongtermCma: 'none' }, true], [{}, false]] as const) {
        const { k, t, lo } = await cmaBoot({ kernel: '5.7', rules });
        const a = filled(t, 1);
        const pfn = t.translate(a)!;
        expect(pfn).toBeGreaterThanOrEqual(lo);
        const pa = k.pageArray(1);
        expect(k.pin_user_pages_fast(t, a, 1, LW, pa)).toBe(1);
        expect(pa.get(0) === pfn).toBe(inPlace); // else the slow path migrated it
      }
    });
  });

  describe('S8: a long-term pin in ZONE_MOVABLE, then offline_pages() of its block', () => {
    const hot = (kernel: '5.10' | '5.18', rules = {}) =>
      bootTest(backend, { memory: '512MiB', movable: '256MiB', thp: 'never', kernel, rules });

    for (const [kernel, rules, busy] of [
      ['5.10', {}, true], ['5.18', {}, false], ['5.10', { longtermMigratesMovable: true }, false],
      ['5.18', { longtermMigratesMovable: false }, true],
    ] as const) {
      it(`${kernel} ${JSON.stringify(rules)}: ${busy ? 'pinned in place, -EBUSY' : 'migrated at pin time, offline succeeds'}`, async () => {
        const k = await hot(kernel, rules);
        const t = k.spawn();
        const ms = movableStart(k);
        const a = filled(t, 8);
        const pfn = t.translate(a)!;
        expect(pfn).toBeGreaterThanOrEqual(ms);
        const sec = Math.floor(pfn / SECTION) * SECTION;
        const pa = k.pageArray(1);
        expect(k.pin_user_pages(t, a, 1, LW, pa)).toBe(1);
        expect(k.folio_is_longterm_pinnable(pfn)).toBe(busy);
        expect(pa.get(0) === pfn).toBe(busy);
        expect(pa.get(0)! >= ms).toBe(busy);
        expect(k.offline_pages(sec, SECTION)).toBe(busy ? -C.EBUSY : 0);
        expect(t.read(a)).toBe(100);
        k.unpin_user_pages(pa, 1);
      });
    }

    it('the zero page stays where it is on every era (never migrated)', async () => {
      for (const kernel of ['5.10', '5.18'] as const) {
        const k = await hot(kernel);
        const t = k.spawn();
        const a = anon(t, 1, C.PROT_READ);
        t.read(a);
        const zero = t.translate(a)!;
        expect(k.folio_is_longterm_pinnable(zero)).toBe(true);
      }
    });
  });

  describe('MIGRATE_ISOLATE pageblocks: pinnable in place before 5.19', () => {
    // cma_alloc() isolates the range's pageblocks while it works; a
    // pageblock isolated and left so is what folio_is_longterm_pinnable() reads.
    it('folio_is_longterm_pinnable() of a page in an isolated pageblock follows longtermMigratesIsolate', async () => {
      for (const [kernel, rules, pinnable] of [
        ['5.18', {}, true], ['6.4', {}, false], ['5.18', { longtermMigratesIsolate: true }, false],
      ] as const) {
        const k = await bootTest(backend, { kernel, rules });
        const t = k.spawn();
        const a = filled(t, 1);
        const pfn = t.translate(a)!;
        const block = pfn >>> C.PAGEBLOCK_ORDER;
        const mt = k.v.migratetype[block];
        k.v.migratetype[block] = C.MIGRATE_ISOLATE;
        expect(k.folio_is_longterm_pinnable(pfn)).toBe(pinnable);
        k.v.migratetype[block] = mt;
        expect(k.folio_is_longterm_pinnable(pfn)).toBe(true);
      }
    });
  });

  describe('S10: a long-term pin of CMA pages with no memory outside CMA free', () => {
    // The CMA pages to pin first, then every frame outside CMA taken.
    const exhausted = async (opts: BootOptions) => {
      const { k, t, lo } = await cmaBoot({ ...opts });
      const a = filled(t, 4);
      for (let i = 0; i < 4; i++) expect(t.translate(a + i * PAGE)!).toBeGreaterThanOrEqual(lo);
      const hog = anon(t, 16384);
      for (let i = 0; k.v.zoneFree[C.ZONE_NORMAL] - k.v.stats[C.NR_FREE_CMA_PAGES] > 0; i++) t.write(hog + i * PAGE, 1);
      return { k, t, a, pfns: [0, 1, 2, 3].map((i) => t.translate(a + i * PAGE)!) };
    };

    it('5.10 (and 5.5): success, the pages pinned in CMA; vmstat counts the second pass', async () => {
      for (const kernel of ['5.8', '5.10'] as const) {
        const { k, t, a, pfns } = await exhausted({ kernel });
        const before = k.vmstat();
        const pa = k.pageArray(4);
        expect(k.pin_user_pages(t, a, 4, LW, pa)).toBe(4);
        expect([...pa.pfns]).toEqual(pfns);
        expect(pfns.map((p) => k.page(p).refcount)).toEqual([1025, 1025, 1025, 1025]);
        expect(k.vmstat().nr_foll_pin_acquired - before.nr_foll_pin_acquired).toBe(8);
        expect(k.vmstat().nr_foll_pin_released - before.nr_foll_pin_released).toBe(4);
        expect(k.vmstat().pgmigrate_fail - before.pgmigrate_fail).toBe(4);
        k.unpin_user_pages(pa, 4);
        expect(pins(k)).toBe(0);
      }
    });

    it('5.5: get_user_pages(FOLL_LONGTERM) likewise returns the CMA pages with a reference each', async () => {
      const { k, t, a, pfns } = await exhausted({ kernel: '5.5' });
      const pa = k.pageArray(4);
      expect(k.get_user_pages(t, a, 4, LW, pa)).toBe(4);
      expect([...pa.pfns]).toEqual(pfns);
      expect(pfns.map((p) => k.page(p).refcount)).toEqual([2, 2, 2, 2]);
      for (const p of pfns) k.put_page(p);
    });

    for (const kernel of ['5.18', 'latest'] as const) {
      it(`${kernel}: -ENOMEM, nothing pinned, vmstat balanced`, async () => {
        const { k, t, a, pfns } = await exhausted({ kernel, track: true });
        const pa = k.pageArray(4);
        expect(k.pin_user_pages(t, a, 4, LW, pa)).toBe(-C.ENOMEM);
        expect(pfns.map((p) => k.page(p).refcount)).toEqual([1, 1, 1, 1]);
        expect(pins(k)).toBe(0);
        expect(k.leaks()).toEqual([]);
        expect(k.check()).toEqual([]);
      });
    }

    for (const kernel of ['6.4', '6.1', '6.11'] as const) {
      it(`${kernel}: -ENOMEM and the pins stay (nr_foll_pin_acquired - released = 4), explained by k.leaks()`, async () => {
        const { k, t, a, pfns } = await exhausted({ kernel, track: true });
        const before = k.vmstat();
        const pa = k.pageArray(4);
        expect(k.pin_user_pages(t, a, 4, LW, pa)).toBe(-C.ENOMEM);
        expect(pfns.map((p) => k.page(p).refcount)).toEqual([1025, 1025, 1025, 1025]);
        expect(k.vmstat().nr_foll_pin_acquired - before.nr_foll_pin_acquired).toBe(4);
        expect(k.vmstat().nr_foll_pin_released - before.nr_foll_pin_released).toBe(0);
        expect(k.vmstat().pgmigrate_fail - before.pgmigrate_fail).toBe(0); // never tried
        expect(k.dmesg().at(-1)).toContain('pinsim: leak: a FOLL_LONGTERM call failed with -ENOMEM and kept 4 pinned pages');
        const [leak, ...rest] = k.leaks();
        expect(rest).toEqual([]);
        expect(leak).toMatchObject({ api: 'pin_user_pages', kind: 'FOLL_PIN', pages: 4, pfns, leaked: true, pid: t.pid });
        expect(leak.note).toContain('aa6f8b2593b5');
        expect(k.check()).toEqual([]); // the counters agree with the frames and the records
        expect(pfns.every((p) => k.folio_maybe_dma_pinned(p))).toBe(true);
      });
    }

    it('6.4 through GUP-fast: the fast path refuses the CMA pages, the slow path leaks them', async () => {
      const { k, t, a, pfns } = await exhausted({ kernel: '6.4' });
      const pa = k.pageArray(4);
      expect(k.pin_user_pages_fast(t, a, 4, LW, pa)).toBe(-C.ENOMEM);
      expect(pfns.every((p) => k.folio_maybe_dma_pinned(p))).toBe(true);
      expect(pins(k)).toBe(4);
      expect(k.check()).toEqual([]);
    });

    it('6.4 with memory to spare: a page that cannot migrate (an extra reference) fails the call but drops the pins', async () => {
      const { k, t } = await cmaBoot({ kernel: '6.4' });
      const a = filled(t, 2);
      const held = k.pageArray(1);
      expect(k.get_user_pages_fast(t, a, 1, 0, held)).toBe(1); // the refcount freeze fails
      const pa = k.pageArray(2);
      expect(k.pin_user_pages(t, a, 2, LW, pa)).toBe(-C.ENOMEM);
      expect(pins(k)).toBe(0);
      k.put_page(held.get(0)!);
    });

    it('bisect: 6.11 with longtermMigrationFailure "error" (aa6f8b2593b5) does not leak; 5.18 with "pin-anyway" pins', async () => {
      const fixed = await exhausted({ kernel: '6.11', rules: { longtermMigrationFailure: 'error' } });
      expect(fixed.k.pin_user_pages(fixed.t, fixed.a, 4, LW, fixed.k.pageArray(4))).toBe(-C.ENOMEM);
      expect(pins(fixed.k)).toBe(0);
      const old = await exhausted({ kernel: '5.18', rules: { longtermMigrationFailure: 'pin-anyway' } });
      expect(old.k.pin_user_pages(old.t, old.a, 4, LW, old.k.pageArray(4))).toBe(4);
      expect(pins(old.k)).toBe(4);
    });
  });

  describe('FOLL_GET with FOLL_LONGTERM', () => {
    const gupLt = async (kernel: BootOptions['kernel'], rules = {}) => {
      const { k, t, lo } = await cmaBoot({ kernel, rules });
      const a = filled(t, 2);
      const slow = k.pageArray(1);
      const fast = k.pageArray(1);
      const rs = k.get_user_pages(t, a, 1, LW, slow);
      const rf = k.get_user_pages_fast(t, a + PAGE, 1, LW, fast);
      return { k, rs, rf, slowPfn: slow.get(0), lo };
    };

    for (const kernel of ['5.5', '5.8', '5.9'] as const) {
      it(`${kernel}: accepted everywhere; the slow path migrates the CMA page out, with a plain reference`, async () => {
        const { k, rs, rf, slowPfn, lo } = await gupLt(kernel);
        expect([rs, rf]).toEqual([1, 1]);
        expect(slowPfn!).toBeLessThan(lo);
        expect(k.page(slowPfn!).refcount).toBe(2);
        expect(pins(k)).toBe(0);
        expect(k.dmesg().some((l) => l.includes('FOLL_LONGTERM'))).toBe(false);
      });
    }

    for (const kernel of ['5.10', '5.18', '6.1'] as const) {
      it(`${kernel}: the slow entry points WARN and return -EINVAL; get_user_pages_fast() is allowed`, async () => {
        const { k, rs, rf } = await gupLt(kernel);
        expect([rs, rf]).toEqual([-C.EINVAL, 1]);
        expect(k.dmesg()).toContain('WARNING: CPU: 0 PID: 1 at mm/gup.c:is_valid_gup_flags: FOLL_LONGTERM requires FOLL_PIN');
      });
    }

    for (const kernel of ['6.4', 'latest'] as const) {
      it(`${kernel}: -EINVAL everywhere`, async () => {
        const { k, rs, rf } = await gupLt(kernel);
        expect([rs, rf]).toEqual([-C.EINVAL, -C.EINVAL]);
        expect(k.dmesg()).toContain('WARNING: CPU: 0 PID: 1 at mm/gup.c:is_valid_gup_args: FOLL_LONGTERM requires FOLL_PIN');
      });
    }

    it('the remote and unlocked GET entry points follow the rule too; bisect: latest with getLongterm "fast-only"', async () => {
      const { k, t } = await cmaBoot({ kernel: '5.10' });
      const a = filled(t, 1);
      expect(k.get_user_pages_remote(t.mm, a, 1, LW, k.pageArray(1))).toBe(-C.EINVAL);
      expect(k.get_user_pages_unlocked(t, a, 1, k.pageArray(1), LW)).toBe(-C.EINVAL);
      const { rs, rf } = await gupLt('latest', { getLongterm: 'fast-only' });
      expect([rs, rf]).toEqual([-C.EINVAL, 1]);
      const allowed = await gupLt('6.4', { getLongterm: 'allowed' });
      expect([allowed.rs, allowed.rf]).toEqual([1, 1]);
    });

    it('gupFastLongtermCma "all" refuses CMA pages to get_user_pages_fast() too (latest with getLongterm "fast-only")', async () => {
      for (const [kernel, migrated] of [['5.18', false], ['latest', true]] as const) {
        const { k, t, lo } = await cmaBoot({ kernel, rules: { getLongterm: 'fast-only' } });
        const a = filled(t, 8);
        const before = Array.from({ length: 8 }, (_, i) => t.translate(a + i * PAGE)!);
        expect(before.filter((p) => p >= lo).length).toBeGreaterThan(3);
        const pa = k.pageArray(8);
        expect(k.get_user_pages_fast(t, a, 8, LW, pa)).toBe(8);
        if (migrated) expect([...pa.pfns].every((p) => p < lo)).toBe(true);
        else expect([...pa.pfns]).toEqual(before);
        for (let i = 0; i < 8; i++) k.put_page(pa.get(i)!);
      }
    });

    it('before 5.10: get_user_pages_remote() takes it without *locked; get_user_pages_unlocked() never did', async () => {
      const { k, t, lo } = await cmaBoot({ kernel: '5.8' });
      const a = filled(t, 2);
      const pa = k.pageArray(1);
      expect(k.get_user_pages_remote(t.mm, a, 1, LW, pa)).toBe(1);
      expect(pa.get(0)!).toBeLessThan(lo); // migrated by the slow path
      k.put_page(pa.get(0)!);
      expect(k.get_user_pages_remote(t.mm, a, 1, LW, pa, { value: 1 })).toBe(-C.EINVAL);
      expect(k.get_user_pages_unlocked(t, a + PAGE, 1, pa, LW)).toBe(-C.EINVAL);
      expect(k.dmesg()).toContain('WARNING: CPU: 0 PID: 0 at mm/gup.c:__get_user_pages_remote: FOLL_LONGTERM requires FOLL_PIN');
      expect(k.dmesg()).toContain(`WARNING: CPU: 0 PID: ${t.pid} at mm/gup.c:get_user_pages_unlocked: FOLL_LONGTERM requires FOLL_PIN`);
    });
  });

  describe('S11: PIN|LONGTERM|WRITE on a MAP_SHARED ext4 mapping', () => {
    const shared = async (kernel: BootOptions['kernel'], rules = {}) => {
      const k = await bootTest(backend, { kernel, rules });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: 2 * PAGE });
      const fd = t.open(f);
      for (let i = 0; i < 2; i++) t.pwrite(fd, i * PAGE, 1000 + i);
      k.writeback(f);
      const m = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
      return { k, t, m };
    };

    for (const kernel of ['5.10', '6.4'] as const) {
      it(`${kernel}: succeeds, slow and fast, on the page-cache pages`, async () => {
        const { k, t, m } = await shared(kernel);
        const pa = k.pageArray(2);
        expect(k.pin_user_pages(t, m, 2, LW, pa)).toBe(2);
        expect(pa.get(0)).toBe(t.translate(m));
        k.unpin_user_pages(pa, 2);
        t.write(m, 5); // mapped writable: the fast path may take it
        expect(k.pin_user_pages_fast(t, m, 1, LW, pa)).toBe(1);
        expect(k.page(pa.get(0)!).data).toBe(5);
        k.unpin_user_pages(pa, 1);
        expect(pins(k)).toBe(0);
      });
    }

    it('latest: -EFAULT, slow and fast; bisect: 6.4 with longtermWriteFile "efault" refuses, latest with "allowed" pins', async () => {
      const { k, t, m } = await shared('latest');
      t.write(m, 5);
      const pa = k.pageArray(2);
      expect(k.pin_user_pages(t, m, 2, LW, pa)).toBe(-C.EFAULT);
      expect(k.pin_user_pages_fast(t, m, 2, LW, pa)).toBe(-C.EFAULT);
      const fixed = await shared('6.4', { longtermWriteFile: 'efault' });
      expect(fixed.k.pin_user_pages(fixed.t, fixed.m, 2, LW, fixed.k.pageArray(2))).toBe(-C.EFAULT);
      const old = await shared('latest', { longtermWriteFile: 'allowed' });
      old.t.write(old.m, 5);
      expect(old.k.pin_user_pages_fast(old.t, old.m, 1, LW, old.k.pageArray(1))).toBe(1);
    });
  });
});
