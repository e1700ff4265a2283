// Huge pages: anonymous THP (PMD-mapped order-9 folios, the huge zero
// folio, PMD splits on partial munmap/mprotect and COW, fork), and hugetlb
// (boot-time pools, MAP_HUGETLB, 1 GiB pages, hugetlbfs files).
import { describe, expect, it } from 'vitest';
import type { Task } from '../src/index';
import { BACKENDS, bootTest, C, PAGE, RW, ANON_PRIVATE, codeOf, pageAt } from './helpers';

const HPAGE = 2 << 20; // 2 MiB
const NR = C.HPAGE_PMD_NR;

// A private anonymous mapping of 4 MiB and the first 2 MiB-aligned address
// inside it, so that a whole PMD range lies in the VMA wherever it is placed.
function thpArea(t: Task): { base: number; a: number } {
  const base = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
  return { base, a: Math.ceil(base / HPAGE) * HPAGE };
}

describe.each(BACKENDS)('transparent huge pages (%s core)', (backend) => {
  const bootThp = (opts = {}) => bootTest(backend, { thp: 'always', ...opts });

  it('a write fault in a PMD-aligned range maps an order-9 anonymous folio', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    const free = k.meminfo().MemFree;
    t.write(a + 7 * PAGE, 99);
    const head = t.translate(a)!;
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(p.head).toBe(head);
    expect(head % NR).toBe(0);
    expect(p.flags).toEqual(expect.arrayContaining(['anon', 'head', 'anon_exclusive']));
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1); // one PMD mapping of the whole folio
    for (const i of [1, 7, 100, 511]) {
      expect(t.translate(a + i * PAGE)).toBe(head + i);
      const sub = k.page(head + i);
      expect(sub.head).toBe(head);
      expect(sub.order).toBe(9);
      expect(sub.flags).toContain('tail');
      expect(sub.mapcount).toBe(1);
    }
    const mi = k.meminfo();
    expect(mi.AnonHugePages).toBe(2048);
    expect(mi.AnonPages).toBe(2048);
    expect(free - mi.MemFree).toBeGreaterThanOrEqual(2048);
    expect(t.read(a + 7 * PAGE)).toBe(99);
    expect(t.read(a + 8 * PAGE)).toBe(0); // the rest of the folio is zeroed
    // Only the PMD range was faulted: the rest of the VMA stays unmapped.
    expect(t.translate(a + HPAGE)).toBe(null);
  });

  it('a read fault maps the huge zero folio, shared by every task and region', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const u = k.spawn();
    const x = thpArea(t).a;
    const y = thpArea(t).a;
    const z = thpArea(u).a;
    expect(t.read(x + 3 * PAGE)).toBe(0);
    const hz = t.translate(x)!;
    const p = k.page(hz);
    expect(hz).not.toBe(0);
    expect(p.order).toBe(9);
    expect(hz % NR).toBe(0);
    expect(p.flags).not.toContain('anon');
    expect(t.translate(x + 3 * PAGE)).toBe(hz + 3);
    expect(t.read(y)).toBe(0);
    expect(u.read(z + 5 * PAGE)).toBe(0);
    expect(t.translate(y)).toBe(hz);
    expect(u.translate(z)).toBe(hz);
    const mi = k.meminfo();
    expect(mi.AnonHugePages).toBe(0);
    expect(mi.AnonPages).toBe(0);
  });

  it('a write after reading the huge zero folio maps a fresh THP', async () => {
    // do_huge_pmd_wp_page() -> do_huge_zero_wp_pmd() (v6.13+): a write to the
    // huge zero folio gets a newly allocated, zeroed THP for the whole PMD.
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.read(a);
    const hz = t.translate(a)!;
    t.write(a + 5 * PAGE, 7);
    const p = pageAt(k, t, a + 5 * PAGE);
    expect(p.order).toBe(9);
    expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(p.head < hz || p.head >= hz + NR).toBe(true);
    expect(t.translate(a)).toBe(p.head);
    expect(t.read(a + 5 * PAGE)).toBe(7);
    expect(t.read(a + 6 * PAGE)).toBe(0);
    expect(k.meminfo().AnonHugePages).toBe(2048);
  });

  it('when no THP can be allocated, a write to the huge zero folio splits the PMD and COWs one base page', async () => {
    // do_huge_zero_wp_pmd() falling back: the PMD is split into PTEs of the
    // small zero page and do_wp_page() copies one 4 KiB page. The hugetlb
    // pool takes every free 2 MiB block but the one the huge zero folio gets.
    const k = await bootTest(backend, { thp: 'always', hugepages: { '2MiB': 30 } });
    const t = k.spawn();
    const { a } = thpArea(t);
    t.read(a);
    const hz = t.translate(a)!;
    expect(k.page(hz).order).toBe(9);
    t.write(a + 5 * PAGE, 7);
    const p = pageAt(k, t, a + 5 * PAGE);
    expect(p.order).toBe(0);
    expect(p.pfn < hz || p.pfn >= hz + NR).toBe(true);
    expect(t.translate(a)).toBe(0); // the small zero page
    expect(t.translate(a + 6 * PAGE)).toBe(0);
    expect(t.read(a + 5 * PAGE)).toBe(7);
    expect(t.read(a + 6 * PAGE)).toBe(0);
    expect(k.meminfo().AnonHugePages).toBe(0);
  });

  it('partial munmap splits the PMD; the remaining PTEs keep the folio', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a, 1);
    t.write(a + 300 * PAGE, 300);
    const head = t.translate(a)!;
    t.munmap(a + 510 * PAGE, 2 * PAGE);
    expect(t.translate(a + 510 * PAGE)).toBe(null);
    expect(t.translate(a + 511 * PAGE)).toBe(null);
    for (const i of [0, 1, 300, 509]) expect(t.translate(a + i * PAGE)).toBe(head + i);
    const p = k.page(head);
    expect(p.order).toBe(9); // the folio itself is not split (deferred split)
    expect(p.refcount).toBe(510); // one reference per remaining PTE
    expect(p.mapcount).toBe(1);
    expect(k.page(head + 509).mapcount).toBe(1);
    expect(k.page(head + 510).mapcount).toBe(0);
    expect(t.read(a + 300 * PAGE)).toBe(300);
    t.write(a + 2 * PAGE, 2); // still exclusive: written in place
    expect(t.translate(a + 2 * PAGE)).toBe(head + 2);
    expect(codeOf(() => t.read(a + 511 * PAGE))).toBe('SIGSEGV');
  });

  it('AnonHugePages counts only PMD-mapped THPs: a PMD split drops it', async () => {
    // Documentation/admin-guide/mm/transhuge.rst: AnonHugePages "only applies
    // to traditional PMD-sized THP ... and should have been called
    // AnonHugePmdMapped".
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a, 1);
    expect(k.meminfo().AnonHugePages).toBe(2048);
    t.munmap(a + 511 * PAGE, PAGE);
    expect(k.page(t.translate(a)!).order).toBe(9);
    expect(k.meminfo().AnonHugePages).toBe(0);
  });

  it('mprotect of one page splits the PMD', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a, 1);
    const head = t.translate(a)!;
    t.mprotect(a + PAGE, PAGE, C.PROT_READ);
    expect(t.translate(a + PAGE)).toBe(head + 1);
    expect(t.translate(a + 2 * PAGE)).toBe(head + 2);
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(p.refcount).toBe(NR);
    expect(k.page(head + 1).mapcount).toBe(1);
    expect(codeOf(() => t.write(a + PAGE, 5))).toBe('SIGSEGV');
    expect(t.read(a + PAGE)).toBe(0);
    t.write(a + 2 * PAGE, 2);
    expect(t.translate(a + 2 * PAGE)).toBe(head + 2);
    expect(t.maps().filter((v) => v.start < a + HPAGE && v.end > a).map((v) => v.perms))
      .toEqual(['rw-p', 'r--p', 'rw-p']);
  });

  it('munmap of the whole THP frees it', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const before = k.meminfo();
    const { base, a } = thpArea(t);
    t.write(a, 1);
    const head = t.translate(a)!;
    expect(k.meminfo().MemFree).toBeLessThanOrEqual(before.MemFree - 2048);
    t.munmap(base, 2 * HPAGE);
    const after = k.meminfo();
    expect(after.MemFree).toBe(before.MemFree);
    expect(after.AnonHugePages).toBe(0);
    expect(after.AnonPages).toBe(0);
    expect(k.page(head).flags).not.toContain('anon');
  });

  it('fork shares a PMD-mapped THP', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a + 3 * PAGE, 3);
    const head = t.translate(a)!;
    const c = t.fork();
    expect(c.translate(a)).toBe(head);
    expect(c.translate(a + 3 * PAGE)).toBe(head + 3);
    const p = k.page(head);
    expect(p.refcount).toBe(2);
    expect(p.mapcount).toBe(2);
    expect(p.flags).not.toContain('anon_exclusive');
    expect(k.page(head + 3).flags).not.toContain('anon_exclusive');
    expect(c.read(a + 3 * PAGE)).toBe(3);
    expect(k.meminfo().AnonHugePages).toBe(2048);
  });

  it('after the child exits, a parent write reuses the whole THP under its PMD', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a, 1);
    const head = t.translate(a)!;
    const c = t.fork();
    c.exit();
    expect(k.page(head).refcount).toBe(1);
    t.write(a + PAGE, 2);
    expect(t.translate(a + PAGE)).toBe(head + 1);
    expect(k.page(head).flags).toContain('anon_exclusive');
    expect(k.page(head + 1).flags).toContain('anon_exclusive');
    expect(k.page(head).refcount).toBe(1); // still one PMD mapping, not split
    expect(k.meminfo().AnonHugePages).toBe(2048);
  });

  it('a child write to a PMD-shared THP splits its PMD and copies one 4 KiB page', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a + 3 * PAGE, 3);
    t.write(a + 4 * PAGE, 4);
    const head = t.translate(a)!;
    const c = t.fork();
    c.write(a + 3 * PAGE, 33);
    const copy = c.translate(a + 3 * PAGE)!;
    expect(copy < head || copy >= head + NR).toBe(true);
    expect(k.page(copy).order).toBe(0);
    expect(k.page(copy).flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(c.translate(a + 4 * PAGE)).toBe(head + 4);
    expect(c.translate(a)).toBe(head);
    expect(c.translate(a + 511 * PAGE)).toBe(head + 511);
    // The parent still maps the whole folio by its PMD.
    expect(t.translate(a + 3 * PAGE)).toBe(head + 3);
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(p.refcount).toBe(1 + 511); // parent's PMD + child's remaining PTEs
    expect(k.page(head + 3).mapcount).toBe(1);
    expect(k.page(head + 4).mapcount).toBe(2);
    expect(t.read(a + 3 * PAGE)).toBe(3);
    expect(c.read(a + 3 * PAGE)).toBe(33);
    expect(c.read(a + 4 * PAGE)).toBe(4);
  });

  it("thp: 'never' gives order-0 pages and the small zero page", async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const { a } = thpArea(t);
    t.write(a, 1);
    t.write(a + PAGE, 2);
    expect(k.page(t.translate(a)!).order).toBe(0);
    expect(k.page(t.translate(a + PAGE)!).order).toBe(0);
    expect(t.translate(a + 2 * PAGE)).toBe(null);
    t.read(a + 3 * PAGE);
    expect(t.translate(a + 3 * PAGE)).toBe(0);
    expect(k.meminfo().AnonHugePages).toBe(0);
    expect(k.meminfo().AnonPages).toBe(8);
  });

  it("thp: 'madvise' gives THPs only to MADV_HUGEPAGE ranges", async () => {
    const k = await bootTest(backend, { thp: 'madvise' });
    const t = k.spawn();
    const x = thpArea(t).a;
    const y = thpArea(t);
    t.write(x, 1);
    expect(k.page(t.translate(x)!).order).toBe(0);
    t.madvise(y.base, 2 * HPAGE, C.MADV_HUGEPAGE);
    t.write(y.a, 1);
    expect(k.page(t.translate(y.a)!).order).toBe(9);
    expect(k.meminfo().AnonHugePages).toBe(2048);
  });

  it('MADV_NOHUGEPAGE keeps THPs out under thp: always', async () => {
    const k = await bootThp();
    const t = k.spawn();
    const { base, a } = thpArea(t);
    t.madvise(base, 2 * HPAGE, C.MADV_NOHUGEPAGE);
    t.write(a, 1);
    expect(k.page(t.translate(a)!).order).toBe(0);
  });
});

