// The batched common cases of GUP-fast, the slow path and unpin (four
// small pages per SIMD step in the Wasm build: assembly/raw.ts
// grab_small_quads(), follow_small_quads(), put_small_pin_quads(); none in
// the pure-TS build) must do exactly what the page-by-page loops do. Each
// scenario runs on both cores; the results, every pfn and the digest of all
// state must agree, and the pins must be what the kernel's rules say.
import { describe, expect, it } from 'vitest';
import type { BootOptions, Kernel, PageArray, Task } from '../src/index';
import { bootTest, anon, C, PAGE, RW } from './helpers';

const { FOLL_WRITE, FOLL_LONGTERM } = C;

interface Outcome { ret: number; pfns: (number | null)[]; refcounts: number[]; digest: number; acquired: number }

type Call = 'pin_user_pages_fast' | 'get_user_pages_fast' | 'pin_user_pages' | 'get_user_pages';

// Builds the same machine on both cores, calls `call` on [a, a + n pages),
// and returns both outcomes after checking they are identical.
async function onBoth(opts: BootOptions, n: number, flags: number, setup: (k: Kernel, t: Task) => number,
  call: Call = 'pin_user_pages_fast'): Promise<Outcome> {
  const out: Outcome[] = [];
  for (const backend of ['wasm', 'ts'] as const) {
    const k = await bootTest(backend, opts);
    const t = k.spawn();
    const a = setup(k, t);
    const pa = k.pageArray(n);
    const ret = k[call](t, a, n, flags, pa);
    const pfns = pa.toArray();
    out.push({
      ret, pfns, refcounts: pfns.map((p) => (p === null ? 0 : k.page(p).refcount)),
      digest: k.digest(), acquired: k.vmstat().nr_foll_pin_acquired,
    });
  }
  expect(out[1]).toEqual(out[0]);
  return out[0];
}

function touched(t: Task, pages: number): number {
  const a = anon(t, pages);
  t.touch(a, pages * PAGE, { write: true });
  return a;
}

