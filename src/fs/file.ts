// Files: an inode with a size, its page cache in the core (keyed by `id`),
// and, for disk filesystems, a backing store that writeback fills.
import { BACKING_SHMEM, BACKING_FILE, BACKING_HUGETLBFS, BACKING_DAX, PAGE_SIZE } from '../../assembly/constants';

export type FsType = 'tmpfs' | 'ext4' | 'xfs' | 'btrfs' | 'hugetlbfs' | 'fsdax';
export const FS_TYPES: readonly FsType[] = ['tmpfs', 'ext4', 'xfs', 'btrfs', 'hugetlbfs', 'fsdax'];

export function backingOf(fs: FsType): number {
  switch (fs) {
    case 'tmpfs': return BACKING_SHMEM;
    case 'hugetlbfs': return BACKING_HUGETLBFS;
    case 'fsdax': return BACKING_DAX;
    default: return BACKING_FILE;
  }
}

export class SimFile {
  size: number; // i_size in bytes
  store: Uint32Array; // disk contents, one word per page (ext4/xfs/btrfs only)

  constructor(
    readonly id: number, // the address_space id the core keys its page cache by
    readonly name: string,
    readonly fs: FsType,
    size: number,
    readonly hugeOrder: number, // hugetlbfs: 9 or 18; else 0
    readonly daxBase: number, // fsdax: pfn of page 0; else -1
    readonly anonymous = false, // memfd or the file behind shared anonymous memory: gone with its last user
  ) {
    this.size = size;
    this.store = new Uint32Array(this.backing === BACKING_FILE ? Math.ceil(size / PAGE_SIZE) : 0);
  }

  get backing(): number { return backingOf(this.fs); }
  get pages(): number { return Math.ceil(this.size / PAGE_SIZE); }
  // Does writeback apply (mapping_can_writeback())?
  get writesBack(): boolean { return this.backing === BACKING_FILE; }
  get hugePageSize(): number { return PAGE_SIZE * 2 ** this.hugeOrder; }

  // i_size grows; the store grows with it.
  setSize(bytes: number): void {
    this.size = bytes;
    if (this.backing === BACKING_FILE && this.pages > this.store.length) {
      const grown = new Uint32Array(Math.max(this.pages, this.store.length * 2));
      grown.set(this.store);
      this.store = grown;
    }
  }
}
