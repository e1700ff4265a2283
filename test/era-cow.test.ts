// Kernel eras, COW and unshare (kernel-history.md §6.2/§6.3): the reuse
// predicate by era (mapcount ≤5.8, page_count 5.9–5.18, PG_anon_exclusive
// 5.19+), THP and hugetlb COW, the huge zero PMD, 5.8's GUP that breaks COW,
// R/O pin unsharing (5.19 anon, 6.2 page cache and zero page) and FOLL_COW.
// Each scenario runs on its bug and fix presets; each key is also flipped
// alone on another preset (bisect-style overrides).
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const A = 0xa;
const B = 0xb;

// A R/O reference the way each era's DMA user took it: a long-term pin, or
// before pin_user_pages() existed (5.5) a GET (FOLL_LONGTERM changes no COW
// decision before 6.2).
function roPin(k: Kernel, t: Task, addr: number, flags = C.FOLL_LONGTERM): number {
  const pages = k.pageArray(1);
  const n = k.kr.pinApi ? k.pin_user_pages(t, addr, 1, flags, pages)
    : k.get_user_pages(t, addr, 1, flags & ~C.FOLL_LONGTERM, pages);
  expect(n).toBe(1);
  return pages.get(0)!;
}

// What the device sees through the pin vs what the process reads.
function coherent(k: Kernel, t: Task, addr: number, pfn: number): boolean {
  return pfn === t.translate(addr) && k.dma_read(pfn) === t.read(addr);
}

const stat = (k: Kernel, i: number) => k.v.stats[i];

