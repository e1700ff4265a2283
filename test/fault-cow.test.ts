// Page faults and copy-on-write: the shared zero page, do_anonymous_page,
// fork's COW sharing and do_wp_page's reuse-or-copy decision, private and
// shared file mappings, dirty tracking (->page_mkwrite) and writeback, and
// the memory that fork and exit give back.
import { describe, expect, it } from 'vitest';
import type { Kernel } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, codeOf, pageAt } from './helpers';

const stat = (k: Kernel, i: number): number => k.v.stats[i];

describe.each(BACKENDS)('anonymous faults (%s core)', (backend) => {
  it('a read of untouched private anon memory maps the shared zero page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const zeroBefore = k.page(0);
    const anonBefore = k.meminfo().AnonPages;
    expect(t.read(a + PAGE)).toBe(0);
    expect(t.translate(a + PAGE)).toBe(0);
    const zero = k.page(0);
    expect(zero.refcount).toBe(zeroBefore.refcount); // special PTE: no reference taken
    expect(zero.mapcount).toBe(0);
    expect(zero.flags).not.toContain('anon');
    expect(k.meminfo().AnonPages).toBe(anonBefore);
    // Other pages stay unmapped: faults are per page.
    expect(t.translate(a)).toBe(null);
  });

  it('the zero page is reserved: never on the free lists', async () => {
    const k = await bootTest(backend);
    const zero = k.page(0);
    expect(zero.flags).toContain('reserved');
    expect(zero.flags).not.toContain('buddy');
    expect(zero.refcount).toBeGreaterThan(0);
    // It is not free memory.
    expect(k.meminfo().MemFree).toBeLessThan(k.meminfo().MemTotal);
  });

  it('no written page is ever the zero page, even with memory nearly full', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const n = 15800; // of 16384 frames in 64 MiB
    const a = anon(t, n);
    for (let i = 0; i < n; i++) t.write(a + i * PAGE, i + 1);
    const wrong: number[] = [];
    for (let i = 0; i < n; i++) {
      if (t.translate(a + i * PAGE) === 0 || t.read(a + i * PAGE) !== i + 1) wrong.push(i);
    }
    expect(wrong).toEqual([]);
  });

  it('a write maps a fresh exclusive anonymous page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const anonBefore = k.meminfo().AnonPages;
    t.write(a, 0xabc);
    const p = pageAt(k, t, a);
    expect(p.pfn).not.toBe(0);
    expect(p.order).toBe(0);
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1);
    expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive', 'swapbacked']));
    expect(p.data).toBe(0xabc);
    expect(t.read(a)).toBe(0xabc);
    expect(k.meminfo().AnonPages).toBe(anonBefore + 4);
  });

  it('a write to an address mapping the zero page allocates a new page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.read(a);
    expect(t.translate(a)).toBe(0);
    const zeroRef = k.page(0).refcount;
    t.write(a, 5);
    const p = pageAt(k, t, a);
    expect(p.pfn).not.toBe(0);
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1);
    expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(k.page(0).refcount).toBe(zeroRef);
    expect(k.page(0).data).toBe(0); // the zero page itself is never written
    expect(t.read(a)).toBe(5);
  });
});

