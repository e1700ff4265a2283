// mmap(2), munmap(2), mprotect(2) and madvise(2): placement, VMA split and
// merge, population, sharing, hugetlb and THP, as Linux (x86-64, 4-level
// paging, no ASLR) behaves.
import { describe, expect, it } from 'vitest';
import type { Kernel, SimFile, Task, VmaInfo } from '../src/index';
import { BACKENDS, bootTest, anon, expectCode, C, PAGE, RW, ANON_PRIVATE, codeOf } from './helpers';

const MMAP_BASE = 0x7f0000000000;
const MIB = 1024 * 1024;
const HPAGE = 2 * MIB; // PMD size
const R = C.PROT_READ;

// [start, end) of every VMA, for compact assertions.
const ranges = (t: Task) => t.maps().map((v) => [v.start, v.end]);
const vmaAt = (t: Task, addr: number): VmaInfo | undefined => t.maps().find((v) => v.start <= addr && addr < v.end);
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function map(t: Task, length: number, flags: number, extra: { prot?: number; addr?: number; fd?: number } = {}): number {
  return t.mmap({ length, prot: extra.prot ?? RW, flags, addr: extra.addr, fd: extra.fd });
}

// A 2 MiB-aligned address inside a 4 MiB mapping starting at a.
const pmdInside = (a: number) => alignUp(a, HPAGE);

async function hugeBoot(backend: 'wasm' | 'ts', n: number): Promise<Kernel> {
  return bootTest(backend, { hugepages: { '2MiB': n } });
}

