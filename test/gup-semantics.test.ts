// GUP semantics against the Linux reference (../shared/docs/kernel-semantics.md
// sections 4-7, checklist 35-72): check_vma_flags(), faults and COW unshare,
// the zero page, FOLL_TOUCH, GUP-fast, FOLL_LONGTERM migration, and the
// interplay of pins with fork, COW, munmap/MADV_DONTNEED and writeback.
import { describe, expect, it } from 'vitest';
import type { Kernel, Task, PageArray } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE, pageAt } from './helpers';

const MIB = 1 << 20;
const { FOLL_WRITE, FOLL_FORCE, FOLL_ANON, FOLL_LONGTERM, FOLL_SPLIT_PMD, FOLL_NOFAULT } = C;

// ---- small helpers ----

const stats = (k: Kernel) => k.vmstat();
// Pins held right now: nr_foll_pin_acquired - nr_foll_pin_released.
const pinsHeld = (k: Kernel) => stats(k).nr_foll_pin_acquired - stats(k).nr_foll_pin_released;
const pfns = (pa: PageArray, n = pa.length) => pa.toArray().slice(0, n);
const isAnon = (k: Kernel, pfn: number) => k.page(pfn).flags.includes('anon');

// An anon page returned by a FOLL_PIN call must be PageAnonExclusive (for a
// PTE-mapped THP: the subpage or the head).
function expectExclusiveIfAnon(k: Kernel, pfn: number | null): void {
  expect(pfn).not.toBeNull();
  const p = k.page(pfn!);
  if (!p.flags.includes('anon')) return;
  const ok = p.flags.includes('anon_exclusive') || k.page(p.head).flags.includes('anon_exclusive');
  expect(ok, `pinned anon pfn ${pfn} is not AnonExclusive`).toBe(true);
}

// A file with `pages` pages, each holding 1000 + index, written back (clean).
function fileWithData(k: Kernel, fs: 'ext4' | 'tmpfs', pages: number, t: Task = k.spawn()) {
  const f = k.createFile({ fs, size: pages * PAGE });
  const fd = t.open(f);
  for (let i = 0; i < pages; i++) t.pwrite(fd, i * PAGE, 1000 + i);
  k.writeback(f);
  return { f, t, fd };
}

// n private anon pages written with base + i.
function writtenAnon(t: Task, n: number, base = 100): number {
  const a = anon(t, n);
  for (let i = 0; i < n; i++) t.write(a + i * PAGE, base + i);
  return a;
}

// A PROT_READ private anon mapping whose first page maps the zero page.
function readOnlyAnon(t: Task, n: number): number {
  const a = anon(t, n, C.PROT_READ);
  t.read(a);
  return a;
}