describe.each(BACKENDS)('fork and copy-on-write (%s core)', (backend) => {
  it('fork shares anon pages: refcount 2, mapcount 2, AnonExclusive cleared', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 11);
    const pfn = t.translate(a)!;
    const c = t.fork();
    expect(c.translate(a)).toBe(pfn);
    const p = k.page(pfn);
    expect(p.refcount).toBe(2);
    expect(p.mapcount).toBe(2);
    expect(p.flags).toContain('anon');
    expect(p.flags).not.toContain('anon_exclusive');
    expect(c.read(a)).toBe(11);
    expect(t.read(a)).toBe(11);
    // Reads do not break COW.
    expect(c.translate(a)).toBe(pfn);
    expect(t.translate(a)).toBe(pfn);
  });

  it('fork copies zero-page mappings as zero-page mappings', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 1); // gives the VMA an anon_vma, so fork copies its page tables
    t.read(a + PAGE);
    const zeroRef = k.page(0).refcount;
    const c = t.fork();
    expect(c.translate(a + PAGE)).toBe(0);
    expect(k.page(0).refcount).toBe(zeroRef);
    c.write(a + PAGE, 3);
    expect(c.translate(a + PAGE)).not.toBe(0);
    expect(t.read(a + PAGE)).toBe(0);
  });

  it('a child write copies the page; the parent keeps the original', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 100);
    const pfn = t.translate(a)!;
    const c = t.fork();
    c.write(a, 200);
    const cp = pageAt(k, c, a);
    expect(cp.pfn).not.toBe(pfn);
    expect(cp.refcount).toBe(1);
    expect(cp.mapcount).toBe(1);
    expect(cp.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(t.translate(a)).toBe(pfn);
    const pp = k.page(pfn);
    expect(pp.refcount).toBe(1);
    expect(pp.mapcount).toBe(1);
    // Still not exclusive: only the parent's next write fault decides that.
    expect(pp.flags).not.toContain('anon_exclusive');
    expect(t.read(a)).toBe(100);
    expect(c.read(a)).toBe(200);
    t.write(a, 101);
    expect(c.read(a)).toBe(200);
    c.write(a, 201);
    expect(t.read(a)).toBe(101);
  });

  it('the parent reuses its page (same pfn) once it is the only user again', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pfn = t.translate(a)!;
    const c = t.fork();
    c.exit();
    expect(k.page(pfn).refcount).toBe(1);
    expect(k.page(pfn).mapcount).toBe(1);
    expect(k.page(pfn).flags).not.toContain('anon_exclusive');
    const copies = stat(k, C.COW_COPIES);
    t.write(a, 2);
    expect(t.translate(a)).toBe(pfn);
    expect(stat(k, C.COW_COPIES)).toBe(copies);
    const p = k.page(pfn);
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1);
    expect(p.flags).toContain('anon_exclusive');
    expect(t.read(a)).toBe(2);
  });

  it('after a child COWs away, the parent write reuses the original page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pfn = t.translate(a)!;
    const c = t.fork();
    c.write(a, 2);
    t.write(a, 3);
    expect(t.translate(a)).toBe(pfn);
    expect(k.page(pfn).flags).toContain('anon_exclusive');
    expect(c.read(a)).toBe(2);
  });

  it('a parent write while the child still maps the page copies in the parent', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pfn = t.translate(a)!;
    const c = t.fork();
    t.write(a, 2);
    expect(t.translate(a)).not.toBe(pfn);
    expect(c.translate(a)).toBe(pfn);
    expect(k.page(pfn).refcount).toBe(1);
    expect(c.read(a)).toBe(1);
    // The child is now the only user: its write reuses the page.
    c.write(a, 3);
    expect(c.translate(a)).toBe(pfn);
    expect(k.page(pfn).flags).toContain('anon_exclusive');
  });

  it('any extra reference forces a copy: two children share, one writes', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 7);
    const pfn = t.translate(a)!;
    const c1 = t.fork();
    const c2 = t.fork();
    expect(k.page(pfn).refcount).toBe(3);
    expect(k.page(pfn).mapcount).toBe(3);
    c1.write(a, 8);
    expect(c1.translate(a)).not.toBe(pfn);
    expect(k.page(pfn).refcount).toBe(2);
    // Parent write: the page is still mapped by c2 (refcount 2), so copy again.
    t.write(a, 9);
    expect(t.translate(a)).not.toBe(pfn);
    expect(k.page(pfn).refcount).toBe(1);
    // c2 is now the last user and reuses the original.
    c2.write(a, 10);
    expect(c2.translate(a)).toBe(pfn);
    expect([t.read(a), c1.read(a), c2.read(a)]).toEqual([9, 8, 10]);
  });

  it('MADV_DONTFORK: the child does not get the range; the parent keeps its pages exclusive', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const b = anon(t, 1);
    t.touch(a, 4 * PAGE, { write: true });
    t.write(b, 5);
    t.madvise(a, 4 * PAGE, C.MADV_DONTFORK);
    const pfn = t.translate(a)!;
    const c = t.fork();
    expect(c.maps().some((v) => v.start <= a && a < v.end)).toBe(false);
    expect(c.maps().some((v) => v.start <= b && b < v.end)).toBe(true);
    expect(c.translate(a)).toBe(null);
    expect(codeOf(() => c.read(a))).toBe('SIGSEGV');
    const p = k.page(pfn);
    expect(p.refcount).toBe(1);
    expect(p.mapcount).toBe(1);
    expect(p.flags).toContain('anon_exclusive');
    t.write(a, 6);
    expect(t.translate(a)).toBe(pfn);
    // The rest of the address space was still shared COW.
    expect(c.read(b)).toBe(5);
    expect(c.translate(b)).toBe(t.translate(b));
    // MADV_DOFORK restores normal inheritance.
    t.madvise(a, 4 * PAGE, C.MADV_DOFORK);
    const c2 = t.fork();
    expect(c2.read(a)).toBe(6);
    expect(c2.translate(a)).toBe(pfn);
  });

  it('a MAP_SHARED|MAP_ANONYMOUS mapping is the same page in parent and child', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.write(a, 1);
    const pfn = t.translate(a)!;
    const c = t.fork();
    // A shared VMA without anon_vma is not copied at fork: the child faults it in.
    expect(c.translate(a)).toBe(null);
    expect(c.read(a)).toBe(1);
    expect(c.translate(a)).toBe(pfn);
    c.write(a, 2);
    expect(c.translate(a)).toBe(pfn);
    expect(t.read(a)).toBe(2);
    const p = k.page(pfn);
    expect(p.flags).not.toContain('anon'); // shmem page cache
    expect(p.flags).toContain('swapbacked');
    expect(p.mapcount).toBe(2);
    expect(p.refcount).toBe(3); // the page cache's reference + two mappings
  });
});

