// Zones and migratetypes (ZONE_MOVABLE, CMA, ZONE_DEVICE), fsdax files,
// file size and SIGBUS, and the inspection interfaces (dump_page, meminfo).
import { describe, expect, it } from 'vitest';
import type { Kernel } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, codeOf, pageAt } from './helpers';

const MIB = 1 << 20;
const FRAMES = (64 * MIB) / PAGE; // the 64 MiB test machine

// Every page-table page of the machine.
function tablePages(k: Kernel) {
  const out = [];
  for (let pfn = 0; pfn < k.nrFrames; pfn++) {
    if (k.v.flags[pfn] & C.PG_table) out.push(k.page(pfn));
  }
  return out;
}

describe.each(BACKENDS)('zones and migratetypes (%s core)', (backend) => {
  // 64 MiB: ZONE_NORMAL is the low 48 MiB, its top 16 MiB the CMA area;
  // ZONE_MOVABLE the top 16 MiB of RAM.
  const bootZones = (opts = {}) => bootTest(backend, { movable: '16MiB', cma: '16MiB', thp: 'never', ...opts });
  const movableStart = FRAMES - (16 * MIB) / PAGE;
  const cmaStart = movableStart - (16 * MIB) / PAGE;

  it('the layout: zone and migratetype of each pfn, and meminfo totals', async () => {
    const k = await bootZones();
    expect(k.page(cmaStart - 1).zone).toBe('Normal');
    expect(k.page(cmaStart - 1).migratetype).not.toBe('CMA');
    for (const pfn of [cmaStart, cmaStart + 777, movableStart - 1]) {
      expect(k.page(pfn).zone).toBe('Normal');
      expect(k.page(pfn).migratetype).toBe('CMA');
    }
    for (const pfn of [movableStart, FRAMES - 1]) {
      expect(k.page(pfn).zone).toBe('Movable');
      expect(k.page(pfn).migratetype).toBe('Movable');
    }
    const mi = k.meminfo();
    expect(mi.CmaTotal).toBe(16 * 1024);
    expect(mi.CmaFree).toBe(16 * 1024);
    expect(mi.zones.Movable.managed).toBe(FRAMES - movableStart);
    expect(mi.zones.Normal.managed).toBe(movableStart);
    expect(mi.zones.Movable.free).toBe(FRAMES - movableStart);
  });

  it('user pages come from ZONE_MOVABLE first; page tables from ZONE_NORMAL outside CMA', async () => {
    const k = await bootZones();
    const before = k.meminfo();
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    for (let i = 0; i < 8; i++) {
      const p = pageAt(k, t, a + i * PAGE);
      expect(p.zone).toBe('Movable');
      expect(p.migratetype).toBe('Movable');
    }
    const after = k.meminfo();
    const tables = (after.PageTables - before.PageTables) / 4;
    expect(tables).toBeGreaterThanOrEqual(4); // PGD, PUD, PMD, PTE
    expect(after.zones.Movable.free).toBe(before.zones.Movable.free - 8);
    expect(after.zones.Normal.free).toBe(before.zones.Normal.free - tables);
    expect(after.CmaFree).toBe(before.CmaFree);
  });

  it('once ZONE_MOVABLE is full, user pages spill into ZONE_NORMAL and CMA; page tables never do', async () => {
    const k = await bootZones();
    const t = k.spawn();
    const n = 10240; // 40 MiB: more than ZONE_MOVABLE plus half of ZONE_NORMAL
    const a = anon(t, n);
    t.touch(a, n * PAGE, { write: true });
    const where = { Movable: 0, Normal: 0, CMA: 0 };
    for (let i = 0; i < n; i++) {
      const p = pageAt(k, t, a + i * PAGE);
      if (p.zone === 'Movable') where.Movable++;
      else if (p.migratetype === 'CMA') where.CMA++;
      else where.Normal++;
    }
    // ZONE_MOVABLE was used up first (Linux would keep its watermark reserve free).
    expect(where.Movable).toBeGreaterThan(0.9 * (FRAMES - movableStart));
    expect(where.CMA).toBeGreaterThan(0);
    expect(where.Normal).toBeGreaterThan(0);
    expect(k.meminfo().CmaFree).toBe(16 * 1024 - where.CMA * 4);
    const tables = tablePages(k);
    expect(tables.length).toBe(k.meminfo().PageTables / 4);
    for (const p of tables) {
      expect(p.zone).toBe('Normal');
      expect(p.migratetype).not.toBe('CMA');
    }
  });

  it('a new task in a machine whose user memory sits in CMA still gets its tables outside CMA', async () => {
    const k = await bootZones();
    const t = k.spawn();
    const n = 10240;
    t.touch(anon(t, n), n * PAGE, { write: true });
    const before = k.meminfo();
    const u = k.spawn();
    const b = anon(u, 1);
    u.write(b, 1);
    const after = k.meminfo();
    expect(after.CmaFree).toBeLessThanOrEqual(before.CmaFree); // the user page may come from CMA
    const tables = (after.PageTables - before.PageTables) / 4;
    const userFromCma = (before.CmaFree - after.CmaFree) / 4;
    const p = pageAt(k, u, b);
    expect(userFromCma).toBe(p.migratetype === 'CMA' ? 1 : 0);
    for (const tp of tablePages(k)) expect(tp.migratetype).not.toBe('CMA');
    expect(tables).toBeGreaterThanOrEqual(4);
  });

  it('THPs and page-cache pages are movable; the huge zero folio and hugetlb pool pages are not', async () => {
    const k = await bootZones({ thp: 'always', hugepages: { '2MiB': 2 } });
    // Boot-time hugetlb pages: GFP_HIGHUSER without __GFP_MOVABLE.
    const t = k.spawn();
    const h = t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    t.write(h, 1);
    const hp = pageAt(k, t, h);
    expect(hp.flags).toContain('hugetlb');
    expect(hp.zone).toBe('Normal');
    expect(hp.migratetype).not.toBe('CMA');
    // An anonymous THP: GFP_TRANSHUGE is movable.
    const base = t.mmap({ length: 8 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const a = Math.ceil(base / (2 * MIB)) * (2 * MIB);
    t.write(a, 1);
    const thp = pageAt(k, t, a);
    expect(thp.order).toBe(9);
    expect(thp.zone).toBe('Movable');
    // The huge zero folio is allocated without __GFP_MOVABLE.
    t.read(a + 2 * MIB);
    const hz = pageAt(k, t, a + 2 * MIB);
    expect(hz.order).toBe(9);
    expect(hz.flags).not.toContain('anon');
    expect(hz.zone).toBe('Normal');
    expect(hz.migratetype).not.toBe('CMA');
    // Page cache (ext4 and tmpfs): mapping_gfp_mask() is GFP_HIGHUSER_MOVABLE.
    for (const fs of ['ext4', 'tmpfs'] as const) {
      const f = k.createFile({ fs, size: PAGE });
      const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
      t.write(m, 1);
      expect(pageAt(k, t, m).zone).toBe('Movable');
    }
  });

  it('pmem (fsdax) is ZONE_DEVICE, outside MemTotal', async () => {
    const k = await bootTest(backend, { pmem: '16MiB' });
    const mi = k.meminfo();
    expect(mi.MemTotal).toBe(64 * 1024);
    expect(mi.DeviceTotal).toBe(16 * 1024);
    expect(mi.DeviceFree).toBe(16 * 1024);
    expect(k.page(FRAMES).zone).toBe('Device');
    expect(k.page(FRAMES - 1).zone).not.toBe('Device');
  });
});

describe.each(BACKENDS)('fsdax files (%s core)', (backend) => {
  it('MAP_SHARED maps the pmem pages themselves: no page cache', async () => {
    const k = await bootTest(backend, { pmem: '16MiB' });
    const f = k.createFile({ fs: 'fsdax', size: '64KiB' });
    expect(k.meminfo().DeviceFree).toBe(16 * 1024 - 64);
    const t = k.spawn();
    const fd = t.open(f);
    const before = k.meminfo();
    const a = t.mmap({ length: 16 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.write(a + 3 * PAGE, 33);
    const p = pageAt(k, t, a + 3 * PAGE);
    expect(p.zone).toBe('Device');
    expect(p.pfn).toBeGreaterThanOrEqual(FRAMES);
    expect(p.flags).not.toContain('anon');
    expect(t.pread(fd, 3 * PAGE)).toBe(33);
    t.pwrite(fd, 4 * PAGE, 44);
    expect(t.read(a + 4 * PAGE)).toBe(44);
    expect(t.translate(a + 4 * PAGE)).toBe(p.pfn + 1); // the file's extent is contiguous
    const after = k.meminfo();
    expect(after.Cached).toBe(before.Cached);
    expect(after.AnonPages).toBe(before.AnonPages);
    expect(after.MemFree).toBe(before.MemFree - (after.PageTables - before.PageTables));
    // Another task maps the very same device page.
    const u = k.spawn();
    const b = u.mmap({ length: 16 * PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: u.open(f) });
    expect(u.read(b + 3 * PAGE)).toBe(33);
    expect(u.translate(b + 3 * PAGE)).toBe(p.pfn);
  });

  it('MAP_PRIVATE of an fsdax file reads pmem directly and COWs writes into RAM', async () => {
    const k = await bootTest(backend, { pmem: '16MiB' });
    const f = k.createFile({ fs: 'fsdax', size: '64KiB' });
    const t = k.spawn();
    const fd = t.open(f);
    t.pwrite(fd, 0, 5);
    const a = t.mmap({ length: 16 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    expect(t.read(a)).toBe(5);
    expect(pageAt(k, t, a).zone).toBe('Device');
    t.write(a, 6);
    const p = pageAt(k, t, a);
    expect(p.zone).not.toBe('Device');
    expect(p.flags).toEqual(expect.arrayContaining(['anon', 'anon_exclusive']));
    expect(t.pread(fd, 0)).toBe(5);
    expect(t.read(a)).toBe(6);
  });

  it('an fsdax file needs pmem: without it createFile fails with ENOSPC', async () => {
    const k = await bootTest(backend);
    expect(codeOf(() => k.createFile({ fs: 'fsdax', size: '64KiB' }))).toBe('ENOSPC');
    const small = await bootTest(backend, { pmem: '4MiB' });
    small.createFile({ fs: 'fsdax', size: '2MiB' });
    expect(codeOf(() => small.createFile({ fs: 'fsdax', size: '4MiB' }))).toBe('ENOSPC');
  });
});

describe.each(BACKENDS)('file size and SIGBUS (%s core)', (backend) => {
  it('an access past EOF of a file mapping gets SIGBUS, inside the VMA', async () => {
    const k = await bootTest(backend);
    for (const fs of ['ext4', 'tmpfs'] as const) {
      const f = k.createFile({ fs, size: PAGE + 100 }); // two pages, the second partial
      const t = k.spawn();
      const fd = t.open(f);
      const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
      const p = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
      t.write(a + PAGE, 1); // the partial last page is still mappable
      expect(t.read(p + PAGE)).toBe(1);
      expect(codeOf(() => t.read(a + 2 * PAGE))).toBe('SIGBUS');
      expect(codeOf(() => t.write(a + 3 * PAGE, 1))).toBe('SIGBUS');
      expect(codeOf(() => t.read(p + 2 * PAGE))).toBe('SIGBUS');
      expect(codeOf(() => t.write(p + 3 * PAGE, 1))).toBe('SIGBUS'); // no COW past EOF either
      expect(t.translate(a + 2 * PAGE)).toBe(null);
      expect(codeOf(() => t.read(a + 4 * PAGE))).toBe('SIGSEGV'); // past the VMA: no mapping at all
      // Growing the file makes the pages accessible.
      t.ftruncate(fd, 4 * PAGE);
      expect(t.read(a + 3 * PAGE)).toBe(0);
      t.write(p + 2 * PAGE, 7);
      expect(t.pread(fd, 2 * PAGE)).toBe(0);
    }
  });

  it('ftruncate shrinking a file zaps mappings beyond the new EOF', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'ext4', size: 4 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(a, 4 * PAGE, { write: true });
    const c = t.fork();
    expect(c.read(a + 3 * PAGE)).toBe(0);
    const cached = k.meminfo().Cached;
    t.ftruncate(fd, PAGE);
    for (const task of [t, c]) {
      expect(task.translate(a + PAGE)).toBe(null);
      expect(task.translate(a + 3 * PAGE)).toBe(null);
      expect(codeOf(() => task.read(a + PAGE))).toBe('SIGBUS');
      expect(codeOf(() => task.write(a + 3 * PAGE, 1))).toBe('SIGBUS');
    }
    t.write(a, 5);
    expect(c.read(a)).toBe(5);
    expect(k.meminfo().Cached).toBe(cached - 3 * 4);
    expect(t.pread(fd, PAGE)).toBe(null);
  });

  it('ftruncate also zaps private COW copies beyond the new EOF', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'tmpfs', size: 4 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const p = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd });
    t.write(p + 2 * PAGE, 9);
    t.write(p, 8);
    const anonBefore = k.meminfo().AnonPages;
    t.ftruncate(fd, 2 * PAGE);
    expect(t.translate(p + 2 * PAGE)).toBe(null);
    expect(codeOf(() => t.read(p + 2 * PAGE))).toBe('SIGBUS');
    expect(k.meminfo().AnonPages).toBe(anonBefore - 4);
    expect(t.read(p)).toBe(8); // COW copies inside EOF survive
  });

  it('ftruncate of an fsdax file zaps its device mappings', async () => {
    const k = await bootTest(backend, { pmem: '4MiB' });
    const f = k.createFile({ fs: 'fsdax', size: 4 * PAGE });
    const t = k.spawn();
    const fd = t.open(f);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(a, 4 * PAGE, { write: true });
    t.ftruncate(fd, PAGE);
    expect(t.translate(a + PAGE)).toBe(null);
    expect(codeOf(() => t.read(a + 2 * PAGE))).toBe('SIGBUS');
    expect(t.translate(a)).not.toBe(null);
  });
});

describe.each(BACKENDS)('inspection (%s core)', (backend) => {
  it('dump_page prints refcount, mapcount and pfn, and the order of a large folio', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pfn = t.translate(a)!;
    const text = k.dump_page(pfn);
    expect(text).toContain('refcount:1');
    expect(text).toContain('mapcount:1');
    expect(text).toContain(`pfn:0x${pfn.toString(16)}`);
    expect(text).toContain('anon');
    expect(text).not.toContain('order:');
    const base = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(base / (2 * MIB)) * (2 * MIB);
    t.write(h, 1);
    const head = t.translate(h)!;
    const thp = k.dump_page(head);
    expect(thp).toContain('order:9');
    expect(thp).toContain('refcount:');
    expect(thp).toContain('mapcount:');
    expect(thp).toContain(`pfn:0x${head.toString(16)}`);
    const tail = k.dump_page(head + 5);
    expect(tail).toContain(`pfn:0x${(head + 5).toString(16)}`);
    expect(tail).toContain('order:9');
  });

  it('meminfo fields are consistent', async () => {
    const k = await bootTest(backend, { movable: '8MiB', cma: '8MiB', hugepages: { '2MiB': 2 }, thp: 'always' });
    const check = () => {
      const mi = k.meminfo();
      expect(mi.MemFree + mi.MemUsed).toBe(mi.MemTotal);
      expect(mi.MemTotal).toBe(64 * 1024);
      expect((mi.zones.Normal.free + mi.zones.Movable.free) * 4).toBe(mi.MemFree);
      expect(mi.zones.Normal.managed + mi.zones.Movable.managed).toBe(mi.MemTotal / 4);
      expect(mi.CmaFree).toBeLessThanOrEqual(mi.CmaTotal);
      expect(mi.HugePages_Free).toBeLessThanOrEqual(mi.HugePages_Total);
      expect(mi.Shmem).toBeLessThanOrEqual(mi.Cached);
      expect(mi.AnonHugePages).toBeLessThanOrEqual(mi.AnonPages);
      expect(mi.MemUsed).toBeGreaterThanOrEqual(mi.AnonPages + mi.Cached + mi.PageTables + mi.Hugetlb);
    };
    check();
    const t = k.spawn();
    const a = anon(t, 64);
    t.touch(a, 64 * PAGE, { write: true });
    const base = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.write(Math.ceil(base / (2 * MIB)) * (2 * MIB), 1);
    const f = k.createFile({ fs: 'ext4', size: 8 * PAGE });
    const m = t.mmap({ length: 8 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    t.touch(m, 8 * PAGE, { write: true });
    const s = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.touch(s, 4 * PAGE, { write: true });
    const h = t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    t.write(h, 1);
    check();
    const mi = k.meminfo();
    expect(mi.AnonPages).toBe(64 * 4 + 2048);
    expect(mi.AnonHugePages).toBe(2048);
    expect(mi.Cached).toBe(12 * 4);
    expect(mi.Shmem).toBe(4 * 4);
    expect(mi.HugePages_Free).toBe(1);
    const c = t.fork();
    c.touch(a, 64 * PAGE, { write: true });
    check();
    c.exit();
    t.exit();
    check();
  });
});