// ---------------------------------------------------------------------------
// 1. check_vma_flags() (4.3; checklist 35-40)
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('check_vma_flags (%s core)', (backend) => {
  // VM_IO / VM_PFNMAP VMAs cannot be created through pinsim's syscalls: not tested.

  it('FOLL_ANON refuses file and shared-anonymous VMAs with -EFAULT, and allows private anon', async () => {
    const k = await bootTest(backend);
    const { t, fd } = fileWithData(k, 'ext4', 2);
    const pa = k.pageArray(2);
    const file = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    const shanon = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.write(shanon, 1); // populated: the refusal is about the VMA, not a missing page
    const mem = k.page(t.translate(shanon)!);
    expect(mem.flags).not.toContain('anon');
    const before = stats(k);
    expect(k.pin_user_pages(t, file, 1, FOLL_ANON, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages(t, shanon, 1, FOLL_ANON, pa)).toBe(-C.EFAULT);
    expect(k.get_user_pages(t, shanon, 1, FOLL_ANON, pa)).toBe(-C.EFAULT);
    expect(pfns(pa)).toEqual([null, null]);
    expect(stats(k).nr_foll_pin_acquired).toBe(before.nr_foll_pin_acquired);
    const a = writtenAnon(t, 2);
    expect(k.pin_user_pages(t, a, 2, FOLL_ANON, pa)).toBe(2);
    expect(pfns(pa)).toEqual([t.translate(a), t.translate(a + PAGE)]);
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_LONGTERM on an fsdax VMA is -EOPNOTSUPP; a short-term pin of it works', async () => {
    const k = await bootTest(backend, { pmem: '16MiB' });
    const f = k.createFile({ fs: 'fsdax', size: 4 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.write(a, 5);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(-C.EOPNOTSUPP);
    expect(k.pin_user_pages(t, a + PAGE, 1, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(-C.EOPNOTSUPP);
    expect(k.pin_user_pages_fast(t, a, 1, FOLL_LONGTERM, pa)).toBe(-C.EOPNOTSUPP);
    expect(pa.get(0)).toBeNull();
    expect(pinsHeld(k)).toBe(0);
    // Order: FOLL_ANON is checked before the fsdax test.
    expect(k.pin_user_pages(t, a, 1, FOLL_ANON | FOLL_LONGTERM, pa)).toBe(-C.EFAULT);
    // Without FOLL_LONGTERM the device page itself is pinned.
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    expect(pa.get(0)).toBe(t.translate(a));
    expect(k.page(pa.get(0)!).zone).toBe('Device');
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_SPLIT_PMD on a hugetlb VMA is -EOPNOTSUPP (slow path), checked before the write checks', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 2 } });
    const t = k.spawn();
    const flags = C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB;
    const h = t.mmap({ length: 2 * MIB, prot: RW, flags });
    t.write(h, 1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, h, 1, FOLL_SPLIT_PMD, pa)).toBe(-C.EOPNOTSUPP);
    expect(k.get_user_pages(t, h, 1, FOLL_SPLIT_PMD | FOLL_WRITE, pa)).toBe(-C.EOPNOTSUPP);
    const ro = t.mmap({ length: 2 * MIB, prot: C.PROT_READ, flags });
    expect(k.pin_user_pages(t, ro, 1, FOLL_SPLIT_PMD | FOLL_WRITE, pa)).toBe(-C.EOPNOTSUPP);
    expect(k.pin_user_pages(t, ro, 1, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(pa.get(0)).toBeNull();
    expect(pinsHeld(k)).toBe(0);
    // FOLL_SPLIT_PMD on a non-hugetlb VMA is fine.
    const a = writtenAnon(t, 1);
    expect(k.pin_user_pages(t, a, 1, FOLL_SPLIT_PMD, pa)).toBe(1);
    k.unpin_user_pages(pa, 1);
  });

  it('a write pin of a PROT_READ private anon mapping is -EFAULT without FOLL_FORCE', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = readOnlyAnon(t, 2);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(k.get_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages_fast(t, a, 1, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(pfns(pa)).toEqual([null, null]);
    expect(t.translate(a)).toBe(0); // untouched: still the zero page
    expect(t.translate(a + PAGE)).toBeNull();
    // A read pin is fine.
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(pa.get(0)).toBe(0);
    k.unpin_user_pages(pa, 1);
  });

  it('FOLL_FORCE write pin of a PROT_READ private anon mapping gets a private anon page; the PTE stays read-only', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = readOnlyAnon(t, 2);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, FOLL_WRITE | FOLL_FORCE, pa)).toBe(2);
    for (let i = 0; i < 2; i++) {
      const pfn = pa.get(i)!;
      expect(pfn).not.toBe(0);
      expect(t.translate(a + i * PAGE)).toBe(pfn);
      const p = k.page(pfn);
      expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
      expect(p.mapcount).toBe(1);
      expect(p.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
      expect(t.read(a + i * PAGE)).toBe(0);
    }
    // maybe_mkwrite(): the VMA is not writable, so the PTE is not either.
    // GUP-fast checks only the PTE, so a FOLL_WRITE fast lookup refuses it.
    const ga = k.pageArray(2);
    expect(k.get_user_pages_fast_only(t, a, 2, FOLL_WRITE, ga)).toBe(0);
    expect(k.get_user_pages_fast_only(t, a, 2, 0, ga)).toBe(2); // readable
    k.put_page(ga.get(0)!);
    k.put_page(ga.get(1)!);
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_FORCE write to a read-only private VMA pins an exclusive anon page in place (can_follow_write_pte)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = writtenAnon(t, 1, 77);
    const pfn = t.translate(a)!;
    t.mprotect(a, PAGE, C.PROT_READ);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(1);
    expect(pa.get(0)).toBe(pfn);
    expect(t.translate(a)).toBe(pfn);
    expect(t.read(a)).toBe(77);
    k.unpin_user_pages(pa, 1);
  });

  it('FOLL_FORCE write to a PROT_READ MAP_PRIVATE ext4 mapping COWs into an anon copy; the file is untouched', async () => {
    const k = await bootTest(backend);
    const { t, fd } = fileWithData(k, 'ext4', 2);
    const a = t.mmap({ length: 2 * PAGE, prot: C.PROT_READ, flags: C.MAP_PRIVATE, fd });
    expect(t.read(a)).toBe(1000);
    const cachePfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(1);
    const pfn = pa.get(0)!;
    expect(pfn).not.toBe(cachePfn);
    expect(t.translate(a)).toBe(pfn);
    expect(k.page(pfn).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(k.page(pfn).data).toBe(1000);
    expect(k.page(cachePfn).flags).not.toContain('dirty');
    expect(k.page(cachePfn).mapcount).toBe(0);
    expect(t.pread(fd, 0)).toBe(1000);
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, a, 1, FOLL_WRITE, ga)).toBe(0); // still read-only
    k.unpin_user_pages(pa, 1);
  });

  it('FOLL_FORCE write to a read-only MAP_SHARED mapping is -EFAULT (not a COW mapping)', async () => {
    const k = await bootTest(backend);
    const pa = k.pageArray(1);
    for (const fs of ['ext4', 'tmpfs'] as const) {
      const { t, fd } = fileWithData(k, fs, 1);
      const a = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd });
      expect(t.read(a)).toBe(1000);
      expect(k.pin_user_pages(t, a, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(-C.EFAULT);
      expect(k.get_user_pages(t, a, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(-C.EFAULT);
      expect(pa.get(0)).toBeNull();
    }
    const t = k.spawn();
    const s = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    expect(k.pin_user_pages(t, s, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(-C.EFAULT);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a read of a PROT_NONE VMA is -EFAULT without FOLL_FORCE and succeeds with it', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = writtenAnon(t, 2, 40);
    const pfn = t.translate(a)!;
    t.mprotect(a, 2 * PAGE, C.PROT_NONE);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(-C.EFAULT);
    expect(pa.get(0)).toBeNull();
    expect(k.pin_user_pages(t, a, 2, FOLL_FORCE, pa)).toBe(2);
    expect(pa.get(0)).toBe(pfn);
    expect(k.page(pfn).data).toBe(40);
    expect(k.page(pa.get(1)!).data).toBe(41);
    k.unpin_user_pages(pa, 2);
    // An untouched PROT_NONE page: FOLL_FORCE faults it in.
    const b = anon(t, 1, C.PROT_NONE);
    expect(k.pin_user_pages(t, b, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages(t, b, 1, FOLL_FORCE, pa)).toBe(1);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('GUP-fast refuses PROT_NONE entries; pin_user_pages_fast(FOLL_FORCE) gets them through the slow path', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 8);
    const pfn = t.translate(a)!;
    t.mprotect(a, PAGE, C.PROT_NONE);
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, a, 1, 0, ga)).toBe(0);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages_fast(t, a, 1, FOLL_FORCE, pa)).toBe(1);
    expect(pa.get(0)).toBe(pfn);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_FORCE write to a fork-shared page in a read-only private VMA breaks COW; the child keeps the original', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 90);
    const orig = t.translate(a)!;
    t.mprotect(a, PAGE, C.PROT_READ);
    const c = t.fork();
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE | FOLL_FORCE, pa)).toBe(1);
    const pinned = pa.get(0)!;
    expect(pinned).not.toBe(orig);
    expect(t.translate(a)).toBe(pinned);
    expect(c.translate(a)).toBe(orig);
    expect(k.page(pinned).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(k.page(pinned).data).toBe(90);
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, a, 1, FOLL_WRITE, ga)).toBe(0); // read-only VMA: read-only PTE
    k.unpin_user_pages(pa, 1);
  });

  it('a range over two VMAs: each VMA is checked; a later refusal is swallowed once pages are taken', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 3);
    t.mprotect(a + PAGE, PAGE, C.PROT_READ); // three VMAs: rw, r, rw
    expect(t.maps().filter((v) => v.start >= a && v.end <= a + 3 * PAGE)).toHaveLength(3);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(3);
    k.unpin_user_pages(pa, 3);
    const wa = k.pageArray(3); // (entries past the returned count are not written)
    expect(k.pin_user_pages(t, a, 3, FOLL_WRITE, wa)).toBe(1);
    expect(pfns(wa)).toEqual([t.translate(a), null, null]);
    k.unpin_user_pages(wa, 1);
    expect(k.pin_user_pages(t, a + PAGE, 2, FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(pinsHeld(k)).toBe(0);
  });

  it('PIN|LONGTERM|WRITE of a MAP_SHARED ext4 mapping is -EFAULT; tmpfs, memfd and MAP_PRIVATE ext4 pass', async () => {
    const k = await bootTest(backend);
    const pa = k.pageArray(2);
    const LW = FOLL_LONGTERM | FOLL_WRITE;

    const { t, fd } = fileWithData(k, 'ext4', 2);
    const shared = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const before = stats(k);
    expect(k.pin_user_pages(t, shared, 2, LW, pa)).toBe(-C.EFAULT);
    t.write(shared, 1); // faulted and writable: GUP-fast refuses it, the slow path says -EFAULT
    expect(k.pin_user_pages_fast(t, shared, 2, LW, pa)).toBe(-C.EFAULT);
    expect(pfns(pa)).toEqual([null, null]);
    expect(pinsHeld(k)).toBe(0);
    expect(stats(k).nr_foll_pin_acquired - before.nr_foll_pin_acquired)
      .toBe(stats(k).nr_foll_pin_released - before.nr_foll_pin_released);
    // Not refused: a short-term write pin, and a long-term read-only pin.
    expect(k.pin_user_pages(t, shared, 2, FOLL_WRITE, pa)).toBe(2);
    k.unpin_user_pages(pa, 2);
    expect(k.pin_user_pages(t, shared, 2, FOLL_LONGTERM, pa)).toBe(2);
    k.unpin_user_pages(pa, 2);

    // MAP_PRIVATE of the same file: a COW mapping, allowed (an anon copy).
    const priv = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    expect(k.pin_user_pages(t, priv, 2, LW, pa)).toBe(2);
    for (let i = 0; i < 2; i++) expect(isAnon(k, pa.get(i)!)).toBe(true);
    expect(pfns(pa).map((p) => k.page(p!).data)).toEqual([1, 1001]); // page 0 was written above
    k.unpin_user_pages(pa, 2);

    // tmpfs (shmem): no dirty tracking, allowed; the page-cache page itself.
    const tm = fileWithData(k, 'tmpfs', 2);
    const ts = tm.t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: tm.fd });
    expect(k.pin_user_pages(tm.t, ts, 2, LW, pa)).toBe(2);
    expect(pa.get(0)).toBe(tm.t.translate(ts));
    expect(isAnon(k, pa.get(0)!)).toBe(false);
    k.unpin_user_pages(pa, 2);
    expect(k.pin_user_pages_fast(tm.t, ts, 2, LW, pa)).toBe(2);
    k.unpin_user_pages(pa, 2);

    // memfd.
    const u = k.spawn();
    const mfd = u.memfd_create('buf');
    u.ftruncate(mfd, 2 * PAGE);
    const m = u.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: mfd });
    expect(k.pin_user_pages(u, m, 2, LW, pa)).toBe(2);
    expect(pa.get(1)).toBe(u.translate(m + PAGE));
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('an address with no VMA is -EFAULT; a range running off the VMA returns the pages before the hole', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = writtenAnon(t, 3);
    t.munmap(a + 2 * PAGE, PAGE);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a + 2 * PAGE, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.get_user_pages(t, a + 2 * PAGE, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages_fast(t, a + 2 * PAGE, 1, 0, pa)).toBe(-C.EFAULT);
    expect(k.pin_user_pages(t, 0, 1, 0, pa)).toBe(-C.EFAULT);
    expect(pinsHeld(k)).toBe(0);
    expect(k.pin_user_pages(t, a, 3, 0, pa)).toBe(2);
    expect(pfns(pa)).toEqual([t.translate(a), t.translate(a + PAGE), null]);
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_NOFAULT: a page that needs a fault is -EFAULT; present pages are taken', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 1, FOLL_NOFAULT, pa)).toBe(-C.EFAULT);
    expect(k.get_user_pages(t, a, 1, FOLL_NOFAULT | FOLL_WRITE, pa)).toBe(-C.EFAULT);
    expect(t.translate(a)).toBeNull(); // nothing was faulted in
    t.write(a, 1);
    expect(k.pin_user_pages(t, a, 2, FOLL_NOFAULT | FOLL_WRITE, pa)).toBe(1);
    expect(pfns(pa)).toEqual([t.translate(a), null]);
    k.unpin_user_pages(pa, 1);
    // A read-only pin that would need an unshare fault is refused too.
    const c = t.fork();
    expect(k.pin_user_pages(t, a, 1, FOLL_NOFAULT, pa)).toBe(-C.EFAULT);
    expect(t.translate(a)).toBe(c.translate(a));
    expect(pinsHeld(k)).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// 2. Faults, COW unshare, the zero page, FOLL_TOUCH (4.4-4.7; checklist 40-51)
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('faults and unshare (%s core)', (backend) => {
  it('a write pin of untouched anon memory faults in real exclusive anon pages', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 3);
    const pa = k.pageArray(3);
    const before = stats(k);
    expect(k.pin_user_pages(t, a, 3, FOLL_WRITE, pa)).toBe(3);
    for (let i = 0; i < 3; i++) {
      const pfn = pa.get(i)!;
      expect(pfn).not.toBe(0);
      expect(t.translate(a + i * PAGE)).toBe(pfn);
      const p = k.page(pfn);
      expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
      expect(p.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
      expect(p.mapcount).toBe(1);
      expect(p.maybeDmaPinned).toBe(true);
    }
    expect(stats(k).nr_foll_pin_acquired - before.nr_foll_pin_acquired).toBe(3);
    // The pages are really mapped: a user write needs no further fault.
    const faults = stats(k).pgfault;
    t.write(a, 9);
    expect(stats(k).pgfault).toBe(faults);
    expect(k.page(pa.get(0)!).data).toBe(9);
    k.unpin_user_pages(pa, 3);
    expect(k.page(pa.get(0)!).refcount).toBe(1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a R/O pin of a COW-shared anon page after fork unshares it: the parent gets its own exclusive copy', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 55);
    const orig = t.translate(a)!;
    const c = t.fork();
    expect(c.translate(a)).toBe(orig);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    const pinned = pa.get(0)!;
    expectExclusiveIfAnon(k, pinned);
    expect(pinned).not.toBe(orig);
    expect(t.translate(a)).toBe(pinned);
    expect(c.translate(a)).toBe(orig);
    expect(k.page(pinned).data).toBe(55);
    expect(k.page(orig).mapcount).toBe(1);
    expect(k.page(orig).refcount).toBe(1);
    // The unshare fault is not a write fault: the PTE stays read-only.
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, a, 1, FOLL_WRITE, ga)).toBe(0);
    // The child's write reuses the original page, now only its own.
    c.write(a, 56);
    expect(c.translate(a)).toBe(orig);
    expect(t.read(a)).toBe(55);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a R/O pin of a non-exclusive anon page that has no other user reuses it (marks it exclusive)', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 3);
    const pfn = t.translate(a)!;
    t.fork().exit();
    expect(k.page(pfn).flags).not.toContain('anon_exclusive');
    expect(k.page(pfn).refcount).toBe(1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(pa.get(0)).toBe(pfn);
    expect(k.page(pfn).flags).toContain('anon_exclusive');
    expect(k.page(pfn).refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, a, 1, FOLL_WRITE, ga)).toBe(0); // still write-protected
    k.unpin_user_pages(pa, 1);
  });

  it('R/O short-term pin of untouched private anon returns the zero page, with no accounting', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const zero = k.page(0);
    const before = stats(k);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, 0, pa)).toBe(2);
    expect(pfns(pa)).toEqual([0, 0]);
    expect(t.translate(a)).toBe(0);
    expect(k.page(0).refcount).toBe(zero.refcount);
    expect(stats(k).nr_foll_pin_acquired).toBe(before.nr_foll_pin_acquired);
    k.unpin_user_pages(pa, 2);
    expect(k.page(0).refcount).toBe(zero.refcount);
    expect(stats(k).nr_foll_pin_released).toBe(before.nr_foll_pin_released);
    // pin_user_pages_fast falls back for the zero page and returns it too.
    expect(k.pin_user_pages_fast(t, a, 2, 0, pa)).toBe(2);
    expect(pfns(pa)).toEqual([0, 0]);
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('R/O FOLL_LONGTERM pin of untouched or zero-page-mapped private anon gets a fresh exclusive anon page', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 2);
    t.read(a + PAGE); // maps the zero page
    expect(t.translate(a + PAGE)).toBe(0);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, FOLL_LONGTERM, pa)).toBe(2);
    for (let i = 0; i < 2; i++) {
      const pfn = pa.get(i)!;
      expect(pfn).not.toBe(0);
      expect(t.translate(a + i * PAGE)).toBe(pfn);
      expect(k.page(pfn).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
      expect(k.page(pfn).data).toBe(0);
    }
    expect(pa.get(0)).not.toBe(pa.get(1));
    k.unpin_user_pages(pa, 2);
    // Same through pin_user_pages_fast (the fast path cannot unshare: it falls back).
    const b = anon(t, 1);
    t.read(b);
    expect(k.pin_user_pages_fast(t, b, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(0);
    expect(isAnon(k, pa.get(0)!)).toBe(true);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('MAP_PRIVATE ext4: R/O LONGTERM pin unshares into an anon copy; a short-term R/O pin takes the page-cache page', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const { t, fd } = fileWithData(k, 'ext4', 2);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    const pa = k.pageArray(1);
    // Short-term: the page-cache page itself, mapped.
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    const cachePfn = pa.get(0)!;
    expect(t.translate(a)).toBe(cachePfn);
    expect(isAnon(k, cachePfn)).toBe(false);
    expect(k.page(cachePfn).data).toBe(1000);
    expect(k.page(cachePfn).refcount).toBe(2 + C.GUP_PIN_COUNTING_BIAS); // cache + mapping + pin
    k.unpin_user_pages(pa, 1);
    // Long-term R/O: unshared into an exclusive anon copy, mapped instead.
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(1);
    const copy = pa.get(0)!;
    expect(copy).not.toBe(cachePfn);
    expect(t.translate(a)).toBe(copy);
    expect(k.page(copy).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(k.page(copy).data).toBe(1000);
    expect(k.page(cachePfn).mapcount).toBe(0);
    expect(k.page(cachePfn).refcount).toBe(1);
    expect(k.page(cachePfn).flags).not.toContain('dirty');
    k.unpin_user_pages(pa, 1);
    // Also on a page never faulted before.
    expect(k.pin_user_pages(t, a + PAGE, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(isAnon(k, pa.get(0)!)).toBe(true);
    expect(k.page(pa.get(0)!).data).toBe(1001);
    k.unpin_user_pages(pa, 1);
    // And through pin_user_pages_fast, on a page-cache page already mapped
    // (GUP-fast cannot tell the VMA is COW: it falls back, and the slow path unshares).
    const b = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    t.read(b);
    expect(t.translate(b)).toBe(cachePfn);
    expect(k.pin_user_pages_fast(t, b, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(cachePfn);
    expect(k.page(pa.get(0)!).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(t.translate(b)).toBe(pa.get(0));
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('MAP_SHARED file: a R/O LONGTERM pin never unshares (not a COW mapping)', async () => {
    const k = await bootTest(backend);
    const { t, fd } = fileWithData(k, 'ext4', 1);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.read(a);
    const cachePfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).toBe(cachePfn);
    expect(isAnon(k, cachePfn)).toBe(false);
    k.unpin_user_pages(pa, 1);
    expect(k.pin_user_pages_fast(t, a, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).toBe(cachePfn);
    expect(t.translate(a)).toBe(cachePfn);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a R/O LONGTERM pin of the huge zero folio unshares into a fresh exclusive anon page', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const big = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(big / (2 * MIB)) * 2 * MIB;
    expect(t.read(h + PAGE)).toBe(0);
    const hz = t.translate(h)!;
    expect(k.page(hz).order).toBe(9);
    expect(isAnon(k, hz)).toBe(false);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, h + PAGE, 1, FOLL_LONGTERM, pa)).toBe(1);
    const pfn = pa.get(0)!;
    expect(k.page(pfn).head).not.toBe(k.page(hz).head);
    expect(k.page(pfn).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(t.translate(h + PAGE)).toBe(pfn);
    expect(k.page(pfn).data).toBe(0);
    expect(t.read(h)).toBe(0);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a R/O pin of a fork-shared private hugetlb page unshares it into another pool page', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 3 } });
    const t = k.spawn();
    const h = t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    t.write(h + 3 * PAGE, 33);
    const head = t.translate(h)!;
    const c = t.fork();
    expect(c.translate(h)).toBe(head);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, h + 3 * PAGE, 1, 0, pa)).toBe(1);
    const pfn = pa.get(0)!;
    const p = k.page(pfn);
    expect(p.head).not.toBe(head);
    expect(p.flags).toEqual(expect.arrayContaining(['hugetlb', 'anon']));
    expectExclusiveIfAnon(k, pfn);
    expect(pfn - p.head).toBe(3);
    expect(p.data).toBe(33);
    expect(t.translate(h)).toBe(p.head);
    expect(c.translate(h)).toBe(head);
    expect(k.meminfo().HugePages_Free).toBe(1);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('every anon page returned by a FOLL_PIN call is AnonExclusive (exclusive, shared, zero, THP, private file)', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const n = 6;
    const a = anon(t, n);
    t.write(a, 1); // exclusive
    t.write(a + PAGE, 2);
    t.read(a + 2 * PAGE); // zero page
    // a + 3 .. untouched
    const big = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(big / (2 * MIB)) * 2 * MIB;
    t.write(h, 7);
    expect(k.page(t.translate(h)!).order).toBe(9); // a THP
    const { fd } = fileWithData(k, 'ext4', 2, t);
    const fm = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    t.read(fm);
    const c = t.fork(); // everything COW-shared now
    const cases: [string, number, number][] = [
      ['anon', a, n], ['thp', h, 4], ['file', fm, 2],
    ];
    for (const flags of [0, FOLL_LONGTERM, FOLL_WRITE, FOLL_WRITE | FOLL_LONGTERM]) {
      for (const [name, addr, cnt] of cases) {
        for (const pin of ['slow', 'fast'] as const) {
          const pa = k.pageArray(cnt);
          const r = pin === 'slow' ? k.pin_user_pages(t, addr, cnt, flags, pa) : k.pin_user_pages_fast(t, addr, cnt, flags, pa);
          expect(r, `${name} ${pin} flags ${flags}`).toBe(cnt);
          for (let i = 0; i < cnt; i++) {
            expectExclusiveIfAnon(k, pa.get(i));
            expect(t.translate(addr + i * PAGE)).toBe(pa.get(i));
          }
          k.unpin_user_pages(pa, cnt);
          pa.free();
        }
      }
    }
    expect(c.read(a)).toBe(1);
    expect(c.read(h)).toBe(7);
    expect(pinsHeld(k)).toBe(0);
  });

  it('FOLL_TOUCH: get_user_pages(FOLL_WRITE) dirties and references a clean shmem page; pin_user_pages does neither', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'tmpfs', size: 4 * PAGE });
    const t = k.spawn();
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    t.touch(a, 4 * PAGE); // read faults: mapped writable but clean
    for (let i = 0; i < 4; i++) {
      const p = pageAt(k, t, a + i * PAGE);
      expect(p.flags).not.toContain('dirty');
      expect(p.flags).not.toContain('referenced');
    }
    const pa = k.pageArray(1);
    // pin_user_pages: FOLL_PIN only, no FOLL_TOUCH.
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    expect(k.page(pa.get(0)!).flags).not.toContain('dirty');
    expect(k.page(pa.get(0)!).flags).not.toContain('referenced');
    k.unpin_user_pages(pa, 1);
    expect(k.page(t.translate(a)!).flags).not.toContain('dirty');
    // get_user_pages adds FOLL_TOUCH: accessed, and dirty for a write.
    expect(k.get_user_pages(t, a + PAGE, 1, FOLL_WRITE, pa)).toBe(1);
    expect(k.page(pa.get(0)!).flags).toEqual(expect.arrayContaining(['dirty', 'referenced']));
    k.put_page(pa.get(0)!);
    // A read get_user_pages: referenced, not dirty.
    expect(k.get_user_pages(t, a + 2 * PAGE, 1, 0, pa)).toBe(1);
    expect(k.page(pa.get(0)!).flags).toContain('referenced');
    expect(k.page(pa.get(0)!).flags).not.toContain('dirty');
    k.put_page(pa.get(0)!);
    // pin_user_pages_unlocked adds FOLL_TOUCH too.
    expect(k.pin_user_pages_unlocked(t, a + 3 * PAGE, 1, pa, FOLL_WRITE)).toBe(1);
    expect(k.page(pa.get(0)!).flags).toContain('dirty');
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// 3. GUP-fast (5; checklist 53-58)
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('GUP-fast (%s core)', (backend) => {
  it('get_user_pages_fast_only takes nothing of unfaulted memory and everything of faulted memory', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    const pa = k.pageArray(4);
    expect(k.get_user_pages_fast_only(t, a, 4, 0, pa)).toBe(0);
    expect(t.translate(a)).toBeNull(); // never faults
    t.touch(a, 4 * PAGE, { write: true });
    expect(k.get_user_pages_fast_only(t, a, 4, FOLL_WRITE, pa)).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(pa.get(i)).toBe(t.translate(a + i * PAGE));
      expect(k.page(pa.get(i)!).refcount).toBe(2); // FOLL_GET
      k.put_page(pa.get(i)!);
      expect(k.page(pa.get(i)!).refcount).toBe(1);
    }
  });

  it('GUP-fast takes a prefix: it stops at the first unfaulted page (fast_only) and the slow path does the rest', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 1);
    t.write(a + PAGE, 2);
    t.write(a + 3 * PAGE, 4); // page 2 missing
    const ga = k.pageArray(4);
    expect(k.get_user_pages_fast_only(t, a, 4, 0, ga)).toBe(2);
    expect(pfns(ga)).toEqual([t.translate(a), t.translate(a + PAGE), null, null]);
    k.put_page(ga.get(0)!);
    k.put_page(ga.get(1)!);
    const before = stats(k);
    const pa = k.pageArray(4);
    expect(k.pin_user_pages_fast(t, a, 4, FOLL_WRITE, pa)).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(pa.get(i)).toBe(t.translate(a + i * PAGE));
      expect(k.page(pa.get(i)!).refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
      expectExclusiveIfAnon(k, pa.get(i));
    }
    expect(stats(k).nr_foll_pin_acquired - before.nr_foll_pin_acquired).toBe(4);
    k.unpin_user_pages(pa, 4);
    expect(pinsHeld(k)).toBe(0);
  });

  it('GUP-fast refuses the zero page (a special PTE)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 1);
    t.write(a + PAGE, 2);
    t.read(a + 2 * PAGE);
    t.write(a + 3 * PAGE, 4);
    expect(t.translate(a + 2 * PAGE)).toBe(0);
    const zeroRef = k.page(0).refcount;
    const ga = k.pageArray(4);
    expect(k.get_user_pages_fast_only(t, a + 2 * PAGE, 1, 0, ga)).toBe(0);
    expect(k.get_user_pages_fast_only(t, a, 4, 0, ga)).toBe(2);
    expect(pfns(ga)).toEqual([t.translate(a), t.translate(a + PAGE), null, null]);
    expect(k.page(0).refcount).toBe(zeroRef);
    k.put_page(ga.get(0)!);
    k.put_page(ga.get(1)!);
    // The slow path (get_user_pages_fast falls back) does return it, with a reference.
    expect(k.get_user_pages_fast(t, a + 2 * PAGE, 1, 0, ga)).toBe(1);
    expect(ga.get(0)).toBe(0);
    expect(k.page(0).refcount).toBe(zeroRef + 1);
    k.put_page(0);
    expect(k.page(0).refcount).toBe(zeroRef);
  });

  it('GUP-fast refuses a read-only PTE for FOLL_WRITE, and a fork-shared page for a R/O pin (unshare)', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2);
    const orig = t.translate(a)!;
    const c = t.fork();
    const ga = k.pageArray(2);
    // Both PTEs are write-protected by fork.
    expect(k.get_user_pages_fast_only(t, a, 2, FOLL_WRITE, ga)).toBe(0);
    expect(k.get_user_pages_fast_only(t, a, 2, 0, ga)).toBe(2); // a GET needs no unshare
    k.put_page(ga.get(0)!);
    k.put_page(ga.get(1)!);
    // A R/O pin: GUP-fast grabs, sees it must unshare, drops the pin (both
    // counters move) and the slow path unshares.
    const before = stats(k);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 1, 0, pa)).toBe(1);
    const after = stats(k);
    expect(pa.get(0)).not.toBe(orig);
    expectExclusiveIfAnon(k, pa.get(0));
    expect(c.translate(a)).toBe(orig);
    expect(after.nr_foll_pin_acquired - before.nr_foll_pin_acquired).toBe(2);
    expect(after.nr_foll_pin_released - before.nr_foll_pin_released).toBe(1);
    expect(pinsHeld(k)).toBe(1);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('pin_user_pages_fast(FOLL_LONGTERM) of ZONE_MOVABLE pages returns pages migrated out of it', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const n = 4;
    const a = writtenAnon(t, n, 300);
    const old = Array.from({ length: n }, (_, i) => t.translate(a + i * PAGE)!);
    for (const pfn of old) {
      expect(k.page(pfn).zone).toBe('Movable');
      expect(k.folio_is_longterm_pinnable(pfn)).toBe(false);
    }
    const before = stats(k);
    const pa = k.pageArray(n);
    expect(k.pin_user_pages_fast(t, a, n, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(n);
    for (let i = 0; i < n; i++) {
      const pfn = pa.get(i)!;
      expect(old).not.toContain(pfn);
      const p = k.page(pfn);
      expect(p.zone).toBe('Normal');
      expect(p.migratetype).not.toBe('CMA');
      expect(k.folio_is_longterm_pinnable(pfn)).toBe(true);
      expect(t.translate(a + i * PAGE)).toBe(pfn);
      expect(t.read(a + i * PAGE)).toBe(300 + i);
      expect(p.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    }
    expect(stats(k).pgmigrate_success - before.pgmigrate_success).toBe(n);
    expect(pinsHeld(k)).toBe(n);
    for (const pfn of old) expect(k.page(pfn).refcount).toBe(0);
    // get_user_pages_fast_only is a GET: it takes ZONE_MOVABLE pages as they are.
    const b = writtenAnon(t, 1);
    const ga = k.pageArray(1);
    expect(k.get_user_pages_fast_only(t, b, 1, 0, ga)).toBe(1);
    expect(k.page(ga.get(0)!).zone).toBe('Movable');
    k.put_page(ga.get(0)!);
    k.unpin_user_pages(pa, n);
    expect(pinsHeld(k)).toBe(0);
    expect(stats(k).nr_isolated_anon).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// 4. FOLL_LONGTERM (6; checklist 60-64)
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('FOLL_LONGTERM (%s core)', (backend) => {
  // 64 MiB with a 40 MiB CMA area: CMA holds more than half of ZONE_NORMAL's
  // free pages, so movable allocations take CMA first.
  const bootCma = () => bootTest(backend, { cma: '40MiB', thp: 'never' });

  it('a long-term pin migrates CMA pages out: new pfns, same data, remapped, nothing else pinned', async () => {
    const k = await bootCma();
    const t = k.spawn();
    const n = 4;
    const a = writtenAnon(t, n, 500);
    const old = Array.from({ length: n }, (_, i) => t.translate(a + i * PAGE)!);
    for (const pfn of old) {
      expect(k.page(pfn).migratetype).toBe('CMA');
      expect(k.folio_is_longterm_pinnable(pfn)).toBe(false);
    }
    const cmaFree = k.meminfo().CmaFree;
    const before = stats(k);
    const pa = k.pageArray(n);
    expect(k.pin_user_pages(t, a, n, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(n);
    for (let i = 0; i < n; i++) {
      const pfn = pa.get(i)!;
      expect(old).not.toContain(pfn);
      expect(k.folio_is_longterm_pinnable(pfn)).toBe(true);
      const p = k.page(pfn);
      expect(p.migratetype).not.toBe('CMA');
      expect(p.zone).toBe('Normal');
      expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
      expect(p.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
      expect(p.mapcount).toBe(1);
      expect(t.translate(a + i * PAGE)).toBe(pfn);
      expect(t.read(a + i * PAGE)).toBe(500 + i);
    }
    const after = stats(k);
    expect(after.pgmigrate_success - before.pgmigrate_success).toBe(n);
    expect(pinsHeld(k)).toBe(n); // only the returned pages
    expect(after.nr_isolated_anon).toBe(0);
    for (const pfn of old) {
      expect(k.page(pfn).refcount).toBe(0);
      expect(k.page(pfn).maybeDmaPinned).toBe(false);
    }
    expect(k.meminfo().CmaFree).toBe(cmaFree + n * 4);
    k.unpin_user_pages(pa, n);
    expect(pinsHeld(k)).toBe(0);
    for (let i = 0; i < n; i++) expect(k.page(pa.get(i)!).refcount).toBe(1);
  });

  it('a R/O long-term pin of ZONE_MOVABLE pages migrates them too', async () => {
    const k = await bootTest(backend, { movable: '16MiB', cma: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2, 10);
    const old = [t.translate(a)!, t.translate(a + PAGE)!];
    expect(k.page(old[0]).zone).toBe('Movable');
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, FOLL_LONGTERM, pa)).toBe(2);
    for (let i = 0; i < 2; i++) {
      const p = k.page(pa.get(i)!);
      expect(old).not.toContain(p.pfn);
      expect(p.zone).toBe('Normal');
      expect(p.migratetype).not.toBe('CMA');
      expectExclusiveIfAnon(k, p.pfn);
      expect(t.read(a + i * PAGE)).toBe(10 + i);
    }
    k.unpin_user_pages(pa, 2);
    expect(pinsHeld(k)).toBe(0);
  });

  it('pages faulted in by a long-term pin avoid ZONE_MOVABLE and CMA (memalloc_pin_save)', async () => {
    const k = await bootTest(backend, { movable: '16MiB', cma: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 3);
    const before = stats(k);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(3);
    for (let i = 0; i < 3; i++) {
      const p = k.page(pa.get(i)!);
      expect(p.zone).toBe('Normal');
      expect(p.migratetype).not.toBe('CMA');
    }
    expect(stats(k).pgmigrate_success).toBe(before.pgmigrate_success); // nothing to migrate
    k.unpin_user_pages(pa, 3);
    // Outside the pin, user pages go to ZONE_MOVABLE again.
    const b = writtenAnon(t, 1);
    expect(pageAt(k, t, b).zone).toBe('Movable');
  });

  it('a CMA page already pinned short-term cannot be migrated: the long-term pin fails with -ENOMEM and holds nothing', async () => {
    const k = await bootCma();
    const t = k.spawn();
    const a = writtenAnon(t, 1, 42);
    const pfn = t.translate(a)!;
    expect(k.page(pfn).migratetype).toBe('CMA');
    const p1 = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, p1)).toBe(1); // short-term: stays in CMA
    expect(p1.get(0)).toBe(pfn);
    const before = stats(k);
    const p2 = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, p2)).toBe(-C.ENOMEM);
    expect(p2.get(0)).toBeNull();
    expect(pinsHeld(k)).toBe(1); // only the first pin
    expect(stats(k).pgmigrate_fail).toBeGreaterThan(before.pgmigrate_fail);
    expect(stats(k).nr_isolated_anon).toBe(0);
    const p = k.page(pfn);
    expect(p.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    expect(p.flags).not.toContain('isolated');
    expect(t.translate(a)).toBe(pfn);
    expect(t.read(a)).toBe(42);
    // Same through the fast variant.
    expect(k.pin_user_pages_fast(t, a, 1, FOLL_LONGTERM, p2)).toBe(-C.ENOMEM);
    expect(pinsHeld(k)).toBe(1);
    k.unpin_user_pages(p1, 1);
    const end = stats(k);
    expect(end.nr_foll_pin_acquired).toBe(end.nr_foll_pin_released);
    expect(k.page(pfn).refcount).toBe(1);
    // Once the short-term pin is gone, the long-term pin migrates it.
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, p2)).toBe(1);
    expect(p2.get(0)).not.toBe(pfn);
    expect(k.page(p2.get(0)!).migratetype).not.toBe('CMA');
    k.unpin_user_pages(p2, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a plain GUP reference also blocks the migration: -ENOMEM, and put_page restores the refcount', async () => {
    const k = await bootCma();
    const t = k.spawn();
    const a = writtenAnon(t, 1, 1);
    const pfn = t.translate(a)!;
    const ga = k.pageArray(1);
    expect(k.get_user_pages(t, a, 1, 0, ga)).toBe(1);
    expect(k.page(pfn).refcount).toBe(2);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(-C.ENOMEM);
    expect(k.page(pfn).refcount).toBe(2);
    expect(pinsHeld(k)).toBe(0);
    k.put_page(pfn);
    expect(k.page(pfn).refcount).toBe(1);
  });

  it('when one folio of the range cannot migrate, the others are still migrated (migrate_pages tries them all)', async () => {
    const k = await bootCma();
    const t = k.spawn();
    const a = writtenAnon(t, 3, 70);
    const old = [0, 1, 2].map((i) => t.translate(a + i * PAGE)!);
    const p1 = k.pageArray(1);
    expect(k.pin_user_pages(t, a + PAGE, 1, 0, p1)).toBe(1); // the middle page
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, FOLL_LONGTERM, pa)).toBe(-C.ENOMEM);
    expect(pfns(pa)).toEqual([null, null, null]);
    expect(pinsHeld(k)).toBe(1);
    expect(t.translate(a + PAGE)).toBe(old[1]);
    for (const i of [0, 2]) {
      const now = t.translate(a + i * PAGE)!;
      expect(now, `page ${i}`).not.toBe(old[i]);
      expect(k.page(now).migratetype).not.toBe('CMA');
    }
    expect([0, 1, 2].map((i) => t.read(a + i * PAGE))).toEqual([70, 71, 72]);
    expect(stats(k).nr_isolated_anon).toBe(0);
    k.unpin_user_pages(p1, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a long-term pin migrates a shmem page-cache page: every mapper and the page cache follow it', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const f = k.createFile({ fs: 'tmpfs', size: 2 * PAGE });
    const t = k.spawn();
    const u = k.spawn();
    const tfd = t.open(f);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: tfd });
    const b = u.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: u.open(f) });
    t.write(a + PAGE, 17);
    expect(u.read(b + PAGE)).toBe(17);
    const old = t.translate(a + PAGE)!;
    expect(u.translate(b + PAGE)).toBe(old);
    expect(k.page(old).zone).toBe('Movable');
    const cached = k.meminfo().Cached;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a + PAGE, 1, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(1);
    const pfn = pa.get(0)!;
    expect(pfn).not.toBe(old);
    expect(k.page(pfn).zone).toBe('Normal');
    expect(t.translate(a + PAGE)).toBe(pfn);
    expect(u.translate(b + PAGE)).toBe(pfn);
    expect(k.page(pfn).mapcount).toBe(2);
    expect(k.page(pfn).refcount).toBe(3 + C.GUP_PIN_COUNTING_BIAS); // cache + 2 mappings + pin
    expect(k.meminfo().Cached).toBe(cached);
    u.write(b + PAGE, 18); // the device and both tasks share one page
    expect(k.page(pfn).data).toBe(18);
    expect(t.pread(tfd, PAGE)).toBe(18);
    expect(k.page(old).refcount).toBe(0);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a long-term pin of a ZONE_MOVABLE THP migrates the whole folio', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'always' });
    const t = k.spawn();
    const big = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(big / (2 * MIB)) * 2 * MIB;
    t.write(h, 1);
    t.write(h + 511 * PAGE, 512);
    const head = t.translate(h)!;
    expect(k.page(head).order).toBe(9);
    expect(k.page(head).zone).toBe('Movable');
    const before = stats(k);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, h + 510 * PAGE, 2, FOLL_LONGTERM | FOLL_WRITE, pa)).toBe(2);
    const p = k.page(pa.get(1)!);
    expect(p.zone).toBe('Normal');
    expect(p.migratetype).not.toBe('CMA');
    expect(p.head).not.toBe(head);
    expect(pa.get(0)).toBe(pa.get(1)! - 1);
    expect(t.translate(h)).toBe(p.head);
    expect(k.page(t.translate(h)!).zone).toBe('Normal');
    expect(t.read(h)).toBe(1);
    expect(t.read(h + 511 * PAGE)).toBe(512);
    expect(stats(k).pgmigrate_success - before.pgmigrate_success).toBe(512);
    expect(k.page(p.head).pincount).toBe(2);
    k.unpin_user_pages(pa, 2);
    expect(k.page(p.head).pincount).toBe(0);
    expect(pinsHeld(k)).toBe(0);
  });

  it('migrate_folio of a fork-shared anon page remaps it in parent and child', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 4);
    const pfn = t.translate(a)!;
    const c = t.fork();
    expect(k.migrate_folio(pfn)).toBe(0);
    const now = t.translate(a)!;
    expect(now).not.toBe(pfn);
    expect(c.translate(a)).toBe(now);
    expect(k.page(now).mapcount).toBe(2);
    expect(k.page(now).refcount).toBe(2);
    c.write(a, 5);
    expect(t.read(a)).toBe(4);
  });

  it('migrate_folio of a tmpfs page mapped at two file offsets and by a child remaps all three (file rmap)', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const fd = t.memfd_create('m');
    t.ftruncate(fd, 4 * PAGE);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd }); // file pages 0-3
    const b = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd, offset: 2 * PAGE }); // pages 2-3
    t.write(a + 3 * PAGE, 7);
    expect(t.read(b + PAGE)).toBe(7);
    const c = t.fork(); // shared file PTEs are not copied: the child faults them
    expect(c.read(a + 3 * PAGE) + c.read(b + PAGE)).toBe(14);
    const pfn = t.translate(b + PAGE)!;
    expect(t.translate(a + 3 * PAGE)).toBe(pfn);
    expect(k.page(pfn).zone).toBe('Movable');
    expect(k.migrate_folio(pfn)).toBe(0);
    const now = t.translate(b + PAGE)!;
    expect(now).not.toBe(pfn);
    expect(t.translate(a + 3 * PAGE)).toBe(now);
    expect(c.translate(a + 3 * PAGE)).toBe(now);
    expect(c.translate(b + PAGE)).toBe(now);
    expect(k.page(now).mapcount).toBe(4);
    expect(c.read(b + PAGE)).toBe(7);
  });

  it('FOLL_LONGTERM over adjacent VMAs of two anon_vmas and a file migrates every run of folios', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = t.mmap({ length: 6 * PAGE, prot: RW, flags: ANON_PRIVATE });
    const fd = t.memfd_create('m');
    t.ftruncate(fd, 2 * PAGE);
    // [a, a+2): anon; [a+2, a+4): the file; [a+4, a+6): anon of another anon_vma.
    t.mmap({ addr: a + 2 * PAGE, length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_FIXED, fd });
    t.mprotect(a + 4 * PAGE, 2 * PAGE, C.PROT_READ);
    t.mprotect(a + 4 * PAGE, 2 * PAGE, RW);
    for (let i = 0; i < 6; i++) t.write(a + i * PAGE, 10 + i);
    const before = Array.from({ length: 6 }, (_, i) => t.translate(a + i * PAGE)!);
    expect(before.every((p) => k.page(p).zone === 'Movable')).toBe(true);
    const pa = k.pageArray(6);
    const migrated = stats(k).pgmigrate_success;
    expect(k.pin_user_pages(t, a, 6, FOLL_WRITE | FOLL_LONGTERM, pa)).toBe(6);
    expect(stats(k).pgmigrate_success - migrated).toBe(6);
    for (let i = 0; i < 6; i++) {
      const p = pa.get(i)!;
      expect(p).not.toBe(before[i]);
      expect(k.page(p).zone).toBe('Normal');
      expect(t.translate(a + i * PAGE)).toBe(p);
      expect(t.read(a + i * PAGE)).toBe(10 + i);
    }
    k.unpin_user_pages(pa, 6);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a R/O long-term pin of a reusable COW page in ZONE_MOVABLE: unshare reuses it, then it migrates', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 4);
    const pfn = t.translate(a)!;
    t.fork().exit();
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(1);
    const now = pa.get(0)!;
    expect(now).not.toBe(pfn);
    expect(k.page(now).zone).toBe('Normal');
    expect(k.page(now).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(t.translate(a)).toBe(now);
    expect(t.read(a)).toBe(4);
    k.unpin_user_pages(pa, 1);
  });

  it('no migration target: the long-term pin fails with -ENOMEM and leaves the page pinned by nobody', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 61);
    const pfn = t.translate(a)!;
    expect(k.page(pfn).zone).toBe('Movable');
    // Use up the rest of memory (ZONE_MOVABLE first, then ZONE_NORMAL).
    const fill = anon(t, 16384);
    let n = 0;
    try {
      for (; n < 16384; n++) t.write(fill + n * PAGE, 1);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ENOMEM');
    }
    expect(n).toBeLessThan(16384);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_LONGTERM, pa)).toBe(-C.ENOMEM);
    expect(pa.get(0)).toBeNull();
    expect(pinsHeld(k)).toBe(0);
    expect(stats(k).nr_isolated_anon).toBe(0);
    const p = k.page(pfn);
    expect(p.refcount).toBe(1);
    expect(p.flags).not.toContain('isolated');
    expect(t.translate(a)).toBe(pfn);
    expect(t.read(a)).toBe(61);
    // A short-term pin needs no target.
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    k.unpin_user_pages(pa, 1);
    // A write pin of a missing page with no memory left: -ENOMEM (VM_FAULT_OOM).
    const b = anon(t, 1);
    expect(k.pin_user_pages(t, b, 1, FOLL_WRITE, pa)).toBe(-C.ENOMEM);
    expect(pinsHeld(k)).toBe(0);
  });

  it('folio_is_longterm_pinnable: false for CMA, ZONE_MOVABLE and fsdax; true for the zero page and ZONE_NORMAL', async () => {
    const k = await bootTest(backend, { movable: '16MiB', cma: '40MiB', pmem: '4MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1);
    const mov = t.translate(a)!;
    expect(k.page(mov).zone).toBe('Movable');
    expect(k.folio_is_longterm_pinnable(mov)).toBe(false);
    // Fill ZONE_MOVABLE so the next user page comes from CMA.
    const fill = anon(t, 4096);
    t.touch(fill, 4096 * PAGE, { write: true });
    const b = writtenAnon(t, 1);
    const cma = t.translate(b)!;
    expect(k.page(cma).migratetype).toBe('CMA');
    expect(k.folio_is_longterm_pinnable(cma)).toBe(false);
    expect(k.folio_is_longterm_pinnable(0)).toBe(true);
    // A page-table page is ZONE_NORMAL, outside CMA.
    let table = -1;
    for (let pfn = 1; pfn < k.nrFrames && table < 0; pfn++) if (k.page(pfn).flags.includes('table')) table = pfn;
    expect(k.page(table).zone).toBe('Normal');
    expect(k.folio_is_longterm_pinnable(table)).toBe(true);
    // The target of a long-term pin is pinnable by construction.
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, b, 1, FOLL_LONGTERM, pa)).toBe(1);
    expect(k.folio_is_longterm_pinnable(pa.get(0)!)).toBe(true);
    k.unpin_user_pages(pa, 1);
    // fsdax device pages are not.
    const f = k.createFile({ fs: 'fsdax', size: PAGE });
    const d = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    t.write(d, 1);
    expect(k.folio_is_longterm_pinnable(t.translate(d)!)).toBe(false);
  });

  it('migrate_folio: -EAGAIN for a pinned or GUP-referenced page, 0 (and remapped, data kept) for an unpinned one', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 99);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    expect(k.migrate_folio(pfn)).toBe(-C.EAGAIN);
    expect(t.translate(a)).toBe(pfn);
    k.unpin_user_pages(pa, 1);
    expect(k.get_user_pages(t, a, 1, 0, pa)).toBe(1);
    expect(k.migrate_folio(pfn)).toBe(-C.EAGAIN);
    k.put_page(pfn);
    expect(k.migrate_folio(pfn)).toBe(0);
    const now = t.translate(a)!;
    expect(now).not.toBe(pfn);
    expect(t.read(a)).toBe(99);
    expect(k.page(now).refcount).toBe(1);
    expect(k.page(now).mapcount).toBe(1);
    expect(k.page(pfn).refcount).toBe(0);
    expect(pinsHeld(k)).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// 5. Interplay with fork, COW, munmap/MADV_DONTNEED, writeback (7; checklist 66-72)
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('pins and the rest of MM (%s core)', (backend) => {
  it('fork after a pin copies the pinned page into the child at once; the parent keeps it writable', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2, 20);
    const pinnedPfn = t.translate(a)!;
    const otherPfn = t.translate(a + PAGE)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    const c = t.fork();
    // The pinned page: copied for the child.
    expect(t.translate(a)).toBe(pinnedPfn);
    const childPfn = c.translate(a)!;
    expect(childPfn).not.toBeNull();
    expect(childPfn).not.toBe(pinnedPfn);
    expect(c.read(a)).toBe(20);
    const pp = k.page(pinnedPfn);
    expect(pp.mapcount).toBe(1);
    expect(pp.flags).toContain('anon_exclusive');
    expect(pp.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    expect(k.page(childPfn).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    // The unpinned page of the same mm is shared COW as usual.
    expect(c.translate(a + PAGE)).toBe(otherPfn);
    expect(k.page(otherPfn).mapcount).toBe(2);
    expect(k.page(otherPfn).flags).not.toContain('anon_exclusive');
    // The parent's PTE stayed writable: its write takes no fault and no copy.
    const faults = stats(k).pgfault;
    t.write(a, 21);
    expect(stats(k).pgfault).toBe(faults);
    expect(t.translate(a)).toBe(pinnedPfn);
    expect(k.page(pinnedPfn).data).toBe(21); // the DMA target sees the parent's data
    expect(c.read(a)).toBe(20);
    c.write(a, 22);
    expect(c.translate(a)).toBe(childPfn);
    expect(t.read(a)).toBe(21);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('fork after a pin of one subpage of a THP gives the child copies of the whole (maybe pinned) folio', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const big = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(big / (2 * MIB)) * 2 * MIB;
    t.write(h, 1);
    t.write(h + 5 * PAGE, 6);
    const head = t.translate(h)!;
    expect(k.page(head).order).toBe(9);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, h + 5 * PAGE, 1, FOLL_WRITE, pa)).toBe(1);
    expect(pa.get(0)).toBe(head + 5);
    const c = t.fork();
    for (const i of [0, 5, 100]) {
      expect(t.translate(h + i * PAGE)).toBe(head + i);
      const cp = c.translate(h + i * PAGE)!;
      expect(k.page(cp).head, `subpage ${i}`).not.toBe(head);
      expect(c.read(h + i * PAGE)).toBe(t.read(h + i * PAGE));
    }
    // The parent's mapping stays writable.
    const faults = stats(k).pgfault;
    t.write(h + 5 * PAGE, 7);
    expect(stats(k).pgfault).toBe(faults);
    expect(k.page(head + 5).data).toBe(7);
    expect(c.read(h + 5 * PAGE)).toBe(6);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('fork after a R/O pin (and after a fast pin) copies too', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2, 1);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 1, 0, pa)).toBe(1);
    const fa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a + PAGE, 1, 0, fa)).toBe(1);
    const c = t.fork();
    expect(c.translate(a)).not.toBe(pa.get(0));
    expect(c.translate(a + PAGE)).not.toBe(fa.get(0));
    expect(t.translate(a)).toBe(pa.get(0));
    expect(t.translate(a + PAGE)).toBe(fa.get(0));
    expect([c.read(a), c.read(a + PAGE)]).toEqual([1, 2]);
    // The pinned pages stay the parent's exclusive pages: its writes reuse them.
    t.write(a, 11);
    t.write(a + PAGE, 12);
    expect(t.translate(a)).toBe(pa.get(0));
    expect(t.translate(a + PAGE)).toBe(fa.get(0));
    expect([c.read(a), c.read(a + PAGE)]).toEqual([1, 2]);
    k.unpin_user_pages(pa, 1);
    k.unpin_user_pages(fa, 1);
  });

  it('MMF_HAS_PINNED is per mm: a remote pin of the child makes the child\'s fork copy, the parent\'s fork still shares', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2, 30);
    const c = t.fork();
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_remote(c.mm, a, 1, 0, pa)).toBe(1); // unshares in the child
    const pinned = pa.get(0)!;
    expect(c.translate(a)).toBe(pinned);
    expect(t.translate(a)).not.toBe(pinned);
    expectExclusiveIfAnon(k, pinned);
    const g = c.fork();
    expect(g.translate(a)).not.toBe(pinned);
    expect(g.read(a)).toBe(30);
    expect(g.translate(a + PAGE)).toBe(c.translate(a + PAGE)); // unpinned: shared
    const parentPfn = t.translate(a)!;
    const s2 = t.fork();
    expect(s2.translate(a)).toBe(parentPfn);
    k.unpin_user_pages(pa, 1);
    expect(pinsHeld(k)).toBe(0);
  });

  it('without any pin, fork shares the page', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 5);
    const pfn = t.translate(a)!;
    const c = t.fork();
    expect(c.translate(a)).toBe(pfn);
    expect(k.page(pfn).mapcount).toBe(2);
    expect(k.page(pfn).refcount).toBe(2);
    expect(k.page(pfn).flags).not.toContain('anon_exclusive');
  });

  it('once a pin is released, a later fork shares the page again', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 5);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    k.unpin_user_pages(pa, 1);
    const c = t.fork();
    expect(c.translate(a)).toBe(pfn);
  });

  it('a COW write fault on a shared page with a GUP (FOLL_GET) reference copies instead of reusing', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 7);
    const pfn = t.translate(a)!;
    t.fork().exit(); // the page is now mapped once, but not AnonExclusive
    expect(k.page(pfn).refcount).toBe(1);
    expect(k.page(pfn).flags).not.toContain('anon_exclusive');
    const ga = k.pageArray(1);
    expect(k.get_user_pages(t, a, 1, 0, ga)).toBe(1);
    expect(ga.get(0)).toBe(pfn);
    expect(k.page(pfn).refcount).toBe(2);
    t.write(a, 8);
    expect(t.translate(a)).not.toBe(pfn);
    expect(k.page(pfn).data).toBe(7); // the GUP holder keeps the old contents
    expect(k.page(pfn).refcount).toBe(1); // only the GUP reference
    expect(k.page(pfn).mapcount).toBe(0);
    expect(t.read(a)).toBe(8);
    k.put_page(pfn);
    expect(k.page(pfn).refcount).toBe(0);
  });

  it('MADV_DONTNEED of a pinned page unmaps it but the frame stays allocated until unpin; a new fault gets another page', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 1, 33);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    t.madvise(a, PAGE, C.MADV_DONTNEED);
    expect(t.translate(a)).toBeNull();
    let p = k.page(pfn);
    expect(p.refcount).toBe(C.GUP_PIN_COUNTING_BIAS);
    expect(p.mapcount).toBe(0);
    expect(p.maybeDmaPinned).toBe(true);
    expect(p.flags).not.toContain('buddy');
    expect(p.data).toBe(33);
    expect(t.read(a)).toBe(0); // a fresh (zero) page
    t.write(a, 34);
    const fresh = t.translate(a)!;
    expect(fresh).not.toBe(pfn);
    expect(k.page(pfn).data).toBe(33); // the orphaned DMA target is not what userspace sees
    const free = k.meminfo().MemFree;
    k.unpin_user_page(pfn);
    p = k.page(pfn);
    expect(p.refcount).toBe(0);
    expect(k.meminfo().MemFree).toBe(free + 4);
    expect(pinsHeld(k)).toBe(0);
    expect(t.read(a)).toBe(34);
  });

  it('munmap of a pinned page keeps the frame until unpin; a new mapping there gets another page', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = writtenAnon(t, 2, 60);
    const pfns0 = [t.translate(a)!, t.translate(a + PAGE)!];
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, a, 2, 0, pa)).toBe(2);
    const free0 = k.meminfo().MemFree;
    t.munmap(a, 2 * PAGE);
    expect(t.translate(a)).toBeNull();
    for (const pfn of pfns0) {
      expect(k.page(pfn).refcount).toBe(C.GUP_PIN_COUNTING_BIAS);
      expect(k.page(pfn).mapcount).toBe(0);
    }
    expect(k.meminfo().MemFree).toBeLessThanOrEqual(free0 + 4 * 4); // at most page tables came back
    const b = t.mmap({ addr: a, length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED });
    expect(b).toBe(a);
    t.write(a, 1);
    expect(pfns0).not.toContain(t.translate(a));
    const free1 = k.meminfo().MemFree;
    k.unpin_user_pages(pa, 2);
    for (const pfn of pfns0) expect(k.page(pfn).refcount).toBe(0);
    expect(k.meminfo().MemFree).toBe(free1 + 2 * 4);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a pinned page-cache page survives truncation, orphaned, until unpin', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'tmpfs', size: 2 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.write(a, 12);
    const pfn = t.translate(a)!;
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE | FOLL_LONGTERM, pa)).toBe(1);
    t.ftruncate(fd, 0);
    expect(t.translate(a)).toBeNull();
    expect(k.page(pfn).refcount).toBe(C.GUP_PIN_COUNTING_BIAS);
    expect(k.page(pfn).mapcount).toBe(0);
    expect(k.meminfo().Shmem).toBe(0);
    const free = k.meminfo().MemFree;
    k.unpin_user_pages(pa, 1);
    expect(k.page(pfn).refcount).toBe(0);
    expect(k.meminfo().MemFree).toBe(free + 4);
  });

  // Since 6.4 (d824ec2a1546) a maybe-pinned folio keeps its buffers, so the
  // dirty at unpin is written normally; the hazard of older kernels (BUG,
  // then WARN and lost data) is in test/era-writeback.test.ts.
  it('writeback of a short-term write pin of a MAP_SHARED ext4 page dirtied again at unpin: the pinned folio kept its buffers', async () => {
    const k = await bootTest(backend);
    const { f, t, fd } = fileWithData(k, 'ext4', 2);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1); // write fault: ->page_mkwrite, dirty
    const pfn = pa.get(0)!;
    expect(k.page(pfn).flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    let rep = k.writeback(f);
    expect(rep).toEqual({ written: 1, hazards: [] });
    expect(k.page(pfn).flags).not.toContain('dirty');
    expect(k.page(pfn).maybeDmaPinned).toBe(true);
    // The device "wrote" the page; the driver releases it dirty.
    k.unpin_user_pages_dirty_lock(pa, 1, true);
    expect(k.page(pfn).flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    rep = k.writeback(f);
    expect(rep).toEqual({ written: 1, hazards: [] });
    expect(k.dmesg().some((l) => l.includes(f.name) && l.includes('page_mkwrite'))).toBe(false);
    expect(pinsHeld(k)).toBe(0);
  });

  it('writeback: releasing the pin without make_dirty, or a user write, raises no hazard', async () => {
    const k = await bootTest(backend);
    const { f, t, fd } = fileWithData(k, 'ext4', 1);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, FOLL_WRITE, pa)).toBe(1);
    k.writeback(f);
    k.unpin_user_pages_dirty_lock(pa, 1, false);
    expect(k.writeback(f)).toEqual({ written: 0, hazards: [] });
    t.write(a, 5); // ->page_mkwrite again
    expect(k.writeback(f)).toEqual({ written: 1, hazards: [] });
  });
});