describe.each(BACKENDS)('mmap placement (%s core)', (backend) => {
  it('places mappings page-aligned, top-down below MMAP_BASE, without overlap', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const lens = [PAGE, 3 * PAGE, 5 * PAGE + 1, 17 * PAGE];
    const got = lens.map((len) => [map(t, len, ANON_PRIVATE), alignUp(len, PAGE)]);
    for (const [a, len] of got) {
      expect(a % PAGE).toBe(0);
      expect(a + len).toBeLessThanOrEqual(MMAP_BASE);
    }
    expect(got[0][0] + got[0][1]).toBe(MMAP_BASE); // the first one just below the base
    for (let i = 1; i < got.length; i++) {
      expect(got[i][0]).toBeLessThan(got[i - 1][0]); // top-down
      expect(got[i][0] + got[i][1]).toBeLessThanOrEqual(got[i - 1][0]); // no overlap
    }
  });

  it('honours a free hint', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const hint = 0x10000000;
    expect(map(t, 4 * PAGE, ANON_PRIVATE, { addr: hint })).toBe(hint);
    expect(vmaAt(t, hint)).toMatchObject({ start: hint, end: hint + 4 * PAGE });
  });

  it('honours a free hint even when the length is a multiple of 2 MiB', async () => {
    // THP alignment only applies when the kernel chooses the address (no hint).
    const k = await bootTest(backend);
    const t = k.spawn();
    const hint = 0x10001000;
    expect(map(t, HPAGE, ANON_PRIVATE, { addr: hint })).toBe(hint);
  });

  it('ignores an occupied hint and leaves the occupant alone', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 11);
    const b = map(t, 2 * PAGE, ANON_PRIVATE, { addr: a + PAGE });
    expect(b + 2 * PAGE <= a || b >= a + 4 * PAGE).toBe(true);
    expect(t.read(a + PAGE)).toBe(0);
    expect(t.read(a)).toBe(11);
  });

  it('ignores a hint above TASK_SIZE and maps below MMAP_BASE', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = map(t, PAGE, ANON_PRIVATE, { addr: 2 ** 47 });
    expect(a + PAGE).toBeLessThanOrEqual(MMAP_BASE);
  });

  it('MAP_FIXED replaces the overlapped part of a mapping and frees its pages', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    for (let i = 0; i < 4; i++) t.write(a + i * PAGE, 100 + i);
    const old = [t.translate(a + PAGE)!, t.translate(a + 2 * PAGE)!];
    const anonBefore = k.meminfo().AnonPages;
    expect(map(t, 2 * PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: a + PAGE, prot: R })).toBe(a + PAGE);
    expect(t.translate(a + PAGE)).toBe(null);
    expect(t.translate(a + 2 * PAGE)).toBe(null);
    for (const pfn of old) expect(k.page(pfn).refcount).toBe(0);
    expect(k.meminfo().AnonPages).toBe(anonBefore - 2 * 4);
    expect(t.read(a + PAGE)).toBe(0);
    expect(t.read(a + 2 * PAGE)).toBe(0);
    expect(t.read(a)).toBe(100);
    expect(t.read(a + 3 * PAGE)).toBe(103);
    expect(t.maps().map((v) => v.perms)).toEqual(['rw-p', 'r--p', 'rw-p']);
  });

  it('MAP_FIXED_NOREPLACE fails with EEXIST on a mapped range and maps a free one exactly', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a + 3 * PAGE, 5);
    const before = ranges(t);
    expectCode(k, () => map(t, 2 * PAGE, ANON_PRIVATE | C.MAP_FIXED_NOREPLACE, { addr: a + 3 * PAGE }), 'EEXIST');
    expect(ranges(t)).toEqual(before);
    expect(t.read(a + 3 * PAGE)).toBe(5);
    const free = a - 16 * PAGE;
    expect(map(t, 2 * PAGE, ANON_PRIVATE | C.MAP_FIXED_NOREPLACE, { addr: free })).toBe(free);
  });

  it('merges adjacent private anonymous VMAs of the same protection', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    t.write(a, 1); // the first one has an anon_vma, the second not yet: still mergeable
    const b = anon(t, 2);
    expect(b + 2 * PAGE).toBe(a);
    expect(ranges(t)).toEqual([[b, a + 3 * PAGE]]);
    const c = map(t, PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: a + 3 * PAGE });
    expect(ranges(t)).toEqual([[b, c + PAGE]]);
    expect(t.read(a)).toBe(1);
  });

  it('does not merge adjacent VMAs with different protections', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    const b = anon(t, 2, R);
    expect(b + 2 * PAGE).toBe(a);
    expect(ranges(t)).toEqual([[b, a], [a, a + 3 * PAGE]]);
  });

  it('fills a hole between two parts of one VMA back into a single VMA', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    t.touch(a, 3 * PAGE, { write: true });
    t.munmap(a + PAGE, PAGE);
    expect(ranges(t)).toEqual([[a, a + PAGE], [a + 2 * PAGE, a + 3 * PAGE]]);
    map(t, PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: a + PAGE });
    expect(ranges(t)).toEqual([[a, a + 3 * PAGE]]);
  });

  it('does not merge across two VMAs whose anon_vmas differ', async () => {
    // A and B were faulted separately while not adjacent, so each has its
    // own anon_vma; vma_merge() joins prev and next only if their anon_vmas
    // are mergeable, so filling the gap merges with one side only.
    const k = await bootTest(backend);
    const t = k.spawn();
    const x = 0x10000000;
    map(t, 2 * PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: x });
    map(t, 2 * PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: x + 3 * PAGE });
    t.write(x, 1);
    t.write(x + 3 * PAGE, 2);
    map(t, PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: x + 2 * PAGE });
    expect(t.maps()).toHaveLength(2);
    expect(t.read(x)).toBe(1);
    expect(t.read(x + 3 * PAGE)).toBe(2);
  });

  it('aligns private anonymous mappings whose length is a multiple of 2 MiB when THP is on', async () => {
    const k = await bootTest(backend); // thp: 'always'
    const t = k.spawn();
    anon(t, 3); // knock the top of the free area off 2 MiB alignment
    for (const len of [HPAGE, 2 * HPAGE, 3 * HPAGE]) {
      const a = map(t, len, ANON_PRIVATE);
      expect(a % HPAGE).toBe(0);
      expect(a + len).toBeLessThanOrEqual(MMAP_BASE);
    }
  });
});