describe.each(BACKENDS)('kernel eras: COW and unshare (%s core)', (backend) => {
  const boot = (kernel: string, rules = {}, opts = {}) => bootTest(backend, { kernel, rules, ...opts } as never);

  // S1, CVE-2020-29374: the child vmsplices a page it shares COW with the
  // parent, unmaps it; the parent writes; the child reads the pipe. On a
  // base page, the first page of a PMD THP, or a 2 MiB hugetlb page.
  async function s1(kernel: string, rules = {}, size: 'base' | 'thp' | 'hugetlb' = 'base'): Promise<{ word: number; k: Kernel }> {
    const k = await boot(kernel, rules, size === 'thp' ? { thp: 'always' } : size === 'hugetlb' ? { hugepages: { '2MiB': 4 } } : {});
    const parent = k.spawn();
    const len = size === 'base' ? PAGE : 2 * HPAGE;
    const base = parent.mmap({ length: len, prot: RW, flags: ANON_PRIVATE | (size === 'hugetlb' ? C.MAP_HUGETLB : 0) });
    const a = size === 'base' ? base : Math.ceil(base / HPAGE) * HPAGE;
    parent.write(a, A);
    if (size !== 'base') expect(k.page(parent.translate(a)!).order).toBe(9);
    const child = parent.fork();
    const [r, w] = child.pipe();
    expect(child.vmsplice(w, [{ base: a, len: PAGE }])).toBe(PAGE);
    child.munmap(base, len);
    parent.write(a, B);
    expect(parent.read(a)).toBe(B);
    expect(k.check()).toEqual([]);
    return { word: child.read_pipe(r, PAGE)[0].word, k };
  }
  // do_huge_pmd_wp_page() kept the mapcount rule until 5.18.
  const s1Thp = async (kernel: string, rules = {}) => (await s1(kernel, rules, 'thp')).word;
  // hugetlb_wp() reuses by mapcount in every era. 5.8 is the exception: its
  // forced COW covered hugetlb VMAs (see src/gup/gup.ts).
  const s1Hugetlb = async (kernel: string, rules = {}) => (await s1(kernel, rules, 'hugetlb')).word;

  it.each(['5.5', '5.6', '5.7'])('S1 vmsplice leak on %s: the parent reuses the spliced page, the pipe shows its new data', async (kernel) => {
    const { word, k } = await s1(kernel);
    expect(word).toBe(B);
    expect(stat(k, C.COW_COPIES)).toBe(0);
  });

  it.each(['5.8', '5.10', '5.18', '6.4', 'latest'])('S1 fixed on %s for base pages: the pipe keeps the old data', async (kernel) => {
    const { word, k } = await s1(kernel);
    expect(word).toBe(A);
    expect(stat(k, C.COW_COPIES)).toBe(1); // the child's GUP (5.8) or the parent's write copied
  });

  it('S1 bisect: 5.5 with the 5.8 forced COW alone, or with the 5.9 refcount rule alone, does not leak', async () => {
    expect((await s1('5.5', { gupBreaksCow: true })).word).toBe(A);
    expect((await s1('5.5', { cowReuse: 'refcount' })).word).toBe(A);
    expect((await s1('5.8', { gupBreaksCow: false })).word).toBe(B);
  });

  it.each([['5.5', B], ['5.8', A], ['5.10', B], ['5.18', A], ['6.4', A], ['latest', A]])('S1 on a PMD THP, %s: the pipe reads %i', async (kernel, word) => {
    expect(await s1Thp(kernel as string)).toBe(word);
  });

  it('S1 THP bisect: 5.10 with the 5.18 THP refcount rule alone is fixed; 5.18 with the mapcount rule leaks', async () => {
    expect(await s1Thp('5.10', { thpCowReuse: 'refcount' })).toBe(A);
    expect(await s1Thp('5.18', { thpCowReuse: 'mapcount' })).toBe(B);
  });

  it.each([['5.5', B], ['5.8', A], ['5.10', B], ['5.18', B], ['6.4', B], ['latest', B]])('S1 on hugetlb, %s: the pipe reads %i', async (kernel, word) => {
    expect(await s1Hugetlb(kernel as string)).toBe(word);
  });

  it('hugetlbCowReuse: mapcount or exclusive, the hugetlb leak stays (no state tells them apart here)', async () => {
    expect(await s1Hugetlb('latest', { hugetlbCowReuse: 'mapcount' })).toBe(B);
    expect(await s1Hugetlb('5.10', { hugetlbCowReuse: 'exclusive' })).toBe(B);
  });

  // S3: a R/O pin on a page shared with a live child, then the parent writes.
  async function s3(kernel: string, rules = {}): Promise<boolean> {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, A);
    const child = t.fork();
    const pfn = roPin(k, t, a);
    t.write(a, B);
    expect(child.read(a)).toBe(A);
    return coherent(k, t, a, pfn);
  }

  it.each([['5.5', false], ['5.8', true], ['5.10', false], ['5.18', false], ['6.4', true], ['latest', true]])('S3 (R/O pin of a page shared with a live child, then write) on %s: coherent %s', async (kernel, ok) => {
    expect(await s3(kernel as string)).toBe(ok);
  });

  it('S3 bisect: 5.8 without the forced COW is stale; 5.10 with R/O pin unsharing alone is coherent; 6.4 without it stale', async () => {
    expect(await s3('5.8', { gupBreaksCow: false })).toBe(false);
    expect(await s3('5.10', { roPinUnshareAnon: true, cowReuse: 'exclusive' })).toBe(true);
    expect(await s3('6.4', { roPinUnshareAnon: false })).toBe(false);
  });

  // S3b: the sole owner pins R/O: the child exited before the pin, or the
  // page never was shared and its PTE is R/O through mprotect().
  async function s3b(kernel: string, how: 'exit' | 'mprotect', rules = {}): Promise<boolean> {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, A);
    if (how === 'exit') t.fork().exit();
    else t.mprotect(a, PAGE, C.PROT_READ);
    const pfn = roPin(k, t, a);
    if (how === 'mprotect') t.mprotect(a, PAGE, RW);
    t.write(a, B);
    return coherent(k, t, a, pfn);
  }

  it.each([['5.5', true], ['5.8', true], ['5.10', false], ['5.18', false], ['6.4', true], ['latest', true]])('S3b (sole owner, R/O pin, then write) on %s: coherent %s', async (kernel, ok) => {
    expect(await s3b(kernel as string, 'exit')).toBe(ok);
    expect(await s3b(kernel as string, 'mprotect')).toBe(ok);
  });

  // S6 (cow.c #7): a R/W pin, mprotect(R) then (RW), then a write.
  async function s6(kernel: string, rules = {}): Promise<{ ok: boolean; k: Kernel }> {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, A);
    const pfn = roPin(k, t, a, C.FOLL_LONGTERM | C.FOLL_WRITE);
    t.mprotect(a, PAGE, C.PROT_READ);
    t.mprotect(a, PAGE, RW);
    t.write(a, B);
    return { ok: coherent(k, t, a, pfn), k };
  }

  it.each([['5.5', true], ['5.8', true], ['5.10', false], ['5.18', false], ['6.4', true], ['latest', true]])('S6 (R/W pin, mprotect R then RW, write) on %s: coherent %s', async (kernel, ok) => {
    expect((await s6(kernel as string)).ok).toBe(ok);
  });

  // S9: a R/O long-term pin of a MAP_PRIVATE file page (or the zero page), then a write.
  async function s9(kernel: string, zero: boolean, rules = {}): Promise<boolean> {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    let a: number;
    if (zero) a = anon(t, 1);
    else {
      const f = k.createFile({ fs: 'ext4', size: PAGE });
      const fd = t.open(f);
      t.pwrite(fd, 0, A);
      a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    }
    t.read(a);
    const pfn = roPin(k, t, a);
    t.write(a, B);
    return coherent(k, t, a, pfn);
  }

  it.each([['5.5', false], ['5.8', true], ['5.10', false], ['5.18', false], ['6.1', false], ['6.4', true], ['latest', true]])('S9 (R/O LT pin of a private file page / the zero page, then write) on %s: coherent %s', async (kernel, ok) => {
    expect(await s9(kernel as string, false)).toBe(ok);
    expect(await s9(kernel as string, true)).toBe(ok);
  });

  it('S9 bisect: 6.4 without the 6.2 non-anon unshare is stale; 6.1 with it coherent', async () => {
    expect(await s9('6.4', false, { roLongtermUnshareNonAnon: false })).toBe(false);
    expect(await s9('6.1', true, { roLongtermUnshareNonAnon: true })).toBe(true);
  });

  // S16: THP always; read 2 MiB (the huge zero PMD), write one byte.
  async function s16(kernel: string, rules = {}) {
    const k = await boot(kernel, rules, { thp: 'always' });
    const t = k.spawn();
    const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(base / HPAGE) * HPAGE;
    for (let i = 0; i < 512; i++) expect(t.read(a + i * PAGE)).toBe(0);
    t.write(a, 1);
    const p = k.page(t.translate(a)!);
    const zeroPtes = Array.from({ length: 511 }, (_, i) => t.translate(a + (i + 1) * PAGE)).filter((x) => x === 0).length;
    return { order: p.order, zeroPtes, anonHuge: k.meminfo().AnonHugePages, word: t.read(a) };
  }

  it.each([['5.5', 9], ['5.8', 0], ['5.10', 0], ['6.4', 0], ['6.11', 0], ['latest', 9]])('S16 (write to the huge zero PMD) on %s: the written page has order %i', async (kernel, order) => {
    const r = await s16(kernel as string);
    expect(r.word).toBe(1);
    if (order === 9) expect(r).toMatchObject({ order: 9, zeroPtes: 0, anonHuge: 2048 });
    else expect(r).toMatchObject({ order: 0, zeroPtes: 511, anonHuge: 0 });
  });

  it('S16 bisect: 6.4 with hugeZeroThp maps a THP; latest without it splits', async () => {
    expect((await s16('6.4', { hugeZeroThp: true })).order).toBe(9);
    expect((await s16('latest', { hugeZeroThp: false })).zeroPtes).toBe(511);
  });

  // cowReuse directly: a page the child shared (so not exclusive), mapped
  // once again after the child exits, with one extra GET reference.
  async function reuseCase(kernel: string, rules = {}) {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, A);
    t.fork().exit();
    const pfn = t.translate(a)!;
    const pages = k.pageArray(1);
    expect(k.get_user_pages_fast(t, a, 1, 0, pages)).toBe(1);
    expect(k.page(pfn)).toMatchObject({ mapcount: 1, refcount: 2 });
    expect(k.page(pfn).flags).not.toContain('anon_exclusive');
    const [copies, reuses] = [stat(k, C.COW_COPIES), stat(k, C.COW_REUSES)];
    t.write(a, B);
    return { reused: t.translate(a) === pfn, copies: stat(k, C.COW_COPIES) - copies, reuses: stat(k, C.COW_REUSES) - reuses };
  }

  // (5.8's GET itself broke COW: no write fault left to decide; see gupBreaksCow below.)
  it.each([['5.5', true], ['5.7', true], ['5.10', false], ['5.18', false], ['6.4', false], ['latest', false]])('cowReuse on %s: a page mapped once with an extra GET reference is reused %s', async (kernel, reused) => {
    expect(await reuseCase(kernel as string)).toEqual({ reused, copies: reused ? 0 : 1, reuses: reused ? 1 : 0 });
  });

  it('cowReuse bisect: 5.5 with refcount copies; 5.10 with mapcount reuses', async () => {
    expect((await reuseCase('5.5', { cowReuse: 'refcount' })).reused).toBe(false);
    expect((await reuseCase('5.10', { cowReuse: 'mapcount' })).reused).toBe(true);
  });

  it('cowReuse exclusive vs refcount: an exclusive page with a GET reference is reused (latest), copied under the refcount rule', async () => {
    for (const [rules, reused] of [[{}, true], [{ cowReuse: 'refcount' }, false]] as const) {
      const k = await boot('latest', rules);
      const t = k.spawn();
      const a = anon(t, 1);
      t.write(a, A);
      const pfn = t.translate(a)!;
      expect(k.get_user_pages_fast(t, a, 1, 0, k.pageArray(1))).toBe(1);
      t.mprotect(a, PAGE, C.PROT_READ);
      t.mprotect(a, PAGE, RW);
      t.write(a, B);
      expect(t.translate(a) === pfn).toBe(reused);
    }
  });

  // thpCowReuse directly: a PMD THP the child shared, mapped once again,
  // plus one GET reference.
  async function thpReuseCase(kernel: string, rules = {}) {
    const k = await boot(kernel, rules, { thp: 'always' });
    const t = k.spawn();
    const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(base / HPAGE) * HPAGE;
    t.write(a, A);
    t.fork().exit();
    const head = t.translate(a)!;
    expect(k.get_user_pages(t, a + PAGE, 1, 0, k.pageArray(1))).toBe(1);
    expect(k.page(head)).toMatchObject({ refcount: 2 });
    t.write(a, B);
    return { reused: t.translate(a) === head, order: k.page(t.translate(a)!).order };
  }

  it.each([['5.5', true], ['5.10', true], ['5.18', false], ['latest', false]])('thpCowReuse on %s: a THP mapped once with a GET reference is reused %s (else split, one 4 KiB copy)', async (kernel, reused) => {
    expect(await thpReuseCase(kernel as string)).toEqual({ reused, order: reused ? 9 : 0 });
  });

  it('thpCowReuse bisect: 5.10 with the refcount rule splits', async () => {
    expect(await thpReuseCase('5.10', { thpCowReuse: 'refcount' })).toEqual({ reused: false, order: 0 });
  });

  // thpSplitCow: the parent writes a THP its live child shares.
  async function thpCow(kernel: string, rules = {}) {
    const k = await boot(kernel, rules, { thp: 'always' });
    const t = k.spawn();
    const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(base / HPAGE) * HPAGE;
    for (let i = 0; i < 512; i++) t.write(a + i * PAGE, i + 1);
    const child = t.fork();
    const head = t.translate(a)!;
    const [copies, alloc] = [stat(k, C.COW_COPIES), k.vmstat().thp_fault_alloc];
    t.write(a + 3 * PAGE, B);
    const words = [t.read(a), t.read(a + 3 * PAGE), t.read(a + 511 * PAGE), child.read(a + 3 * PAGE)];
    expect(words).toEqual([1, B, 512, 4]);
    const p = k.page(t.translate(a + 3 * PAGE)!);
    expect(k.check()).toEqual([]);
    return { order: p.order, moved: t.translate(a) !== head, copies: stat(k, C.COW_COPIES) - copies, thpAlloc: k.vmstat().thp_fault_alloc - alloc };
  }

  it('thpSplitCow: before 5.8 the writer gets a copy of the whole THP; from 5.8 the PMD splits and one 4 KiB page is copied', async () => {
    expect(await thpCow('5.5')).toEqual({ order: 9, moved: true, copies: 1, thpAlloc: 1 });
    expect(await thpCow('5.7')).toEqual({ order: 9, moved: true, copies: 1, thpAlloc: 1 });
    expect(await thpCow('5.8')).toEqual({ order: 0, moved: false, copies: 1, thpAlloc: 0 });
    expect(await thpCow('5.5', { thpSplitCow: true })).toEqual({ order: 0, moved: false, copies: 1, thpAlloc: 0 });
    expect(await thpCow('latest', { thpSplitCow: false })).toMatchObject({ order: 9, moved: true });
  });

  it('thpSplitCow off (before 5.8) with no THP to copy into: 512 small copies (do_huge_pmd_wp_page_fallback), no split', async () => {
    const k = await boot('5.5', {}, { thp: 'always', hugepages: { '2MiB': 27 } });
    const t = k.spawn();
    const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(base / HPAGE) * HPAGE;
    for (let i = 0; i < 512; i++) t.write(a + i * PAGE, i + 1);
    const child = t.fork();
    // What is left free, in small pages with no free 2 MiB block among them.
    const n = Math.floor(k.meminfo().MemFree / 4) - 8;
    const f = t.mmap({ length: n * PAGE, prot: RW, flags: ANON_PRIVATE });
    t.madvise(f, n * PAGE, C.MADV_NOHUGEPAGE);
    for (let i = 0; i < n; i++) t.write(f + i * PAGE, 1);
    for (let i = 0; i < n; i += 2) t.munmap(f + i * PAGE, PAGE);
    const [v, copies] = [k.vmstat(), stat(k, C.COW_COPIES)];
    t.write(a + 3 * PAGE, B);
    expect(k.vmstat().thp_fault_fallback - v.thp_fault_fallback).toBe(1);
    expect(k.vmstat().thp_split_pmd - v.thp_split_pmd).toBe(0);
    expect(stat(k, C.COW_COPIES) - copies).toBe(512);
    for (const i of [0, 3, 511]) expect(k.page(t.translate(a + i * PAGE)!).order).toBe(0);
    expect(t.translate(a + 5 * PAGE) === child.translate(a + 5 * PAGE)).toBe(false);
    expect([t.read(a), t.read(a + 3 * PAGE), t.read(a + 511 * PAGE), child.read(a + 3 * PAGE)]).toEqual([1, B, 512, 4]);
    expect(k.page(child.translate(a)!)).toMatchObject({ order: 9, refcount: 1 });
    expect(k.check()).toEqual([]);
  });

  // gupBreaksCow directly: what a read GUP does to the mapping on 5.8.
  it('gupBreaksCow (5.8): a read GET of a shared page takes a fresh copy and leaves the PTE writable; GUP-fast falls back', async () => {
    for (const kernel of ['5.8', '5.10']) {
      const k = await boot(kernel);
      const t = k.spawn();
      const a = anon(t, 1);
      t.write(a, A);
      const child = t.fork();
      const shared = t.translate(a)!;
      const pages = k.pageArray(1);
      const faults = k.vmstat().pgfault;
      expect(k.get_user_pages_fast(t, a, 1, 0, pages)).toBe(1);
      const broke = kernel === '5.8';
      expect(pages.get(0) !== shared).toBe(broke);
      expect(pages.get(0)).toBe(t.translate(a));
      expect(k.vmstat().pgfault - faults).toBe(broke ? 1 : 0);
      expect(k.page(shared).mapcount).toBe(broke ? 1 : 2);
      const copies = stat(k, C.COW_COPIES);
      t.write(a, B); // no fault on 5.8: the forced write fault left the PTE writable
      expect(stat(k, C.COW_COPIES) - copies).toBe(broke ? 0 : 1);
      expect(child.read(a)).toBe(A);
    }
  });

  it('gupBreaksCow (5.8) on a PROT_READ private file mapping: a read GUP returns an anon copy (FOLL_COW lets the follow accept it)', async () => {
    for (const [kernel, anonCopy] of [['5.8', true], ['5.10', false], ['5.10+', true]] as const) {
      const k = await boot(kernel === '5.10+' ? '5.10' : kernel, kernel === '5.10+' ? { gupBreaksCow: true } : {});
      const f = k.createFile({ fs: 'ext4', size: PAGE });
      const t = k.spawn();
      const fd = t.open(f);
      t.pwrite(fd, 0, A);
      const a = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_PRIVATE, fd });
      const pages = k.pageArray(1);
      expect(k.get_user_pages(t, a, 1, 0, pages)).toBe(1);
      expect(k.page(pages.get(0)!).flags.includes('anon')).toBe(anonCopy);
      expect(k.dma_read(pages.get(0)!)).toBe(A);
      expect(pages.get(0)).toBe(t.translate(a));
    }
  });

  // forceWriteRoPrivate: a FOLL_FORCE write (ptrace) to a page the task wrote
  // and then made read-only. Today's rule accepts the exclusive page without
  // a fault; FOLL_COW needs a write fault (a reuse) first.
  async function forceWrite(kernel: string, rules = {}) {
    const k = await boot(kernel, rules);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, A);
    const pfn = t.translate(a)!;
    t.mprotect(a, PAGE, C.PROT_READ);
    const [faults, reuses] = [k.vmstat().pgfault, stat(k, C.COW_REUSES)];
    const pages = k.pageArray(1);
    expect(k.get_user_pages_remote(t.mm, a, 1, C.FOLL_FORCE | C.FOLL_WRITE, pages)).toBe(1);
    expect(pages.get(0)).toBe(pfn);
    return { faults: k.vmstat().pgfault - faults, reuses: stat(k, C.COW_REUSES) - reuses };
  }

  it.each([['5.5', 1], ['5.10', 1], ['5.18', 1], ['6.1', 0], ['latest', 0]])('forceWriteRoPrivate on %s: a FOLL_FORCE write to an exclusive R/O page faults %i times', async (kernel, n) => {
    expect(await forceWrite(kernel as string)).toEqual({ faults: n, reuses: n });
  });

  it('forceWriteRoPrivate bisect: latest with FOLL_COW faults; a FOLL_FORCE write to a R/O file mapping gets an anon copy either way', async () => {
    expect(await forceWrite('latest', { forceWriteRoPrivate: 'foll-cow' })).toEqual({ faults: 1, reuses: 1 });
    for (const kernel of ['5.10', 'latest']) {
      const k = await boot(kernel);
      const f = k.createFile({ fs: 'ext4', size: PAGE });
      const t = k.spawn();
      const fd = t.open(f);
      t.pwrite(fd, 0, A);
      const a = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_PRIVATE, fd });
      t.read(a);
      const pages = k.pageArray(1);
      expect(k.get_user_pages_remote(t.mm, a, 1, C.FOLL_FORCE | C.FOLL_WRITE, pages)).toBe(1);
      expect(k.page(pages.get(0)!).flags).toContain('anon');
      k.dma_write(pages.get(0)!, B);
      expect(t.read(a)).toBe(B);
      expect(t.pread(fd, 0)).toBe(A); // the file is untouched
    }
  });
});
