// cma_alloc()/cma_release() and offline_pages()/online_pages(): the
// movable pages in the way migrate out (data kept, mappings moved), a pin
// makes the range busy, a FOLL_LONGTERM pin does not (its page left CMA and
// ZONE_MOVABLE when it was pinned).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BACKENDS, bootTest, C, PAGE, RW, anon } from './helpers';
import type { Kernel, Task } from '../src/index';

const SECTION = C.PAGES_PER_SECTION;

function cmaStart(k: Kernel): number {
  return (k.layout.ram - k.layout.movable - k.layout.cma) / PAGE;
}
function movableStart(k: Kernel): number {
  return (k.layout.ram - k.layout.movable) / PAGE;
}

// Maps and writes n anon pages, word i + base in page i.
function filled(t: Task, n: number, base = 100): number {
  const a = anon(t, n);
  for (let i = 0; i < n; i++) t.write(a + i * PAGE, base + i);
  return a;
}

function pfnsOf(t: Task, a: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => t.translate(a + i * PAGE)!);
}

describe.each(BACKENDS)('cma_alloc (%s core)', (backend) => {
  // A machine whose CMA area holds half its memory, one task, and the area's pfns [lo, hi).
  const cmaBoot = async () => {
    const k = await bootTest(backend, { memory: '64MiB', cma: '32MiB', thp: 'never' });
    return { k, t: k.spawn(), lo: cmaStart(k), hi: movableStart(k) };
  };

  it('migrates anon and file pages out of the range: data kept, mappings moved, frames reserved', async () => {
    const { k, t, lo, hi } = await cmaBoot();
    const n = 256;
    const a = filled(t, n);
    const fd = t.memfd_create('f');
    t.ftruncate(fd, 16 * PAGE);
    const f = t.mmap({ length: 16 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    for (let i = 0; i < 16; i++) t.write(f + i * PAGE, 7000 + i);
    const before = pfnsOf(t, a, n).concat(pfnsOf(t, f, 16));
    // CMA serves movable allocations while it holds more than half the free memory.
    const inCma = before.filter((p) => p >= lo && p < hi).length;
    expect(inCma).toBeGreaterThan(100);
    const pfn = k.cma_alloc(hi - lo);
    expect(pfn).toBe(lo);
    const after = pfnsOf(t, a, n).concat(pfnsOf(t, f, 16));
    expect(after.every((p) => p < lo)).toBe(true);
    for (let i = 0; i < n; i++) expect(t.read(a + i * PAGE)).toBe(100 + i);
    for (let i = 0; i < 16; i++) expect(t.read(f + i * PAGE)).toBe(7000 + i);
    expect(k.vmstat().pgmigrate_success).toBe(inCma);
    expect(k.meminfo().CmaFree).toBe(0);
    const p = k.page(lo + 5);
    expect(p.refcount).toBe(1);
    expect(p.flags).not.toContain('lru');
    expect(p.flags).not.toContain('buddy');
    expect(k.cma_release(pfn, hi - lo)).toBe(true);
    expect(k.meminfo().CmaFree).toBe(k.meminfo().CmaTotal);
  });

  it('-EBUSY behind a short-term FOLL_PIN, in every candidate range; success after the unpin', async () => {
    const { k, t, lo, hi } = await cmaBoot();
    const a = filled(t, 64);
    const pinned = t.translate(a)!;
    expect(pinned).toBeGreaterThanOrEqual(lo);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    expect(k.cma_alloc(hi - lo)).toBe(-C.EBUSY);
    expect(k.dmesg().at(-1)).toBe(`cma: cma_alloc: reserved: alloc failed, req-size: ${hi - lo} pages, ret: -16`);
    expect(t.translate(a)).toBe(pinned); // the pinned page stayed
    expect(k.meminfo().CmaFree).toBeGreaterThan(0); // nothing taken on failure
    k.unpin_user_pages(pa, 1);
    expect(k.cma_alloc(hi - lo)).toBe(lo);
    expect(t.translate(a)).not.toBe(pinned);
    expect(t.read(a)).toBe(100);
  });

  it('a smaller request goes past the pinned page to the next range that works', async () => {
    const { k, t, lo } = await cmaBoot();
    const a = filled(t, 8);
    const pa = k.pageArray(1);
    k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa);
    const busy = t.translate(a)!;
    expect(k.cma_alloc(busy - lo)).toBe(lo); // everything below the pinned page
    const got = k.cma_alloc(16, 4);
    expect(got).toBe((Math.floor(busy / 16) + 1) * 16); // the first aligned range past it
    k.unpin_user_pages(pa, 1);
  });

  it('a FOLL_GET reference blocks it too (the refcount freeze fails)', async () => {
    const { k, t, lo, hi } = await cmaBoot();
    const a = filled(t, 4);
    const pa = k.pageArray(1);
    expect(k.get_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    expect(k.cma_alloc(hi - lo)).toBe(-C.EBUSY);
    k.put_page(pa.pfns[0]);
    expect(k.cma_alloc(hi - lo)).toBe(lo);
  });

  it('moves a COW-shared page for both processes, a whole THP, and an mlocked page (still mlocked)', async () => {
    const k = await bootTest(backend, { memory: '64MiB', cma: '40MiB', thp: 'always' });
    const lo = cmaStart(k);
    const hi = movableStart(k);
    const t = k.spawn();
    const thp = t.mmap({ length: 4 << 20, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(thp / (2 << 20)) * (2 << 20);
    t.write(h + 5 * PAGE, 55);
    const hp = t.translate(h)!;
    expect(k.page(hp).order).toBe(9);
    const small = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.madvise(small, 2 * PAGE, C.MADV_NOHUGEPAGE);
    t.write(small, 1);
    t.write(small + PAGE, 2);
    t.mlock(small + PAGE, PAGE);
    const child = t.fork();
    const before = [hp, t.translate(small)!, t.translate(small + PAGE)!];
    expect(before.every((p) => p >= lo && p < hi)).toBe(true);
    expect(k.cma_alloc(hi - lo)).toBe(lo);
    const nh = t.translate(h)!;
    expect(nh).toBeLessThan(lo);
    expect(k.page(nh).order).toBe(9); // migrated whole
    expect(t.read(h + 5 * PAGE)).toBe(55);
    expect(child.translate(small)).toBe(t.translate(small)); // both mms repointed
    expect(child.read(small)).toBe(1);
    expect(t.translate(small + PAGE)!).toBeLessThan(lo);
    expect(k.page(t.translate(small + PAGE)!).flags).toContain('mlocked');
    expect(t.read(small + PAGE)).toBe(2);
  });

  it('succeeds when the pin was FOLL_LONGTERM: the page left CMA at pin time', async () => {
    const { k, t, lo, hi } = await cmaBoot();
    const a = filled(t, 4);
    expect(t.translate(a)!).toBeGreaterThanOrEqual(lo);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages(t, a, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(4);
    expect(pa.pfns.every((p) => p < lo)).toBe(true);
    expect(k.cma_alloc(hi - lo)).toBe(lo);
    expect(pfnsOf(t, a, 4)).toEqual([...pa.pfns]);
    k.unpin_user_pages(pa, 4);
  });

  it('alignment, exhaustion (-ENOMEM), release and re-allocation, bad arguments', async () => {
    const { k, lo, hi } = await cmaBoot();
    const x = k.cma_alloc(3);
    expect(x).toBe(lo);
    const y = k.cma_alloc(8, 3);
    expect(y).toBe(lo + 8); // the next 8-aligned free range
    expect(k.cma_alloc(1)).toBe(lo + 3); // the hole below y
    expect(k.cma_alloc(hi - lo)).toBe(-C.ENOMEM);
    expect(k.cma_alloc(0)).toBe(-C.EINVAL);
    expect(k.cma_release(y, 4)).toBe(false); // not an allocation
    expect(k.dmesg().some((l) => l.includes('cma_release'))).toBe(true);
    expect(k.cma_release(y, 8)).toBe(true);
    expect(k.cma_release(y, 8)).toBe(false);
    expect(k.cma_alloc(8, 3)).toBe(y);
    expect(k.meminfo().CmaFree).toBe(k.meminfo().CmaTotal - 4 * 12);
    expect(() => k.cma_alloc(-1)).toThrow(RangeError);
    expect(() => k.cma_alloc('1' as unknown as number)).toThrow(TypeError);
    const none = await bootTest(backend, {});
    expect(none.cma_alloc(1)).toBe(-C.EINVAL);
  });

  it('a CMA allocation in the way leaves no range of the size: -ENOMEM', async () => {
    const { k, lo, hi } = await cmaBoot();
    expect(k.cma_alloc(1, 0)).toBe(lo);
    // The whole area now contains a CMA allocation: no unallocated range of that size.
    expect(k.cma_alloc(hi - lo)).toBe(-C.ENOMEM);
  });
});

describe.each(BACKENDS)('offline_pages (%s core)', (backend) => {
  const hotBoot = () => bootTest(backend, { memory: '512MiB', movable: '256MiB', thp: 'never' });

  it('-EBUSY behind a pin in ZONE_MOVABLE, success after the unpin; MemTotal and managed pages drop', async () => {
    const k = await hotBoot();
    const t = k.spawn();
    const ms = movableStart(k);
    const a = filled(t, 32);
    const pinned = t.translate(a)!;
    expect(pinned).toBeGreaterThanOrEqual(ms); // movable allocations come from ZONE_MOVABLE first
    const sec = Math.floor(pinned / SECTION) * SECTION;
    const pa = k.pageArray(1);
    k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa);
    const total = k.meminfo().MemTotal;
    const digest = k.digest();
    expect(k.offline_pages(sec, SECTION)).toBe(-C.EBUSY);
    const log = k.dmesg();
    expect(log).toContain(`migrating pfn ${pinned.toString(16)} failed ret:1`);
    expect(log.at(-1)).toBe('page dumped because: migration failure');
    expect(t.translate(a)).toBe(pinned);
    expect(k.meminfo().MemTotal).toBe(total);
    expect(k.digest()).not.toBe(digest); // the other 31 pages did migrate, as in the kernel
    k.unpin_user_pages(pa, 1);
    const managed = k.meminfo().zones.Movable.managed;
    expect(k.offline_pages(sec, SECTION)).toBe(0);
    expect(k.meminfo().MemTotal).toBe(total - SECTION * 4);
    expect(k.meminfo().zones.Movable.managed).toBe(managed - SECTION);
    expect(t.translate(a)).toBeLessThan(ms); // its targets are outside ZONE_MOVABLE
    for (let i = 0; i < 32; i++) expect(t.read(a + i * PAGE)).toBe(100 + i);
    expect(k.page(sec).flags).toContain('reserved');
    expect(k.page(sec).migratetype).toBe('Isolate');
    // Offline frames are never allocated again.
    const b = filled(t, 2048, 5);
    expect(pfnsOf(t, b, 2048).some((p) => p >= sec && p < sec + SECTION)).toBe(false);
    expect(k.offline_pages(sec, SECTION)).toBe(-C.EINVAL); // already offline
    const free = k.meminfo().MemFree;
    expect(k.online_pages(sec, SECTION)).toBe(0);
    expect(k.meminfo().MemTotal).toBe(total);
    expect(k.meminfo().MemFree).toBe(free + SECTION * 4);
    expect(k.online_pages(sec, SECTION)).toBe(-C.EINVAL); // already online
  });

  it('succeeds when the pin was FOLL_LONGTERM: the page left ZONE_MOVABLE at pin time', async () => {
    const k = await hotBoot();
    const t = k.spawn();
    const ms = movableStart(k);
    const a = filled(t, 4);
    const sec = Math.floor(t.translate(a)! / SECTION) * SECTION;
    const pa = k.pageArray(4);
    expect(k.pin_user_pages(t, a, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(4);
    expect(pa.pfns.every((p) => p < ms)).toBe(true);
    expect(k.offline_pages(sec, SECTION)).toBe(0);
    k.unpin_user_pages(pa, 4);
  });

  it('-EINVAL: misaligned, partial, outside ZONE_MOVABLE, zero, already online', async () => {
    const k = await hotBoot();
    const ms = movableStart(k);
    const digest = k.digest();
    expect(k.offline_pages(ms + 512, SECTION)).toBe(-C.EINVAL);
    expect(k.offline_pages(ms, SECTION / 2)).toBe(-C.EINVAL);
    expect(k.offline_pages(0, SECTION)).toBe(-C.EINVAL);
    expect(k.offline_pages(ms, 0)).toBe(-C.EINVAL);
    expect(k.offline_pages(ms + k.layout.movable / PAGE, SECTION)).toBe(-C.EINVAL);
    expect(k.online_pages(ms, SECTION)).toBe(-C.EINVAL);
    expect(k.digest()).toBe(digest);
    expect(() => k.offline_pages(NaN, SECTION)).toThrow(RangeError);
  });
});

describe('cma_alloc and offline_pages: both cores agree', () => {
  it('same digests after the same operations', async () => {
    const run = async (backend: 'wasm' | 'ts') => {
      const k = await bootTest(backend, { memory: '512MiB', movable: '128MiB', cma: '64MiB', thp: 'always' });
      const t = k.spawn();
      const a = filled(t, 1024);
      const out: number[] = [k.cma_alloc(4096, 2), k.offline_pages(movableStart(k), SECTION), k.digest()];
      t.munmap(a, 512 * PAGE);
      out.push(k.cma_alloc(8192), k.online_pages(movableStart(k), SECTION), k.digest());
      return out;
    };
    expect(await run('ts')).toEqual(await run('wasm'));
  });
});

describe.each(BACKENDS)('property: random mm ops, pins, cma_alloc/release, offline/online (%s core)', (backend) => {
  it('keep the machine consistent', async () => {
    type Op = { kind: 'map' | 'write' | 'unmap' | 'pin' | 'unpin' | 'lpin' | 'cma' | 'rel' | 'off' | 'on'; n: number; i: number };
    const op = fc.record({
      kind: fc.constantFrom('map', 'write', 'unmap', 'pin', 'unpin', 'lpin', 'cma', 'rel', 'off', 'on'),
      n: fc.integer({ min: 1, max: 4096 }),
      i: fc.nat(),
    }) as fc.Arbitrary<Op>;
    await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
      const k = await bootTest(backend, { memory: '384MiB', movable: '128MiB', cma: '64MiB', thp: 'never' });
      const t = k.spawn();
      const ms = movableStart(k);
      const maps: { a: number; n: number; words: number[] }[] = [];
      const pins: { pa: ReturnType<Kernel['pageArray']>; n: number }[] = [];
      const cmas: [number, number][] = [];
      let offline = false;
      for (const o of ops) {
        const m = maps.length ? maps[o.i % maps.length] : undefined;
        if (o.kind === 'map') {
          const n = 1 + (o.n % 300);
          maps.push({ a: filled(t, n, o.i), n, words: Array.from({ length: n }, (_, j) => o.i + j) });
        } else if (o.kind === 'write' && m) {
          const j = o.n % m.n;
          t.write(m.a + j * PAGE, o.n);
          m.words[j] = o.n;
        } else if (o.kind === 'unmap' && m && !pins.length) {
          t.munmap(m.a, m.n * PAGE);
          maps.splice(maps.indexOf(m), 1);
        } else if ((o.kind === 'pin' || o.kind === 'lpin') && m) {
          const n = 1 + (o.n % m.n);
          const pa = k.pageArray(n);
          const flags = C.FOLL_WRITE | (o.kind === 'lpin' ? C.FOLL_LONGTERM : 0);
          if (k.pin_user_pages(t, m.a, n, flags, pa) === n) pins.push({ pa, n });
        } else if (o.kind === 'unpin' && pins.length) {
          const p = pins.splice(o.i % pins.length, 1)[0];
          k.unpin_user_pages(p.pa, p.n);
        } else if (o.kind === 'cma') {
          const pfn = k.cma_alloc(o.n, o.i % 9);
          if (pfn >= 0) cmas.push([pfn, o.n]);
          else expect([-C.EBUSY, -C.ENOMEM]).toContain(pfn);
        } else if (o.kind === 'rel' && cmas.length) {
          const [pfn, n] = cmas.splice(o.i % cmas.length, 1)[0];
          expect(k.cma_release(pfn, n)).toBe(true);
        } else if (o.kind === 'off' && !offline) {
          const r = k.offline_pages(ms, SECTION);
          expect([0, -C.EBUSY]).toContain(r);
          offline = r === 0;
        } else if (o.kind === 'on' && offline) {
          expect(k.online_pages(ms, SECTION)).toBe(0);
          offline = false;
        }
      }
      // Data intact, pinned pages still mapped where the pins are, nothing pinned or mapped in a taken range.
      for (const m of maps) for (let j = 0; j < m.n; j++) expect(t.read(m.a + j * PAGE)).toBe(m.words[j]);
      const taken = (p: number) => cmas.some(([s, n]) => p >= s && p < s + n) || (offline && p >= ms && p < ms + SECTION);
      for (const m of maps) for (const p of pfnsOf(t, m.a, m.n)) expect(taken(p)).toBe(false);
      for (const p of pins) for (const pfn of p.pa.pfns) expect(k.page(pfn).maybeDmaPinned).toBe(true);
      // MemFree is exact: free pages = managed - used, by frame count.
      const mi = k.meminfo();
      const held = cmas.reduce((s, [, n]) => s + n, 0);
      let free = 0;
      const flags = k.v.flags;
      for (let pfn = 0; pfn < k.layout.ram / PAGE; pfn++) {
        if (flags[pfn] & C.PG_buddy) free += 2 ** ((flags[pfn] & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT);
      }
      expect(mi.MemFree).toBe(free * 4);
      expect(mi.MemTotal).toBe((k.layout.ram / PAGE - (offline ? SECTION : 0)) * 4);
      expect(held).toBeGreaterThanOrEqual(0);
      for (const p of pins) k.unpin_user_pages(p.pa, p.n);
      expect(k.vmstat().nr_foll_pin_released).toBe(k.vmstat().nr_foll_pin_acquired);
    }), { numRuns: 12 });
  }, 120_000);
});