describe.each(BACKENDS)('munmap (%s core)', (backend) => {
  it('splits a VMA when unmapping its middle; the hole faults with SIGSEGV', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 5);
    for (let i = 0; i < 5; i++) t.write(a + i * PAGE, 10 + i);
    t.munmap(a + PAGE, 2 * PAGE);
    expect(ranges(t)).toEqual([[a, a + PAGE], [a + 3 * PAGE, a + 5 * PAGE]]);
    expect(t.translate(a + PAGE)).toBe(null);
    expectCode(k, () => t.read(a + PAGE), 'SIGSEGV');
    expectCode(k, () => t.write(a + 2 * PAGE, 1), 'SIGSEGV');
    expect(t.read(a)).toBe(10);
    expect(t.read(a + 3 * PAGE)).toBe(13);
  });

  it('rounds the length up to whole pages', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    t.munmap(a, PAGE + 1);
    expect(ranges(t)).toEqual([[a + 2 * PAGE, a + 3 * PAGE]]);
  });

  it('frees the pages and the page tables once everything is unmapped', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const base = k.meminfo();
    // Three mappings far apart, so each needs its own page tables.
    const addrs = [0x10000000, 0x4000000000, 0x600000000000];
    for (const addr of addrs) {
      map(t, 8 * PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr });
      t.touch(addr, 8 * PAGE, { write: true });
    }
    const used = k.meminfo();
    expect(used.PageTables).toBeGreaterThan(base.PageTables);
    expect(used.AnonPages).toBe(base.AnonPages + 3 * 8 * 4);
    for (const addr of addrs) t.munmap(addr, 8 * PAGE);
    const after = k.meminfo();
    expect(after.PageTables).toBe(base.PageTables);
    expect(after.AnonPages).toBe(base.AnonPages);
    expect(after.MemFree).toBe(base.MemFree);
    expect(t.maps()).toEqual([]);
  });

  it('succeeds on a range with nothing mapped and changes nothing', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 3);
    const before = k.digest();
    t.munmap(a - 64 * PAGE, 16 * PAGE);
    t.munmap(0x20000000, HPAGE);
    expect(k.digest()).toBe(before);
    expect(ranges(t)).toEqual([[a, a + 2 * PAGE]]);
    expect(t.read(a)).toBe(3);
  });
});

describe.each(BACKENDS)('MAP_POPULATE (%s core)', (backend) => {
  it('populates a private writable mapping with distinct real pages', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = map(t, 6 * PAGE, ANON_PRIVATE | C.MAP_POPULATE);
    const pfns = [...Array(6).keys()].map((i) => t.translate(a + i * PAGE));
    for (const pfn of pfns) {
      expect(pfn).not.toBe(null);
      expect(pfn).not.toBe(0);
      expect(k.page(pfn!).flags).toContain('anon');
    }
    expect(new Set(pfns).size).toBe(6);
  });

  it('populates a private read-only mapping with the zero page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = map(t, 6 * PAGE, ANON_PRIVATE | C.MAP_POPULATE, { prot: R });
    for (let i = 0; i < 6; i++) expect(t.translate(a + i * PAGE)).toBe(0);
    expect(t.read(a)).toBe(0);
  });

  it('the zero page is reserved, not free', async () => {
    // empty_zero_page is PageReserved and never in the buddy allocator.
    const k = await bootTest(backend);
    const zero = k.page(0);
    expect(zero.flags).toContain('reserved');
    expect(zero.flags).not.toContain('buddy');
    expect(k.meminfo().MemFree).toBeLessThan(k.meminfo().MemTotal);
  });

  it('never hands out the zero page: every written page reads back', async () => {
    // A real page at the zero page's pfn would read as zeros (pinsim reads pfn 0 as 0).
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    // Write pages until memory runs out, so that every free frame gets used.
    const a = anon(t, 16384);
    let n = 0;
    while (codeOf(() => t.write(a + n * PAGE, n + 1)) === undefined) n++;
    expect(n).toBeGreaterThan(15000);
    const wrong: number[] = [];
    for (let i = 0; i < n; i++) {
      if (t.translate(a + i * PAGE) === 0 || t.read(a + i * PAGE) !== i + 1) wrong.push(i);
    }
    expect(wrong).toEqual([]);
  });

  it('leaves a mapping without MAP_POPULATE unpopulated', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    for (let i = 0; i < 4; i++) expect(t.translate(a + i * PAGE)).toBe(null);
  });
});