describe.each(BACKENDS)('file mappings (%s core)', (backend) => {
  async function ext4File(core: typeof backend, pages: number) {
    const k = await bootTest(core);
    const f = k.createFile({ fs: 'ext4', size: pages * PAGE, name: 'data' });
    const t = k.spawn();
    const fd = t.open(f);
    for (let i = 0; i < pages; i++) t.pwrite(fd, i * PAGE, 1000 + i);
    expect(k.writeback(f).hazards).toEqual([]);
    return { k, f, t, fd };
  }

  it('a private file mapping reads the page-cache page; a write COWs into an anon page', async () => {
    const { k, t, fd } = await ext4File(backend, 2);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    expect(t.read(a)).toBe(1000);
    const cachePfn = t.translate(a)!;
    const cp = k.page(cachePfn);
    expect(cp.flags).not.toContain('anon');
    expect(cp.flags).toContain('uptodate');
    expect(cp.mapcount).toBe(1);
    expect(cp.refcount).toBe(2); // page cache + mapping
    t.write(a, 1);
    const ap = pageAt(k, t, a);
    expect(ap.pfn).not.toBe(cachePfn);
    expect(ap.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(ap.refcount).toBe(1);
    expect(ap.mapcount).toBe(1);
    // The page-cache page is unmapped, still cached, and unchanged.
    const after = k.page(cachePfn);
    expect(after.mapcount).toBe(0);
    expect(after.refcount).toBe(1);
    expect(after.flags).not.toContain('dirty');
    expect(after.data).toBe(1000);
    expect(t.pread(fd, 0)).toBe(1000);
    expect(t.read(a)).toBe(1);
    // A write fault on a page never read copies straight from the cache (do_cow_fault).
    t.write(a + PAGE, 2);
    expect(pageAt(k, t, a + PAGE).flags).toContain('anon');
    expect(t.pread(fd, PAGE)).toBe(1001);
    expect(k.writeback().hazards).toEqual([]);
  });

  it('a private COW copy is not shared with another mapper of the file', async () => {
    const { k, f, t, fd } = await ext4File(backend, 1);
    const u = k.spawn();
    const ufd = u.open(f);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    const b = u.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: ufd });
    t.write(a, 5);
    expect(u.read(b)).toBe(1000);
    u.write(b, 6);
    expect(t.read(a)).toBe(5);
    expect(t.pread(fd, 0)).toBe(6);
  });

  it('shared file mappings write through to the file (ext4 and tmpfs)', async () => {
    const k = await bootTest(backend);
    for (const fs of ['ext4', 'tmpfs'] as const) {
      const f = k.createFile({ fs, size: 2 * PAGE });
      const t = k.spawn();
      const fd = t.open(f);
      const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
      t.write(a + PAGE, 77);
      expect(t.pread(fd, PAGE)).toBe(77);
      t.pwrite(fd, 0, 88);
      expect(t.read(a)).toBe(88);
      const u = k.spawn();
      const b = u.mmap({ length: 2 * PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: u.open(f) });
      expect(u.read(b + PAGE)).toBe(77);
      expect(u.translate(b + PAGE)).toBe(t.translate(a + PAGE));
    }
  });

  it('ext4 MAP_SHARED: clean pages are mapped read-only and dirtied through ->page_mkwrite', async () => {
    const { k, f, t, fd } = await ext4File(backend, 2);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    expect(t.read(a)).toBe(1000);
    const pfn = t.translate(a)!;
    let p = k.page(pfn);
    expect(p.flags).not.toContain('dirty');
    expect(p.flags).not.toContain('private');
    expect(p.flags).not.toContain('anon');

    // The read fault mapped it read-only: the first write faults again.
    let faults = stat(k, C.PGFAULT);
    let mkwrites = stat(k, C.PAGE_MKWRITE);
    t.write(a, 42);
    expect(stat(k, C.PGFAULT)).toBe(faults + 1);
    expect(stat(k, C.PAGE_MKWRITE)).toBe(mkwrites + 1);
    expect(t.translate(a)).toBe(pfn); // shared: never a copy
    p = k.page(pfn);
    expect(p.flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    // Now writable: the next store takes no fault.
    faults = stat(k, C.PGFAULT);
    t.write(a, 43);
    expect(stat(k, C.PGFAULT)).toBe(faults);

    // Writeback cleans the folio, write-protects the PTE and stores the data.
    const rep = k.writeback(f);
    expect(rep.written).toBe(1);
    expect(rep.hazards).toEqual([]);
    p = k.page(pfn);
    expect(p.flags).not.toContain('dirty');
    expect(p.flags).not.toContain('private');
    expect(f.store.get(0)).toBe(43);
    expect(t.pread(fd, 0)).toBe(43);
    expect(k.writeback(f).written).toBe(0); // nothing dirty any more

    // The next write goes through ->page_mkwrite again.
    faults = stat(k, C.PGFAULT);
    mkwrites = stat(k, C.PAGE_MKWRITE);
    t.write(a, 44);
    expect(stat(k, C.PGFAULT)).toBe(faults + 1);
    expect(stat(k, C.PAGE_MKWRITE)).toBe(mkwrites + 1);
    p = k.page(pfn);
    expect(p.flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    const rep2 = k.writeback(f);
    expect(rep2.written).toBe(1);
    expect(rep2.hazards).toEqual([]);
    expect(f.store.get(0)).toBe(44);
  });

  it('ext4 MAP_SHARED: mprotect back to writable keeps a cleaned page write-protected', async () => {
    const { k, f, t, fd } = await ext4File(backend, 1);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.write(a, 1);
    k.writeback(f);
    t.mprotect(a, PAGE, C.PROT_READ);
    t.mprotect(a, PAGE, RW);
    // can_change_pte_writable(): a clean PTE in a writenotify mapping stays
    // read-only, so the filesystem hears about the next write.
    const mkwrites = stat(k, C.PAGE_MKWRITE);
    t.write(a, 2);
    expect(stat(k, C.PAGE_MKWRITE)).toBe(mkwrites + 1);
    expect(pageAt(k, t, a).flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    expect(k.writeback(f).hazards).toEqual([]);
    expect(f.store.get(0)).toBe(2);
  });

  it('tmpfs MAP_SHARED: mprotect back to writable needs no new write fault', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'tmpfs', size: PAGE });
    const t = k.spawn();
    const a = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: t.open(f) });
    t.read(a);
    t.mprotect(a, PAGE, RW);
    const faults = stat(k, C.PGFAULT);
    t.write(a, 1);
    expect(stat(k, C.PGFAULT)).toBe(faults);
  });

  it('ext4 MAP_SHARED: a write fault on an unmapped page also goes through ->page_mkwrite', async () => {
    const { k, f, t, fd } = await ext4File(backend, 1);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const mkwrites = stat(k, C.PAGE_MKWRITE);
    t.write(a, 9);
    expect(stat(k, C.PAGE_MKWRITE)).toBe(mkwrites + 1);
    expect(pageAt(k, t, a).flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    expect(k.writeback(f)).toEqual({ written: 1, hazards: [] });
    expect(f.store.get(0)).toBe(9);
  });

  it('tmpfs MAP_SHARED: a read fault already maps the page writable (no dirty tracking)', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'tmpfs', size: PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const a = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    let faults = stat(k, C.PGFAULT);
    expect(t.read(a)).toBe(0);
    expect(stat(k, C.PGFAULT)).toBe(faults + 1);
    faults = stat(k, C.PGFAULT);
    const mkwrites = stat(k, C.PAGE_MKWRITE);
    t.write(a, 3);
    expect(stat(k, C.PGFAULT)).toBe(faults);
    expect(stat(k, C.PAGE_MKWRITE)).toBe(mkwrites);
    expect(t.pread(fd, 0)).toBe(3);
    expect(pageAt(k, t, a).flags).toContain('swapbacked');
    // tmpfs has no writeback.
    expect(k.writeback(f)).toEqual({ written: 0, hazards: [] });
  });

  it('writeback reports no hazards for ordinary use of files', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'ext4', size: 8 * PAGE });
    const g = k.createFile({ fs: 'xfs', size: 4 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const gd = t.open(g);
    t.pwrite(fd, 0, 1);
    const a = t.mmap({ length: 8 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const b = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd: gd });
    t.touch(a, 8 * PAGE, { write: true });
    t.touch(b, 4 * PAGE, { write: true });
    const c = t.fork();
    c.write(a + PAGE, 5);
    t.pwrite(gd, PAGE, 6);
    let rep = k.writeback();
    expect(rep.hazards).toEqual([]);
    expect(rep.written).toBe(9); // 8 pages of f, 1 of g
    t.write(a + 2 * PAGE, 7);
    c.exit();
    t.munmap(a, 8 * PAGE);
    rep = k.writeback();
    expect(rep.hazards).toEqual([]);
    expect(rep.written).toBe(1);
    expect(f.store.get(1)).toBe(5);
    expect(f.store.get(2)).toBe(7);
    expect(g.store.get(1)).toBe(6);
    expect(k.dmesg().some((l) => l.includes('page_mkwrite'))).toBe(false);
  });
});

