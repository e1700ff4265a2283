// Kernel-format text: dump_page() of a tail page (__dump_folio()),
// /proc/<pid>/maps (show_map_vma()) and /proc/meminfo (meminfo_proc_show()),
// against hand-written lines for a small machine, on both cores.
import { describe, it, expect } from 'vitest';
import { BACKENDS, C, PAGE, RW, bootTest } from './helpers';

const MIB = 2 ** 20;
const hex = (n: number) => `0x${n.toString(16)}`;

describe.each(BACKENDS)('kernel-format text (%s core)', (backend) => {
  it('dump_page() of a THP tail page: its own mapcount, the folio\'s head line and flags', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const base = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    const h = Math.ceil(base / (2 * MIB)) * (2 * MIB);
    t.write(h, 1);
    const head = t.translate(h)!;
    const pages = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, h + 5 * PAGE, 1, C.FOLL_WRITE, pages)).toBe(1);
    const { mapping } = k.page(head);
    const index = h / PAGE + 5;
    // One PMD maps the folio: the tail page has no PTE mapping of its own.
    expect(k.dump_page(head + 5).split('\n')).toEqual([
      `page: refcount:2 mapcount:0 mapping:${hex(mapping)} index:${hex(index)} pfn:${hex(head + 5)}`,
      'head: order:9 mapcount:1 entire_mapcount:1 nr_pages_mapped:0 pincount:1',
      'anon flags: 0x299(referenced|lru|head|swapbacked|anon_exclusive)', // GUP marked it accessed
      'zone: Normal migratetype: Movable maybe_dma_pinned',
    ]);
    k.unpin_user_pages(pages, 1);
    // mprotect() of one page splits the PMD: 512 PTEs, one folio reference each.
    t.mprotect(h + PAGE, PAGE, C.PROT_READ);
    expect(k.dump_page(head + 5).split('\n')).toEqual([
      `page: refcount:512 mapcount:1 mapping:${hex(mapping)} index:${hex(index)} pfn:${hex(head + 5)}`,
      'head: order:9 mapcount:512 entire_mapcount:0 nr_pages_mapped:512 pincount:0',
      'anon flags: 0x299(referenced|lru|head|swapbacked|anon_exclusive)',
      'zone: Normal migratetype: Movable',
    ]);
  });

  it('dump_page() of a hugetlb tail page prints the folio\'s page_type; a small page has no head line', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 1 } });
    const t = k.spawn();
    const a = t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    t.write(a, 1);
    const head = t.translate(a)!;
    const lines = k.dump_page(head + 3).split('\n');
    expect(lines.slice(1)).toEqual([
      'head: order:9 mapcount:1 entire_mapcount:1 nr_pages_mapped:0 pincount:0',
      'anon flags: 0x298(lru|head|swapbacked|anon_exclusive)',
      'page_type: f4(hugetlb)',
      'zone: Normal migratetype: Movable',
    ]);
    const s = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.write(s, 1);
    expect(k.dump_page(t.translate(s)!).split('\n').slice(1)).toEqual([
      'anon flags: 0x288(lru|swapbacked|anon_exclusive)',
      'zone: Normal migratetype: Movable',
    ]);
  });

  it('procMaps(): /proc/<pid>/maps lines for each kind of mapping', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 2 } });
    const t = k.spawn();
    t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    const fd = t.memfd_create('buf');
    t.ftruncate(fd, 2 * PAGE);
    t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const ext4 = t.open(k.createFile({ fs: 'ext4', size: 4 * PAGE, name: 'data.bin' }));
    t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd: ext4, offset: 2 * PAGE });
    const tmpfs = t.open(k.createFile({ fs: 'tmpfs', size: PAGE, name: 'shm.bin' }));
    t.mmap({ length: PAGE, prot: C.PROT_READ | C.PROT_EXEC, flags: C.MAP_SHARED, fd: tmpfs });
    const hfs = t.open(k.createFile({ fs: 'hugetlbfs', size: 2 * MIB, name: 'huge.bin' }));
    t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_SHARED, fd: hfs });
    t.mmap({ length: 2 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    const [f1, f2, f3, f4] = k.files.filter((f) => !f.name.startsWith('/dev/zero')).map((f) => f.id);
    const zero = k.files.find((f) => f.name === '/dev/zero (deleted)')!.id;
    const col = (s: string) => s.padEnd(73); // the name starts in column 73
    expect(t.procMaps()).toBe([
      `${col(`7effffa00000-7effffc00000 rw-p 00000000 00:0f 0`)}/anon_hugepage (deleted)`,
      `${col(`7effffc00000-7effffe00000 rw-s 00000000 00:1b ${f4}`)}/dev/hugepages/huge.bin`,
      `${col(`7effffff9000-7effffffa000 r-xs 00000000 00:19 ${f3}`)}/dev/shm/shm.bin`,
      `${col(`7effffffa000-7effffffb000 rw-p 00002000 08:01 ${f2}`)}/mnt/ext4/data.bin`,
      `${col(`7effffffb000-7effffffd000 rw-s 00000000 00:01 ${f1}`)}/memfd:buf (deleted)`,
      `${col(`7effffffd000-7effffffe000 r--s 00000000 00:01 ${zero}`)}/dev/zero (deleted)`,
      '7effffffe000-7f0000000000 rw-p 00000000 00:00 0 ', // no name: the header's trailing space ends the line
      '',
    ].join('\n'));
    expect(t.maps()).toHaveLength(7); // the objects stay
    t.exit();
    expect(t.procMaps()).toBe('');
  });

  it('procMeminfo(): /proc/meminfo lines, right-aligned as show_val_kb() does', async () => {
    const k = await bootTest(backend, { memory: '64MiB', cma: '8MiB', hugepages: { '2MiB': 2 }, thp: 'always' });
    const t = k.spawn();
    const a = t.mmap({ length: 4 * MIB, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.write(Math.ceil(a / (2 * MIB)) * (2 * MIB), 1); // one THP
    const m = k.meminfo();
    expect(m).toMatchObject({ MemTotal: 65536, AnonPages: 2048, AnonHugePages: 2048, CmaTotal: 8192, Hugetlb: 4096 });
    const pad = (v: number) => String(v).padStart(8);
    expect(k.procMeminfo()).toBe([
      'MemTotal:          65536 kB',
      `MemFree:        ${pad(m.MemFree)} kB`,
      'Cached:                0 kB',
      'Unevictable:           0 kB',
      'Mlocked:               0 kB',
      'AnonPages:          2048 kB',
      'Shmem:                 0 kB',
      `PageTables:     ${pad(m.PageTables)} kB`,
      'AnonHugePages:      2048 kB',
      'CmaTotal:           8192 kB',
      `CmaFree:        ${pad(m.CmaFree)} kB`,
      'HugePages_Total:       2',
      'HugePages_Free:        2',
      'HugePages_Rsvd:        0',
      'HugePages_Surp:        0',
      'Hugepagesize:       2048 kB',
      'Hugetlb:            4096 kB',
      '',
    ].join('\n'));
  });
});