describe.each(BACKENDS)('shared mappings (%s core)', (backend) => {
  it('MAP_SHARED|MAP_ANONYMOUS is shared with a forked child', async () => {
    const k = await bootTest(backend);
    const p = k.spawn();
    const a = map(p, 2 * PAGE, C.MAP_SHARED | C.MAP_ANONYMOUS);
    p.write(a, 1);
    const c = p.fork();
    c.write(a, 2);
    c.write(a + PAGE, 3); // a page first faulted by the child after fork
    expect(p.read(a)).toBe(2);
    expect(p.read(a + PAGE)).toBe(3);
    expect(p.translate(a)).toBe(c.translate(a));
    expect(p.translate(a + PAGE)).toBe(c.translate(a + PAGE));
    expect(vmaAt(p, a)!.perms).toBe('rw-s');
  });

  it('munmap in one task leaves a shared page mapped in the other', async () => {
    const k = await bootTest(backend);
    const p = k.spawn();
    const a = map(p, PAGE, C.MAP_SHARED | C.MAP_ANONYMOUS);
    p.write(a, 4);
    const c = p.fork();
    c.munmap(a, PAGE);
    expectCode(k, () => c.read(a), 'SIGSEGV');
    expect(p.read(a)).toBe(4);
    expect(k.page(p.translate(a)!).mapcount).toBe(1);
  });

  it('a memfd mapped MAP_SHARED by two tasks shares its pages', async () => {
    const k = await bootTest(backend);
    const a = k.spawn({ name: 'a' });
    const b = k.spawn({ name: 'b' });
    const fdA = a.memfd_create('shm');
    a.ftruncate(fdA, 4 * PAGE);
    const fdB = b.open(a.fds.get(fdA) as SimFile); // as if passed over a unix socket
    const va = map(a, 4 * PAGE, C.MAP_SHARED, { fd: fdA });
    const vb = map(b, 4 * PAGE, C.MAP_SHARED, { fd: fdB });
    a.write(va + PAGE, 77);
    expect(b.read(vb + PAGE)).toBe(77);
    b.write(vb + 3 * PAGE, 88);
    expect(a.read(va + 3 * PAGE)).toBe(88);
    expect(a.translate(va + PAGE)).toBe(b.translate(vb + PAGE));
    expect(b.pread(fdB, PAGE)).toBe(77);
    expect(vmaAt(a, va)!.file).toContain('shm');
  });

  it('a memfd mapping past EOF gets SIGBUS', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const fd = t.memfd_create('short');
    t.ftruncate(fd, PAGE);
    const a = map(t, 2 * PAGE, C.MAP_SHARED, { fd });
    t.write(a, 1);
    // A fault that ends in SIGBUS may still have set up page tables and
    // counted the fault, as in Linux: only the signal is asserted.
    expect(codeOf(() => t.read(a + PAGE))).toBe('SIGBUS');
  });
});

