// The short tour `npm start` prints: boot a machine, map memory, fork, COW,
// a shared file with writeback, and what the kernel's counters say.
import * as C from '../../assembly/constants';
import { boot } from '../boot';
import type { Backend } from '../core/core';

export async function tourMachine(out: (line: string) => void, backend: Backend = 'wasm'): Promise<void> {
  const k = await boot({ memory: '1GiB', backend, hugepages: { '2MiB': 4 }, thp: 'always' });
  const show = (what: string, pfn: number | null) => {
    if (pfn === null) return out(`  ${what}: not mapped`);
    const p = k.page(pfn);
    out(`  ${what}: pfn ${pfn} refcount ${p.refcount} mapcount ${p.mapcount} [${p.flags.join(' ')}]`);
  };
  out(`Booted ${k.meminfo().MemTotal / 1024} MiB with the ${k.backend} core; MemFree ${k.meminfo().MemFree} kB (the 2 MiB hugetlb pool and the zero page are not free).`);

  const parent = k.spawn({ name: 'parent' });
  const buf = parent.mmap({ length: 16 * C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  out(`\nmmap(16 pages) at 0x${buf.toString(16)}; read of an untouched page maps the shared zero page:`);
  parent.read(buf);
  show('page 0 after read', parent.translate(buf));
  parent.write(buf, 0xcafe);
  out('write faults in a fresh anonymous page, exclusive to this mm:');
  show('page 0 after write', parent.translate(buf));

  const child = parent.fork();
  out(`\nfork(): pid ${child.pid} shares the page copy-on-write (both PTEs read-only, AnonExclusive cleared):`);
  show('shared page', parent.translate(buf));
  child.write(buf, 0xbeef);
  out('the child writes: the page has another mapper, so do_wp_page() copies it:');
  show("child's copy", child.translate(buf));
  show("parent's page", parent.translate(buf));
  out(`  parent reads 0x${parent.read(buf).toString(16)}, child reads 0x${child.read(buf).toString(16)}`);
  child.exit();
  parent.write(buf, 0xcafe + 1);
  out('child exits; the parent writes again and reuses its page (sole reference):');
  show('page 0', parent.translate(buf));

  const thp = parent.mmap({ length: 4 << 20, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  parent.write(thp, 1);
  out(`\nTHP: a 2 MiB-aligned anonymous write gets an order-9 folio mapped by one PMD:`);
  show('THP subpage 5', parent.translate(thp + 5 * C.PAGE_SIZE));
  parent.mprotect(thp + C.PAGE_SIZE, C.PAGE_SIZE, C.PROT_READ);
  out('mprotect() of one page in it splits the PMD into 512 PTEs (the folio stays large):');
  show('THP subpage 5', parent.translate(thp + 5 * C.PAGE_SIZE));

  const file = k.createFile({ fs: 'ext4', size: 4 * C.PAGE_SIZE, name: 'data.bin' });
  const fd = parent.open(file);
  const map = parent.mmap({ length: 4 * C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_SHARED, fd });
  parent.read(map);
  out(`\next4 file mapped MAP_SHARED: a read maps the clean page-cache page read-only (dirty tracking):`);
  show('file page 0', parent.translate(map));
  parent.write(map, 42);
  out('the first write goes through ->page_mkwrite (buffers attached, folio dirtied):');
  show('file page 0', parent.translate(map));
  const wb = k.writeback(file);
  out(`writeback: ${wb.written} folio written; folio_mkclean() write-protected the PTE again:`);
  show('file page 0', parent.translate(map));
  out(`  the file now holds ${parent.pread(fd, 0)} at offset 0`);

  const m = k.meminfo();
  out(`\nmeminfo: MemFree ${m.MemFree} kB, AnonPages ${m.AnonPages} kB, AnonHugePages ${m.AnonHugePages} kB, `
    + `Cached ${m.Cached} kB, PageTables ${m.PageTables} kB, HugePages_Free ${m.HugePages_Free}/${m.HugePages_Total}`);
  parent.exit();
  out(`after exit: MemFree ${k.meminfo().MemFree} kB (the page cache and THP zero folio stay)`);
}