describe('GUP-fast in batches of four small anon pages', () => {
  it('takes a run of fresh anon pages whole: +1024 each, PG_referenced, every pfn recorded', async () => {
    let pfns: (number | null)[] = [];
    const r = await onBoth({ thp: 'never' }, 70, FOLL_WRITE | FOLL_LONGTERM, (_k, t) => {
      const a = touched(t, 70);
      pfns = Array.from({ length: 70 }, (_, i) => t.translate(a + i * PAGE));
      return a;
    });
    expect(r.ret).toBe(70);
    expect(r.pfns).toEqual(pfns);
    expect(r.refcounts.every((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toBe(true);
    expect(r.acquired).toBe(70);
  });

  it('FOLL_GET (get_user_pages_fast) adds one reference per page', async () => {
    const r = await onBoth({ thp: 'never' }, 33, FOLL_WRITE, (_k, t) => touched(t, 33), 'get_user_pages_fast');
    expect(r.ret).toBe(33);
    expect(r.refcounts.every((rc) => rc === 2)).toBe(true);
    expect(r.acquired).toBe(0);
  });

  it('stops at a hole inside a quad; the slow path cannot fill it, so the prefix is returned', async () => {
    const r = await onBoth({ thp: 'never' }, 16, FOLL_WRITE, (_k, t) => {
      const a = touched(t, 16);
      t.munmap(a + 9 * PAGE, PAGE);
      return a;
    });
    expect(r.ret).toBe(9);
    expect(r.pfns.slice(9).every((p) => p === null)).toBe(true);
  });

  it('falls back at read-only (COW-shared) PTEs after fork and breaks COW there', async () => {
    const r = await onBoth({ thp: 'never' }, 12, FOLL_WRITE, (_k, t) => {
      const a = touched(t, 12);
      const c = t.fork();
      c.exit(); // the parent's PTEs stay write-protected until a write fault
      t.write(a, 1); // the first page is writable again (reused), the rest are not
      return a;
    });
    expect(r.ret).toBe(12);
    expect(r.refcounts.every((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toBe(true);
  });

  it('takes non-consecutive pfns and already-pinned pages one by one, with the same counts', async () => {
    const r = await onBoth({ thp: 'never' }, 16, FOLL_WRITE | FOLL_LONGTERM, (k, t) => {
      const a = touched(t, 16);
      // Replace pages 5 and 6 with newer frames: the run of pfns breaks there.
      t.madvise(a + 5 * PAGE, 2 * PAGE, C.MADV_DONTNEED);
      t.touch(anon(t, 64), 64 * PAGE, { write: true });
      t.write(a + 5 * PAGE, 5);
      t.write(a + 6 * PAGE, 6);
      // Page 9 is pinned already.
      const pa = k.pageArray(1);
      expect(k.pin_user_pages_fast(t, a + 9 * PAGE, 1, FOLL_WRITE, pa)).toBe(1);
      return a;
    });
    expect(r.ret).toBe(16);
    expect(r.refcounts[9]).toBe(1 + 2 * C.GUP_PIN_COUNTING_BIAS);
    expect(r.refcounts.filter((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toHaveLength(15);
  });

  it('FOLL_LONGTERM refuses pages in CMA and ZONE_MOVABLE mid-run: they are migrated, then pinned', async () => {
    for (const opts of [{ thp: 'never', cma: '48MiB' }, { thp: 'never', movable: '48MiB' }] as BootOptions[]) {
      const r = await onBoth({ memory: '64MiB', ...opts }, 24, FOLL_WRITE | FOLL_LONGTERM, (k, t) => {
        const a = anon(t, 24);
        t.touch(a, 24 * PAGE, { write: true });
        expect(k.page(t.translate(a)!).migratetype === 'CMA' || k.page(t.translate(a)!).zone === 'Movable').toBe(true);
        return a;
      });
      expect(r.ret).toBe(24);
      expect(r.refcounts.every((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toBe(true);
    }
  });

  it('a file page inside the run is left to the per-page rules (shmem may be long-term pinned)', async () => {
    const r = await onBoth({ thp: 'never' }, 12, FOLL_WRITE | FOLL_LONGTERM, (_k, t) => {
      const a = touched(t, 12);
      const fd = t.memfd_create('m');
      t.ftruncate(fd, PAGE);
      t.mmap({ addr: a + 6 * PAGE, length: PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_FIXED, fd });
      t.write(a + 6 * PAGE, 6);
      return a;
    });
    expect(r.ret).toBe(12);
  });
});

describe('the slow path in batches of four small pages', () => {
  it('pin_user_pages() takes a faulted run whole, marks it accessed, and adds 1024 each', async () => {
    const r = await onBoth({ thp: 'never' }, 70, FOLL_WRITE | FOLL_LONGTERM, (_k, t) => touched(t, 70), 'pin_user_pages');
    expect(r.ret).toBe(70);
    expect(r.refcounts.every((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toBe(true);
    expect(r.acquired).toBe(70);
  });

  it('get_user_pages() over clean PTEs (read faults, then FOLL_WRITE) and holes: same as page by page', async () => {
    for (const flags of [0, FOLL_WRITE]) {
      const r = await onBoth({ thp: 'never' }, 24, flags, (_k, t) => {
        const a = anon(t, 24);
        for (let i = 0; i < 24; i += 3) t.write(a + i * PAGE, i); // some pages written (dirty), the rest not faulted
        t.touch(a + 12 * PAGE, 8 * PAGE); // read faults: the zero page
        return a;
      }, 'get_user_pages');
      expect(r.ret).toBe(24);
    }
  });

  it('a long-term pin of read-only COW-shared pages after fork unshares them, as page by page', async () => {
    const r = await onBoth({ thp: 'never' }, 16, FOLL_LONGTERM, (_k, t) => {
      const a = touched(t, 16);
      t.fork();
      return a;
    }, 'pin_user_pages');
    expect(r.ret).toBe(16);
  });
});

describe('the slow path over huge leaves: the rest of a leaf in one grab (page_increm)', () => {
  const MIB = 1 << 20;
  for (const kind of ['thp', 'hugetlb'] as const) {
    for (const call of ['pin_user_pages', 'get_user_pages'] as const) {
      it(`${call}() on ${kind} from inside one leaf into the next`, async () => {
        const opts: BootOptions = kind === 'thp' ? { thp: 'always' } : { thp: 'never', hugepages: { '2MiB': 4 } };
        let pfns: number[] = [];
        const r = await onBoth(opts, 700, FOLL_WRITE, (k, t) => {
          const flags = C.MAP_PRIVATE | C.MAP_ANONYMOUS | (kind === 'hugetlb' ? C.MAP_HUGETLB | C.MAP_HUGE_2MB : 0);
          const a = t.mmap({ length: 6 * MIB, prot: RW, flags });
          const b = a + (2 * MIB - (a % (2 * MIB))) % (2 * MIB); // the first 2 MiB boundary
          t.touch(b, 4 * MIB, { write: true });
          expect(k.page(t.translate(b)!).order).toBe(9);
          const start = b + 100 * PAGE;
          pfns = Array.from({ length: 700 }, (_, i) => t.translate(start + i * PAGE)!);
          return start;
        }, call);
        expect(r.ret).toBe(700);
        expect(r.pfns).toEqual(pfns);
        expect(r.acquired).toBe(call === 'pin_user_pages' ? 700 : 0);
      });
    }
  }

  it('the folios count the pins of the pages taken from each: 412 and 288', async () => {
    for (const backend of ['wasm', 'ts'] as const) {
      const k = await bootTest(backend, { thp: 'always' });
      const t = k.spawn();
      const a = t.mmap({ length: 6 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      const b = a + (2 * MIB - (a % (2 * MIB))) % (2 * MIB);
      t.touch(b, 4 * MIB, { write: true });
      const pa = k.pageArray(700);
      expect(k.pin_user_pages(t, b + 100 * PAGE, 700, FOLL_WRITE, pa)).toBe(700);
      expect(k.page(t.translate(b)!).pincount).toBe(412);
      expect(k.page(t.translate(b + 2 * MIB)!).pincount).toBe(288);
      k.unpin_user_pages(pa, 700);
      expect(k.page(t.translate(b)!).pincount).toBe(0);
    }
  });
});

describe('the FOLL_LONGTERM check in batches of four small pages', () => {
  it('pinnable runs are passed over four at a time, the CMA pages after them migrated', async () => {
    const r = await onBoth({ memory: '64MiB', thp: 'never', cma: '40MiB' }, 24, FOLL_WRITE | FOLL_LONGTERM, (k, t) => {
      const a = touched(t, 24);
      for (let i = 0; i < 24; i++) expect(k.page(t.translate(a + i * PAGE)!).migratetype).toBe('CMA');
      for (let i = 0; i < 13; i++) expect(k.migrate_folio(t.translate(a + i * PAGE)!)).toBe(0); // pages 0-12 leave CMA
      return a;
    }, 'pin_user_pages');
    expect(r.ret).toBe(24);
    expect(r.refcounts.every((rc) => rc === 1 + C.GUP_PIN_COUNTING_BIAS)).toBe(true);
  });
});

describe('unpin in batches of four small pages', () => {
  // Pins [a, a + n) into pa in `parts` calls, then unpins with `unpin`;
  // returns what both cores agree on.
  async function unpinOnBoth(n: number, fill: (k: Kernel, t: Task, a: number, pa: PageArray) => void,
    unpin: (k: Kernel, pa: PageArray) => void) {
    const out: unknown[] = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const k = await bootTest(backend, { thp: 'never' });
      const t = k.spawn();
      const a = touched(t, n);
      const pa = k.pageArray(2 * n);
      fill(k, t, a, pa);
      const before = k.vmstat().nr_foll_pin_released;
      unpin(k, pa);
      out.push({
        released: k.vmstat().nr_foll_pin_released - before,
        refcounts: Array.from({ length: n }, (_, i) => k.page(t.translate(a + i * PAGE)!).refcount),
        dmesg: k.dmesg().filter((l) => l.includes('holds no pin')).length,
        digest: k.digest(),
      });
    }
    expect(out[1]).toEqual(out[0]);
    return out[0] as { released: number; refcounts: number[]; dmesg: number };
  }

  it('unpin_user_pages() of a run releases every pin; pages keep their mapping reference', async () => {
    const r = await unpinOnBoth(40, (k, t, a, pa) => {
      expect(k.pin_user_pages_fast(t, a, 40, FOLL_WRITE, pa)).toBe(40);
    }, (k, pa) => k.unpin_user_pages(pa, 40));
    expect(r.released).toBe(40);
    expect(r.refcounts.every((rc) => rc === 1)).toBe(true);
  });

  it('NULL entries, a page listed twice in a row, and make_dirty: the same as one by one', async () => {
    const fill = (k: Kernel, t: Task, a: number, pa: PageArray) => {
      expect(k.pin_user_pages_fast(t, a, 8, FOLL_WRITE, pa)).toBe(8); // entries 0-7: pages 0-7
      expect(k.pin_user_pages_fast(t, a + 7 * PAGE, 1, FOLL_WRITE, pa.subarray(8))).toBe(1); // entry 8: page 7 again
      // entries 9-11 stay NULL; 12-19: pages 8-15
      expect(k.pin_user_pages_fast(t, a + 8 * PAGE, 8, FOLL_WRITE, pa.subarray(12))).toBe(8);
    };
    for (const dirty of [false, true]) {
      const r = await unpinOnBoth(16, fill, (k, pa) => k.unpin_user_pages_dirty_lock(pa, 20, dirty));
      expect(r.released).toBe(17);
      expect(r.refcounts.every((rc) => rc === 1)).toBe(true);
    }
  });

  it('a page listed twice in a row that holds no pin: refused with a WARN on both cores alike', async () => {
    const r = await unpinOnBoth(8, (k, t, a, pa) => {
      expect(k.pin_user_pages_fast(t, a, 8, FOLL_WRITE, pa)).toBe(8);
      k.unpin_user_page(pa.get(3)!); // page 3 holds no pin now
      k.unpin_user_page(pa.get(4)!);
      pa.pfns[4] = pa.get(3)!; // and, by a driver bug, is listed at entries 3 and 4
    }, (k, pa) => k.unpin_user_pages(pa, 8));
    expect(r.released).toBe(6);
    expect(r.dmesg).toBe(1);
    expect(r.refcounts.every((rc) => rc === 1)).toBe(true);
  });
});

describe('unpin_user_page_range_dirty_lock() in batches of four consecutive small pages', () => {
  // Pins [0, 64) of a fresh mapping twice over the frames a, b, … and releases
  // them by pfn runs, with and without dirtying: where a run breaks the
  // batch (a page whose pin is its last reference besides the mapping, a
  // page already dirty, the run's tail) the outcome must match page-by-page.
  it('drops one pin per page, dirties exactly the clean pages, agrees on both cores', async () => {
    const out: unknown[] = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const k = await bootTest(backend, { thp: 'never' });
      const t = k.spawn();
      const a = touched(t, 64);
      const pa = k.pageArray(64);
      expect(k.pin_user_pages_fast(t, a, 64, FOLL_WRITE, pa)).toBe(64);
      t.munmap(a + 5 * PAGE, PAGE); // page 5: the pin is its last reference
      const pfns = pa.toArray() as number[];
      const runs: [number, number][] = [];
      for (let i = 0; i < 64;) { // maximal runs of consecutive pfns
        let j = i + 1;
        while (j < 64 && pfns[j] === pfns[j - 1] + 1) j++;
        runs.push([i, j]);
        i = j;
      }
      const dirtyBefore = pfns.map((p) => k.page(p).flags.includes('dirty'));
      runs.forEach(([i, j], r) => k.unpin_user_page_range_dirty_lock(pfns[i], j - i, r % 2 === 0));
      const v = k.vmstat();
      out.push({
        released: v.nr_foll_pin_released, dirtied: v.nr_dirtied, digest: k.digest(), dirtyBefore,
        maybePinned: pfns.filter((p, i) => i !== 5 && k.folio_maybe_dma_pinned(p)).length,
      });
    }
    expect(out[1]).toEqual(out[0]);
    expect(out[0]).toMatchObject({ released: 64, maybePinned: 0 });
  });
});