describe.each(BACKENDS)('hugetlb (%s core)', (backend) => {
  it('a hugetlb memfd maps 2 MiB pages from the pool', async () => {
    const k = await hugeBoot(backend, 4);
    const t = k.spawn();
    const fd = t.memfd_create('huge', { hugetlb: true });
    t.ftruncate(fd, 2 * HPAGE);
    const a = map(t, 2 * HPAGE, C.MAP_SHARED, { fd });
    expect(a % HPAGE).toBe(0);
    expect(vmaAt(t, a)!.hugetlb).toBe(true);
    t.write(a + 5 * PAGE, 9);
    const pfn = t.translate(a + 5 * PAGE)!;
    const head = t.translate(a)!;
    expect(pfn).toBe(head + 5);
    const p = k.page(head);
    expect(p.order).toBe(9);
    expect(p.flags).toContain('hugetlb');
    expect(k.meminfo().HugePages_Free).toBe(3);
    expect(t.read(a + 5 * PAGE)).toBe(9);
  });

  it('MAP_HUGETLB rounds the length up to 2 MiB and faults in a huge page', async () => {
    const k = await hugeBoot(backend, 2);
    const t = k.spawn();
    const a = map(t, PAGE, ANON_PRIVATE | C.MAP_HUGETLB);
    expect(a % HPAGE).toBe(0);
    expect(vmaAt(t, a)).toMatchObject({ start: a, end: a + HPAGE, hugetlb: true });
    t.write(a + HPAGE - PAGE, 4); // the last 4 KiB of the rounded-up length is mapped
    const p = k.page(t.translate(a)!);
    expect(p.order).toBe(9);
    expect(p.flags).toContain('hugetlb');
    expect(k.meminfo().HugePages_Free).toBe(1);
    t.munmap(a, HPAGE);
    expect(k.meminfo().HugePages_Free).toBe(2);
  });

  it('MAP_HUGETLB|MAP_NORESERVE with an empty pool maps, then the fault gets SIGBUS', async () => {
    const k = await hugeBoot(backend, 0);
    const t = k.spawn();
    const a = map(t, HPAGE, ANON_PRIVATE | C.MAP_HUGETLB | C.MAP_NORESERVE);
    expect(codeOf(() => t.write(a, 1))).toBe('SIGBUS');
    expect(t.translate(a)).toBe(null);
    expect(k.meminfo().HugePages_Free).toBe(0);
  });
});

describe.each(BACKENDS)('overcommit (%s core)', (backend) => {
  it('refuses a private writable mapping larger than RAM, unless MAP_NORESERVE', async () => {
    const k = await bootTest(backend); // 64 MiB
    const t = k.spawn();
    expectCode(k, () => map(t, 128 * MIB, ANON_PRIVATE), 'ENOMEM');
    expectCode(k, () => map(t, 128 * MIB, C.MAP_SHARED | C.MAP_ANONYMOUS), 'ENOMEM');
    expect(t.maps()).toEqual([]);
    const a = map(t, 128 * MIB, ANON_PRIVATE | C.MAP_NORESERVE);
    expect(vmaAt(t, a)).toMatchObject({ start: a, end: a + 128 * MIB });
    t.write(a + 100 * MIB, 6); // a few pages of it can be used
    expect(t.read(a + 100 * MIB)).toBe(6);
  });

  it('does not account a private read-only mapping', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = map(t, 128 * MIB, ANON_PRIVATE, { prot: R });
    expect(vmaAt(t, a)!.end - a).toBe(128 * MIB);
  });
});

describe.each(BACKENDS)('mprotect (%s core)', (backend) => {
  it('splits a VMA in three and merges it back', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    t.touch(a, 3 * PAGE, { write: true });
    t.mprotect(a + PAGE, PAGE, R);
    expect(ranges(t)).toEqual([[a, a + PAGE], [a + PAGE, a + 2 * PAGE], [a + 2 * PAGE, a + 3 * PAGE]]);
    expect(t.maps().map((v) => v.perms)).toEqual(['rw-p', 'r--p', 'rw-p']);
    expectCode(k, () => t.write(a + PAGE, 1), 'SIGSEGV');
    t.mprotect(a + PAGE, PAGE, RW);
    expect(ranges(t)).toEqual([[a, a + 3 * PAGE]]);
    t.write(a + PAGE, 1);
    expect(t.read(a + PAGE)).toBe(1);
  });

  it('PROT_NONE makes reads and writes fault with SIGSEGV, and the data survives', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 42);
    t.mprotect(a, 2 * PAGE, C.PROT_NONE);
    expect(vmaAt(t, a)!.perms).toBe('---p');
    expectCode(k, () => t.read(a), 'SIGSEGV');
    expectCode(k, () => t.write(a + PAGE, 1), 'SIGSEGV');
    t.mprotect(a, 2 * PAGE, R);
    expect(t.read(a)).toBe(42);
  });

  it('a write to a PROT_READ mapping faults with SIGSEGV', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1, R);
    expect(t.read(a)).toBe(0);
    expectCode(k, () => t.write(a, 1), 'SIGSEGV');
    expectCode(k, () => t.touch(a, PAGE, { write: true }), 'SIGSEGV');
  });

  it('write-protects already-mapped pages', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 5);
    t.mprotect(a, PAGE, R);
    expectCode(k, () => t.write(a, 6), 'SIGSEGV');
    expect(t.read(a)).toBe(5);
  });
});

