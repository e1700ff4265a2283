// Files: an inode with a size, its page cache in the core (keyed by `id`),
// and, for disk filesystems, a backing store that writeback fills.
import { BACKING_SHMEM, BACKING_FILE, BACKING_HUGETLBFS, BACKING_DAX, PAGE_SIZE } from '../../assembly/constants';

export type FsType = 'tmpfs' | 'ext4' | 'xfs' | 'btrfs' | 'hugetlbfs' | 'fsdax';
export const FS_TYPES: readonly FsType[] = ['tmpfs', 'ext4', 'xfs', 'btrfs', 'hugetlbfs', 'fsdax'];

// Linux's MAX_LFS_FILESIZE is 2^63 - 1; a JS number holds integers exactly
// only up to 2^53, so pinsim's largest file (and the end of any file
// mapping, file_mmap_size_max()) is the last page boundary below that.
export const MAX_FILE_BYTES = 2 ** 53 - PAGE_SIZE;
// ext4 with 4 KiB blocks and extents: 2^32 - 1 blocks (ext4_max_size()).
const EXT4_MAX_BYTES = (2 ** 32 - 1) * PAGE_SIZE;

export function backingOf(fs: FsType): number {
  switch (fs) {
    case 'tmpfs': return BACKING_SHMEM;
    case 'hugetlbfs': return BACKING_HUGETLBFS;
    case 'fsdax': return BACKING_DAX;
    default: return BACKING_FILE;
  }
}

// The superblock's s_maxbytes: write and truncate beyond it fail with EFBIG.
// xfs and btrfs, like tmpfs and hugetlbfs, allow MAX_LFS_FILESIZE.
export function sMaxBytes(fs: FsType): number { return fs === 'ext4' ? EXT4_MAX_BYTES : MAX_FILE_BYTES; }

export class SimFile {
  size: number; // i_size in bytes
  // Disk contents of ext4/xfs/btrfs files, one word per page: only the pages
  // ever written back are stored (the rest read as 0), so a sparse file costs
  // what it holds, not its size.
  readonly store = new Map<number, number>();

  /** @internal Made by the Kernel, not by users. */
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
  }

  get backing(): number { return backingOf(this.fs); }
  get pages(): number { return Math.ceil(this.size / PAGE_SIZE); }
  // Does writeback apply (mapping_can_writeback())?
  get writesBack(): boolean { return this.backing === BACKING_FILE; }
  get hugePageSize(): number { return PAGE_SIZE * 2 ** this.hugeOrder; }
  get maxBytes(): number { return sMaxBytes(this.fs); }
}