describe.each(BACKENDS)('hugetlb (%s core)', (backend) => {
  const HUGE = ANON_PRIVATE | C.MAP_HUGETLB;

  it('the boot-time pool is reported by meminfo and taken out of free memory', async () => {
    const plain = await bootTest(backend);
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const mi = k.meminfo();
    expect(mi.HugePages_Total).toBe(4);
    expect(mi.HugePages_Free).toBe(4);
    expect(mi.Hugepagesize).toBe(2048);
    expect(mi.Hugetlb).toBe(4 * 2048);
    expect(plain.meminfo().MemFree - mi.MemFree).toBe(4 * 2048);
  });

  it('a MAP_HUGETLB write fault takes a pool page; munmap returns it', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const t = k.spawn();
    const a = t.mmap({ length: HPAGE, prot: RW, flags: HUGE });
    expect(a % HPAGE).toBe(0);
    expect(k.meminfo().HugePages_Free).toBe(4); // nothing taken until the fault
    t.write(a + 9 * PAGE, 9);
    expect(k.meminfo().HugePages_Free).toBe(3);
    const head = t.translate(a)!;
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(head % NR).toBe(0);
    expect(p.flags).toEqual(expect.arrayContaining(['hugetlb', 'head', 'anon']));
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1);
    expect(t.translate(a + 9 * PAGE)).toBe(head + 9);
    expect(t.read(a + 9 * PAGE)).toBe(9);
    expect(t.read(a + 10 * PAGE)).toBe(0);
    expect(k.meminfo().AnonHugePages).toBe(0); // hugetlb is not THP
    t.munmap(a, HPAGE);
    expect(k.meminfo().HugePages_Free).toBe(4);
    expect(k.page(head).flags).toContain('hugetlb'); // back in the pool, still a hugetlb folio
  });

  it('a private hugetlb read fault also takes a (zeroed) pool page: there is no hugetlb zero page', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 1 } });
    const t = k.spawn();
    const a = t.mmap({ length: HPAGE, prot: RW, flags: HUGE });
    t.write(a + 4 * PAGE, 0xdead);
    t.munmap(a, HPAGE);
    const b = t.mmap({ length: HPAGE, prot: RW, flags: HUGE });
    expect(t.read(b + 4 * PAGE)).toBe(0); // a recycled pool page comes back zeroed
    expect(k.meminfo().HugePages_Free).toBe(0);
    const p = pageAt(k, t, b);
    expect(p.flags).toContain('hugetlb');
    expect(p.pfn).not.toBe(0);
    t.write(b, 1); // the read mapping was exclusive: written in place
    expect(t.translate(b)).toBe(p.pfn);
  });

  it('a fault with the pool exhausted gets SIGBUS (MAP_NORESERVE)', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const t = k.spawn();
    const a = t.mmap({ length: 5 * HPAGE, prot: RW, flags: HUGE | C.MAP_NORESERVE });
    for (let i = 0; i < 4; i++) t.write(a + i * HPAGE, i);
    expect(k.meminfo().HugePages_Free).toBe(0);
    expect(codeOf(() => t.write(a + 4 * HPAGE, 4))).toBe('SIGBUS');
    expect(codeOf(() => t.read(a + 4 * HPAGE + PAGE))).toBe('SIGBUS');
    expect(t.translate(a + 4 * HPAGE)).toBe(null);
    t.munmap(a, HPAGE);
    t.write(a + 4 * HPAGE, 4);
    expect(t.read(a + 4 * HPAGE)).toBe(4);
  });

  it('fork shares a private hugetlb page; a child write copies it into another pool page', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const t = k.spawn();
    const a = t.mmap({ length: HPAGE, prot: RW, flags: HUGE });
    t.write(a, 1);
    t.write(a + PAGE, 2);
    const head = t.translate(a)!;
    const c = t.fork();
    expect(c.translate(a)).toBe(head);
    expect(k.page(head).refcount).toBe(2);
    expect(k.page(head).mapcount).toBe(2);
    expect(k.meminfo().HugePages_Free).toBe(3);
    c.write(a, 10);
    expect(k.meminfo().HugePages_Free).toBe(2);
    const copy = c.translate(a)!;
    expect(copy).not.toBe(head);
    expect(k.page(copy).order).toBe(9);
    expect(k.page(copy).flags).toContain('hugetlb');
    expect(k.page(head).refcount).toBe(1);
    expect(c.read(a + PAGE)).toBe(2); // the whole huge page was copied
    expect(t.read(a)).toBe(1);
    c.exit();
    expect(k.meminfo().HugePages_Free).toBe(3);
    // The parent, now the only user, reuses its page.
    t.write(a, 3);
    expect(t.translate(a)).toBe(head);
    expect(k.meminfo().HugePages_Free).toBe(3);
  });

  it('a hugetlbfs file is shared between tasks and keeps its pages when unmapped', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const f = k.createFile({ fs: 'hugetlbfs', size: '4MiB' });
    const t = k.spawn();
    const u = k.spawn();
    const a = t.mmap({ length: 2 * HPAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    const ufd = u.open(f);
    const b = u.mmap({ length: 2 * HPAGE, prot: RW, flags: C.MAP_SHARED, fd: ufd });
    t.write(a + 3 * PAGE, 33);
    expect(k.meminfo().HugePages_Free).toBe(3);
    expect(u.read(b + 3 * PAGE)).toBe(33);
    const head = t.translate(a)!;
    expect(u.translate(b)).toBe(head);
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(p.flags).toContain('hugetlb');
    expect(p.flags).not.toContain('anon');
    expect(p.mapcount).toBe(2);
    u.write(b + HPAGE, 44);
    expect(k.meminfo().HugePages_Free).toBe(2);
    expect(t.read(a + HPAGE)).toBe(44);
    expect(u.pread(ufd, 3 * PAGE)).toBe(33);
    t.munmap(a, 2 * HPAGE);
    u.munmap(b, 2 * HPAGE);
    expect(k.meminfo().HugePages_Free).toBe(2); // the file still holds its pages
    expect(u.pread(ufd, HPAGE)).toBe(44);
  });

  it('1 GiB pages: MAP_HUGETLB | MAP_HUGE_1GB maps an order-18 folio', async () => {
    const k = await bootTest(backend, { memory: '3GiB', hugepages: { '1GiB': 1 } });
    expect(k.meminfo().HugePages1G_Total).toBe(1);
    expect(k.meminfo().HugePages1G_Free).toBe(1);
    const t = k.spawn();
    const len = 1 << 30;
    const a = t.mmap({ length: len, prot: RW, flags: HUGE | C.MAP_HUGE_1GB });
    expect(a % len).toBe(0);
    t.write(a + 12345 * PAGE, 5);
    const head = t.translate(a)!;
    const p = k.page(head);
    expect(p.order).toBe(18);
    expect(head % (1 << 18)).toBe(0);
    expect(p.flags).toContain('hugetlb');
    expect(t.translate(a + 12345 * PAGE)).toBe(head + 12345);
    expect(t.read(a + 12345 * PAGE)).toBe(5);
    expect(k.meminfo().HugePages1G_Free).toBe(0);
    expect(k.meminfo().HugePages_Free).toBe(0); // the 2 MiB pool is separate
    t.munmap(a, len);
    expect(k.meminfo().HugePages1G_Free).toBe(1);
  });
});