describe.each(BACKENDS)('madvise (%s core)', (backend) => {
  it('MADV_DONTNEED drops anonymous contents: they read back as 0', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    for (let i = 0; i < 3; i++) t.write(a + i * PAGE, 50 + i);
    const anonBefore = k.meminfo().AnonPages;
    t.madvise(a, 2 * PAGE, C.MADV_DONTNEED);
    expect(t.translate(a)).toBe(null);
    expect(k.meminfo().AnonPages).toBe(anonBefore - 2 * 4);
    expect(t.read(a)).toBe(0);
    expect(t.read(a + PAGE)).toBe(0);
    expect(t.read(a + 2 * PAGE)).toBe(52);
    expect(ranges(t)).toEqual([[a, a + 3 * PAGE]]); // the VMA stays
  });

  it('MADV_DONTNEED on a private file mapping drops the COW copy: the file data reads back', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const fd = t.open(k.createFile({ fs: 'ext4', size: 2 * PAGE, name: 'data' }));
    t.pwrite(fd, 0, 42);
    t.pwrite(fd, PAGE, 43);
    const a = map(t, 2 * PAGE, C.MAP_PRIVATE, { fd });
    expect(t.read(a)).toBe(42);
    t.write(a, 9);
    t.write(a + PAGE, 10);
    expect(t.read(a)).toBe(9);
    expect(t.pread(fd, 0)).toBe(42); // private: the file never saw it
    t.madvise(a, 2 * PAGE, C.MADV_DONTNEED);
    expect(t.read(a)).toBe(42);
    expect(t.read(a + PAGE)).toBe(43);
  });

  it('MADV_DONTNEED on a shared mapping only unmaps: the data stays in the file', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = map(t, 2 * PAGE, C.MAP_SHARED | C.MAP_ANONYMOUS);
    t.write(a, 21);
    t.madvise(a, 2 * PAGE, C.MADV_DONTNEED);
    expect(t.translate(a)).toBe(null);
    expect(t.read(a)).toBe(21);
  });

  it('MADV_DONTFORK keeps a VMA out of the child; MADV_DOFORK brings it back', async () => {
    const k = await bootTest(backend);
    const p = k.spawn();
    const keep = anon(p, 1);
    const a = map(p, 2 * PAGE, ANON_PRIVATE, { addr: keep - 8 * PAGE });
    p.write(a, 7);
    p.write(keep, 8);
    p.madvise(a, 2 * PAGE, C.MADV_DONTFORK);
    const c1 = p.fork();
    expect(vmaAt(c1, a)).toBe(undefined);
    expect(vmaAt(c1, keep)).toBeDefined();
    expectCode(k, () => c1.read(a), 'SIGSEGV');
    expect(c1.read(keep)).toBe(8);
    expect(p.read(a)).toBe(7); // the parent keeps it
    p.madvise(a, 2 * PAGE, C.MADV_DOFORK);
    const c2 = p.fork();
    expect(vmaAt(c2, a)).toMatchObject({ start: a, end: a + 2 * PAGE });
    expect(c2.read(a)).toBe(7);
  });

  it('MADV_DONTFORK on part of a VMA splits it; MADV_DOFORK merges it again', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 3);
    t.madvise(a + PAGE, PAGE, C.MADV_DONTFORK);
    expect(ranges(t)).toEqual([[a, a + PAGE], [a + PAGE, a + 2 * PAGE], [a + 2 * PAGE, a + 3 * PAGE]]);
    expect(ranges(t.fork())).toEqual([[a, a + PAGE], [a + 2 * PAGE, a + 3 * PAGE]]);
    t.madvise(a + PAGE, PAGE, C.MADV_DOFORK);
    expect(ranges(t)).toEqual([[a, a + 3 * PAGE]]);
  });

  it("with thp 'madvise', only MADV_HUGEPAGE regions get a THP on a write fault", async () => {
    const k = await bootTest(backend, { thp: 'madvise' });
    const t = k.spawn();
    const plain = anon(t, 1024); // 4 MiB
    const h = pmdInside(plain);
    t.write(h, 1);
    expect(k.page(t.translate(h)!).order).toBe(0);
    const advised = map(t, 4 * MIB, ANON_PRIVATE, { addr: plain - 16 * MIB });
    t.madvise(advised, 4 * MIB, C.MADV_HUGEPAGE);
    const h2 = pmdInside(advised);
    t.write(h2 + 3 * PAGE, 2);
    const p = k.page(t.translate(h2 + 3 * PAGE)!);
    expect(p.order).toBe(9);
    expect(p.head).toBe(t.translate(h2));
    expect(k.meminfo().AnonHugePages).toBe(2048);
    expect(t.read(h2 + 3 * PAGE)).toBe(2);
  });

  it("MADV_NOHUGEPAGE undoes MADV_HUGEPAGE under thp 'madvise'", async () => {
    const k = await bootTest(backend, { thp: 'madvise' });
    const t = k.spawn();
    const a = anon(t, 1024);
    t.madvise(a, 4 * MIB, C.MADV_HUGEPAGE);
    t.madvise(a, 4 * MIB, C.MADV_NOHUGEPAGE);
    const h = pmdInside(a);
    t.write(h, 1);
    expect(k.page(t.translate(h)!).order).toBe(0);
  });

  it("MADV_NOHUGEPAGE keeps THPs out under thp 'always'", async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = anon(t, 1024);
    t.madvise(a, 4 * MIB, C.MADV_NOHUGEPAGE);
    const h = pmdInside(a);
    t.write(h, 1);
    expect(k.page(t.translate(h)!).order).toBe(0);
    const b = anon(t, 1024);
    const hb = pmdInside(b);
    t.write(hb, 1);
    expect(k.page(t.translate(hb)!).order).toBe(9);
  });

  it('MADV_POPULATE_WRITE populates real pages, MADV_POPULATE_READ the zero page', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.madvise(a, 2 * PAGE, C.MADV_POPULATE_WRITE);
    const written = [t.translate(a), t.translate(a + PAGE)];
    for (const pfn of written) expect(pfn).toBeGreaterThan(0);
    expect(written[0]).not.toBe(written[1]);
    expect(t.translate(a + 2 * PAGE)).toBe(null);
    t.madvise(a + 2 * PAGE, 2 * PAGE, C.MADV_POPULATE_READ);
    expect(t.translate(a + 2 * PAGE)).toBe(0);
    expect(t.translate(a + 3 * PAGE)).toBe(0);
  });

  it('MADV_POPULATE_READ fills a shared file mapping from the page cache', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const fd = t.memfd_create('pop');
    t.ftruncate(fd, 2 * PAGE);
    t.pwrite(fd, PAGE, 31);
    const a = map(t, 2 * PAGE, C.MAP_SHARED, { fd });
    t.madvise(a, 2 * PAGE, C.MADV_POPULATE_READ);
    expect(t.translate(a)).toBeGreaterThan(0);
    expect(k.page(t.translate(a + PAGE)!).data).toBe(31);
  });

  it('MADV_POPULATE_WRITE on a read-only mapping fails with EINVAL', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2, R);
    expectCode(k, () => t.madvise(a, 2 * PAGE, C.MADV_POPULATE_WRITE), 'EINVAL');
    const n = anon(t, 1, C.PROT_NONE);
    expectCode(k, () => t.madvise(n, PAGE, C.MADV_POPULATE_READ), 'EINVAL');
  });

  it('MADV_POPULATE_(READ|WRITE) on an unmapped range fails with ENOMEM', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    t.munmap(a, 2 * PAGE);
    expectCode(k, () => t.madvise(a, 2 * PAGE, C.MADV_POPULATE_WRITE), 'ENOMEM');
    expectCode(k, () => t.madvise(a, 2 * PAGE, C.MADV_POPULATE_READ), 'ENOMEM');
  });

  it('MADV_POPULATE_WRITE on a MAP_NORESERVE hugetlb mapping with an empty pool fails with EFAULT', async () => {
    // The fault returns VM_FAULT_SIGBUS, which madvise_populate() reports as -EFAULT.
    const k = await hugeBoot(backend, 0);
    const t = k.spawn();
    const a = map(t, HPAGE, ANON_PRIVATE | C.MAP_HUGETLB | C.MAP_NORESERVE);
    expect(codeOf(() => t.madvise(a, HPAGE, C.MADV_POPULATE_WRITE))).toBe('EFAULT');
  });
});

