// One page's word of a file, read or written the way read(2)/write(2) reach
// it: through the page cache (filled from the backing store), straight to
// pmem for fsdax, from the huge folio for hugetlbfs. Shared by pread/pwrite
// and the iovec calls (src/devices/block.ts). Errors come back as -errno.
import * as C from '../../assembly/constants';
import type { KernelBase } from '../kernel';
import type { SimFile } from './file';

// The word of page `index` (below f.pages), or -ENOMEM when the page cache
// cannot be filled.
export function readFileWord(k: KernelBase, f: SimFile, index: number): number {
  if (f.backing === C.BACKING_DAX) return k.v.data[k.v.page(f.daxBase + index)];
  if (f.backing === C.BACKING_HUGETLBFS) {
    const span = 2 ** f.hugeOrder;
    const head = k.core.pc_lookup(f.id, index - (index % span));
    return head < 0 ? 0 : k.v.data[k.v.page(head + (index % span))];
  }
  if (!k.fillCache(f, index, 1)) return -C.ENOMEM;
  return k.core.pc_read(f.id, index) >>> 0;
}

// Writes page `index` (not hugetlbfs, below s_maxbytes), growing i_size to
// at least `size`: 0, -EFBIG (an fsdax file cannot grow past its pages) or
// -ENOMEM (i_size is then left as it was).
export function writeFileWord(k: KernelBase, f: SimFile, index: number, word: number, size: number): number {
  const oldSize = f.size;
  if (index >= f.pages && f.fs === 'fsdax') return -C.EFBIG;
  f.size = Math.max(f.size, size);
  if (f.backing === C.BACKING_DAX) {
    k.v.data[k.v.page(f.daxBase + index)] = word;
    return 0;
  }
  if (!k.fillCache(f, index, 1)) {
    f.size = oldSize; // i_size moves only once the page is written (write_end)
    return -C.ENOMEM;
  }
  k.core.pc_write(f.id, index, word, f.backing);
  return 0;
}

// What pwrite/pread say for these errors.
export function fileWordError(errno: number): string {
  return errno === -C.EFBIG ? 'pinsim cannot grow an fsdax file past its pmem extent' : 'no memory for the page cache';
}