// ---------------------------------------------------------------------------
// 6. Nothing leaks
// ---------------------------------------------------------------------------

describe.each(BACKENDS)('pin leak check (%s core)', (backend) => {
  it('after unpinning everything and exiting every task, MemFree is back and the pin counters balance', async () => {
    const k = await bootTest(backend, { movable: '16MiB', cma: '8MiB', thp: 'never' });
    const boot = k.meminfo();
    const t = k.spawn();
    const held: [PageArray, number][] = [];
    const pin = (task: Task, addr: number, n: number, flags: number, fast = false) => {
      const pa = k.pageArray(n);
      const r = fast ? k.pin_user_pages_fast(task, addr, n, flags, pa) : k.pin_user_pages(task, addr, n, flags, pa);
      expect(r).toBe(n);
      held.push([pa, n]);
    };
    const a = writtenAnon(t, 16);
    pin(t, a, 4, FOLL_WRITE);
    pin(t, a + 4 * PAGE, 4, FOLL_LONGTERM); // migrated out of ZONE_MOVABLE
    const c = t.fork(); // copies the pinned pages, shares the rest
    pin(c, a + 8 * PAGE, 4, 0, true); // R/O fast pin in the child: unshare
    pin(t, a + 12 * PAGE, 2, FOLL_LONGTERM | FOLL_WRITE, true);
    const z = anon(t, 4);
    pin(t, z, 4, 0); // zero page
    const b = writtenAnon(c, 4);
    pin(c, b, 4, FOLL_WRITE);
    c.madvise(b, 2 * PAGE, C.MADV_DONTNEED); // orphan two pinned pages
    t.munmap(a, 4 * PAGE); // orphan four more
    const fd = t.memfd_create('buf');
    t.ftruncate(fd, 4 * PAGE);
    const m = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    pin(t, m, 4, FOLL_WRITE | FOLL_LONGTERM);
    t.close(fd);
    // Exit with pins held: the pinned frames outlive the mms.
    c.exit();
    t.exit();
    expect(k.meminfo().MemFree).toBeLessThan(boot.MemFree);
    expect(pinsHeld(k)).toBeGreaterThan(0);
    for (const [pa, n] of held) k.unpin_user_pages(pa, n);
    const end = k.meminfo();
    const s = stats(k);
    expect(s.nr_foll_pin_acquired).toBe(s.nr_foll_pin_released);
    expect(end.AnonPages).toBe(0);
    expect(end.Shmem).toBe(0);
    expect(end.PageTables).toBe(0);
    expect(end.MemFree).toBe(boot.MemFree);
    expect(end.CmaFree).toBe(boot.CmaFree);
    expect(s.nr_isolated_anon).toBe(0);
    expect(k.dmesg().filter((l) => l.startsWith('WARNING'))).toEqual([]);
  });
});