describe.each(BACKENDS)('VMA operations on part of a THP (%s core)', (backend) => {
  // A 4 MiB mapping whose 2 MiB-aligned middle is one PMD-mapped THP, each
  // of its 512 pages holding its own index + 1.
  async function withThp() {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = anon(t, 1024);
    const h = pmdInside(a);
    t.write(h, 1);
    expect(k.page(t.translate(h)!).order).toBe(9);
    for (let i = 0; i < 512; i++) t.write(h + i * PAGE, i + 1);
    const readAll = (from: number, to: number) => {
      const out: number[] = [];
      for (let i = from; i < to; i++) out.push(t.read(h + i * PAGE));
      return out;
    };
    const expected = (from: number, to: number) => [...Array(to - from).keys()].map((i) => from + i + 1);
    return { k, t, h, readAll, expected };
  }

  it('munmap of half the THP keeps the other half', async () => {
    const { k, t, h, readAll, expected } = await withThp();
    t.munmap(h, 256 * PAGE);
    expectCode(k, () => t.read(h), 'SIGSEGV');
    expect(readAll(256, 512)).toEqual(expected(256, 512));
  });

  it('mprotect of half the THP: that half is read-only, the other stays writable', async () => {
    const { k, t, h, readAll, expected } = await withThp();
    t.mprotect(h + 256 * PAGE, 256 * PAGE, R);
    expectCode(k, () => t.write(h + 300 * PAGE, 0), 'SIGSEGV');
    t.write(h + 10 * PAGE, 1000);
    expect(t.read(h + 10 * PAGE)).toBe(1000);
    expect(readAll(256, 512)).toEqual(expected(256, 512));
  });

  it('MADV_DONTNEED of part of the THP zeroes only that part', async () => {
    const { t, h, readAll, expected } = await withThp();
    t.madvise(h + 100 * PAGE, 10 * PAGE, C.MADV_DONTNEED);
    expect(readAll(100, 110)).toEqual(Array(10).fill(0));
    expect(readAll(0, 100)).toEqual(expected(0, 100));
    expect(readAll(110, 512)).toEqual(expected(110, 512));
  });

  it('MAP_FIXED over part of the THP replaces only that part', async () => {
    const { t, h, readAll, expected } = await withThp();
    map(t, 8 * PAGE, ANON_PRIVATE | C.MAP_FIXED, { addr: h + 8 * PAGE });
    expect(readAll(8, 16)).toEqual(Array(8).fill(0));
    expect(readAll(0, 8)).toEqual(expected(0, 8));
    expect(readAll(16, 512)).toEqual(expected(16, 512));
  });
});