describe.each(BACKENDS)('memory returned by exit (%s core)', (backend) => {
  it("a child's exit frees its pages and page tables", async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    const before = k.meminfo();
    const c = t.fork();
    c.touch(a, 4 * PAGE, { write: true }); // 4 COW copies
    const b = anon(c, 3);
    c.touch(b, 3 * PAGE, { write: true });
    expect(k.meminfo().MemFree).toBeLessThan(before.MemFree - 7 * 4);
    c.exit();
    const after = k.meminfo();
    expect(after.MemFree).toBe(before.MemFree);
    expect(after.AnonPages).toBe(before.AnonPages);
    expect(after.PageTables).toBe(before.PageTables);
    for (let i = 0; i < 8; i++) {
      const p = pageAt(k, t, a + i * PAGE);
      expect(p.refcount).toBe(1);
      expect(p.mapcount).toBe(1);
    }
  });

  it('when every task has exited, only the page cache and the huge zero folio stay allocated', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const boot = k.meminfo();
    const f = k.createFile({ fs: 'ext4', size: 4 * PAGE });
    const g = k.createFile({ fs: 'tmpfs', size: 2 * PAGE });
    const t = k.spawn();
    // Anon memory, COW-shared with a child that copies part of it.
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    const c = t.fork();
    c.touch(a, 3 * PAGE, { write: true });
    // A THP-eligible region: one THP written, one huge zero folio read.
    const big = t.mmap({ length: 8 << 20, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(big / (2 << 20)) * (2 << 20);
    t.write(h, 1);
    t.read(h + (2 << 20));
    // File mappings: shared and private (with a COW copy), and a tmpfs file.
    const fd = t.open(f);
    const m = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(m, 4 * PAGE, { write: true });
    const pm = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    t.write(pm, 9);
    const gm = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(g) });
    t.write(gm, 3);
    const gc = c.fork();
    gc.write(a + 5 * PAGE, 1);
    k.writeback();
    for (const task of [gc, c, t]) task.exit();
    const end = k.meminfo();
    expect(end.AnonPages).toBe(0);
    expect(end.AnonHugePages).toBe(0);
    expect(end.PageTables).toBe(0);
    expect(end.Cached).toBe(5 * 4); // f's 4 pages and the one page of g written
    expect(end.Shmem).toBe(4);
    expect(boot.MemFree - end.MemFree).toBe(end.Cached + 2048); // + the huge zero folio
  });

  it('with no files and no huge zero folio, MemFree returns exactly to its boot value', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const boot = k.meminfo().MemFree;
    const t = k.spawn();
    const a = anon(t, 16);
    t.touch(a, 16 * PAGE, { write: true });
    const big = t.mmap({ length: 4 << 20, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.write(Math.ceil(big / (2 << 20)) * (2 << 20), 1);
    const c = t.fork();
    c.touch(a, 16 * PAGE, { write: true });
    t.munmap(a, 4 * PAGE);
    c.exit();
    t.exit();
    expect(k.meminfo().MemFree).toBe(boot);
    expect(k.meminfo().Cached).toBe(0);
  });

  it('shared anonymous memory is freed when its last mapping goes', async () => {
    const k = await bootTest(backend);
    const boot = k.meminfo();
    const t = k.spawn();
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.touch(a, 4 * PAGE, { write: true });
    const c = t.fork();
    c.read(a);
    expect(k.meminfo().Shmem).toBe(4 * 4);
    t.munmap(a, 4 * PAGE);
    expect(c.read(a + PAGE)).toBe(0); // still alive for the child
    c.exit();
    t.exit();
    // The internal shmem file ("/dev/zero (deleted)") lost its last reference:
    // its inode is evicted and its pages freed.
    const end = k.meminfo();
    expect(end.Shmem).toBe(0);
    expect(end.Cached).toBe(0);
    expect(end.MemFree).toBe(boot.MemFree);
  });

  it('a memfd is freed when its last fd and mapping go', async () => {
    const k = await bootTest(backend);
    const boot = k.meminfo();
    const t = k.spawn();
    const fd = t.memfd_create('buf');
    t.ftruncate(fd, 4 * PAGE);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(a, 4 * PAGE, { write: true });
    t.close(fd);
    expect(t.read(a)).toBe(0); // the mapping keeps the file alive
    t.munmap(a, 4 * PAGE);
    t.exit();
    const end = k.meminfo();
    expect(end.Shmem).toBe(0);
    expect(end.Cached).toBe(0);
    expect(end.MemFree).toBe(boot.MemFree);
  });
});
