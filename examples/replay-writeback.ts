// Replaying "The trouble with get_user_pages()" (LSFMM 2018) on three
// kernels: a driver holds a write reference on a page of a MAP_SHARED ext4
// file across writeback, the device writes through it, the driver releases
// it dirty, and the next writeback meets a dirty page without buffers.
// 5.5 hits ext4's BUG, 5.18 warns and silently drops the device's data,
// latest refuses the long-term pin outright and writes what a short-term
// one dirtied (the pinned page kept its buffers). test/era-replay-example.test.ts
// checks it; run as a script it prints the replay for each kernel.
import { boot, constants as C, type BootOptions } from '../src/index';

const PAGE = C.PAGE_SIZE;

// The replay on `kernel`: what a user would note, line by line.
export async function replayWriteback(kernel: NonNullable<BootOptions['kernel']>, opts: BootOptions = {}): Promise<string[]> {
  const k = await boot({ memory: '64MiB', ...opts, kernel });
  const out: string[] = [`== kernel ${k.kernel}`];
  const t = k.spawn({ name: 'db' });
  const f = k.createFile({ fs: 'ext4', size: PAGE, name: 'journal' });
  const m = t.mmap({ length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_SHARED, fd: t.open(f) });
  t.write(m, 0xa); // ->page_mkwrite: ext4 attaches buffers
  const pages = k.pageArray(1);
  if (k.kr.longtermWriteFile === 'efault') {
    out.push(`pin_user_pages(FOLL_WRITE|FOLL_LONGTERM) of the ext4 page: ${k.pin_user_pages(t, m, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pages)} (refused since 6.5)`);
  }
  // The driver's reference: get_user_pages() before 5.6, pin_user_pages() since.
  const got = k.kr.pinApi ? k.pin_user_pages(t, m, 1, C.FOLL_WRITE, pages) : k.get_user_pages(t, m, 1, C.FOLL_WRITE, pages);
  out.push(`${k.kr.pinApi ? 'pin_user_pages' : 'get_user_pages'}(FOLL_WRITE): ${got}`);
  k.writeback(f); // fsync: cleaned, write-protected, buffers stripped unless the page is pinned (6.4+)
  k.dma_write(pages.get(0), 0xd); // the device writes its data
  if (k.kr.pinApi) k.unpin_user_pages_dirty_lock(pages, 1, true);
  else {
    k.set_page_dirty_lock(pages.get(0)!);
    k.put_page(pages.get(0)!);
  }
  const log = k.dmesg().length;
  try {
    const r = k.writeback(f);
    out.push(`writeback: ${r.written} written, ${r.hazards.length} dirtied behind ext4's back`);
  } catch (e) {
    out.push(`writeback: ${(e as Error).message}`);
  }
  out.push(...k.dmesg().slice(log, log + 3).map((l) => `  dmesg: ${l}`));
  out.push(`the file holds 0x${(f.store.get(0) ?? 0).toString(16)} (the device wrote 0xd)`);
  return out;
}

async function main(): Promise<void> {
  for (const kernel of ['5.5', '5.18', 'latest'] as const) console.log((await replayWriteback(kernel)).join('\n'));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
