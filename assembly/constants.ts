// The one constants file of pinsim. It is compiled by asc (into the Wasm core)
// and by tsc (into the pure-TS core and the façade), so it holds nothing but
// untyped `export const NAME = value;` lines. Kernel names keep kernel values;
// where pinsim packs a kernel concept into fewer bits, the comment says so.

// ---- Page geometry (x86-64, 4-level paging, 48-bit virtual addresses) ----
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PTRS_PER_TABLE = 512; // PTRS_PER_PTE == PTRS_PER_PMD == PTRS_PER_PUD == PTRS_PER_PGD
export const TABLE_SHIFT = 9; // log2(PTRS_PER_TABLE)
export const PMD_SHIFT = 21;
export const PUD_SHIFT = 30;
export const PGDIR_SHIFT = 39;
export const HPAGE_PMD_ORDER = 9; // 2 MiB
export const HPAGE_PUD_ORDER = 18; // 1 GiB
export const HPAGE_PMD_NR = 512;
export const MAX_PAGE_ORDER = 10; // buddy orders 0..10 (4 MiB blocks)
export const NR_PAGE_ORDERS = 11;
export const PAGEBLOCK_ORDER = 9; // pageblock_order: one migratetype per 2 MiB
export const USER_VA_BITS = 47; // TASK_SIZE_MAX == (1 << 47) - PAGE_SIZE

// ---- Pin accounting ----
export const GUP_PIN_COUNTING_BIAS = 1024;

// ---- gup_flags (include/linux/mm_types.h, caller-visible) ----
export const FOLL_WRITE = 1;
export const FOLL_GET = 2;
export const FOLL_DUMP = 4;
export const FOLL_FORCE = 8;
export const FOLL_NOWAIT = 16;
export const FOLL_NOFAULT = 32;
export const FOLL_HWPOISON = 64;
export const FOLL_ANON = 128;
export const FOLL_LONGTERM = 256;
export const FOLL_SPLIT_PMD = 512;
export const FOLL_PCI_P2PDMA = 1024;
export const FOLL_INTERRUPTIBLE = 2048;
export const FOLL_HONOR_NUMA_FAULT = 4096;
// ---- gup_flags internal to mm/ (mm/internal.h) ----
export const FOLL_TOUCH = 65536;
export const FOLL_TRIED = 131072;
export const FOLL_REMOTE = 262144;
export const FOLL_PIN = 524288;
export const FOLL_FAST_ONLY = 1048576;
export const FOLL_UNLOCKABLE = 2097152;
export const FOLL_MADV_POPULATE = 4194304;

// ---- errno (asm-generic/errno-base.h, errno.h) ----
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const EFBIG = 27;
export const ENOSPC = 28;
export const EMLINK = 31;
export const EDEADLK = 35;
export const ENOSYS = 38;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const ENOBUFS = 105;
export const EREMOTEIO = 121;
export const EHWPOISON = 133;

// ---- mmap / mprotect / madvise / memfd_create (uapi) ----
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_SHARED_VALIDATE = 3;
export const MAP_TYPE = 15;
export const MAP_FIXED = 16;
export const MAP_ANONYMOUS = 32;
export const MAP_GROWSDOWN = 256;
export const MAP_DENYWRITE = 2048;
export const MAP_EXECUTABLE = 4096;
export const MAP_LOCKED = 8192;
export const MAP_NORESERVE = 16384;
export const MAP_POPULATE = 32768;
export const MAP_NONBLOCK = 65536;
export const MAP_STACK = 131072;
export const MAP_HUGETLB = 262144;
export const MAP_SYNC = 524288;
export const MAP_FIXED_NOREPLACE = 1048576;
export const MAP_HUGE_SHIFT = 26;
export const MAP_HUGE_MASK = 63;
export const MAP_HUGE_2MB = 1409286144; // 21 << MAP_HUGE_SHIFT
export const MAP_HUGE_1GB = 2013265920; // 30 << MAP_HUGE_SHIFT
export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_DONTDUMP = 16;
export const MADV_DODUMP = 17;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_COLLAPSE = 25;
export const MLOCK_ONFAULT = 1; // mlock2() flags
export const MCL_CURRENT = 1; // mlockall() flags
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;

// ---- Credentials and resource limits ----
export const CAP_IPC_LOCK = 14;
export const CAP_SYS_RESOURCE = 24;
export const RLIMIT_MEMLOCK = 8;
export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;
export const MFD_HUGETLB = 4;

// ---- vm_flags (include/linux/mm.h) ----
export const VM_NONE = 0;
export const VM_READ = 1;
export const VM_WRITE = 2;
export const VM_EXEC = 4;
export const VM_SHARED = 8;
export const VM_MAYREAD = 16;
export const VM_MAYWRITE = 32;
export const VM_MAYEXEC = 64;
export const VM_MAYSHARE = 128;
export const VM_GROWSDOWN = 256;
export const VM_PFNMAP = 1024;
export const VM_LOCKED = 8192;
export const VM_IO = 16384;
export const VM_DONTCOPY = 131072;
export const VM_DONTEXPAND = 262144;
export const VM_LOCKONFAULT = 524288;
export const VM_ACCOUNT = 1048576;
export const VM_NORESERVE = 2097152;
export const VM_HUGETLB = 4194304;
export const VM_MIXEDMAP = 268435456;
export const VM_HUGEPAGE = 536870912;
export const VM_NOHUGEPAGE = 1073741824;
export const VM_SPECIAL = 268715008; // VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP
export const VM_LOCKED_MASK = 532480; // VM_LOCKED | VM_LOCKONFAULT

// ---- What backs a VMA: the façade's per-VMA decision handed to the core ----
// (the kernel learns this from vma->vm_ops and vma->vm_file->f_mapping).
export const BACKING_ANON = 0; // private anonymous memory
export const BACKING_SHMEM = 1; // shmem/tmpfs page cache (MAP_SHARED|MAP_ANONYMOUS, memfd, tmpfs)
export const BACKING_FILE = 2; // a disk filesystem's page cache with writeback (ext4, xfs, btrfs)
export const BACKING_HUGETLBFS = 3; // hugetlbfs page cache (hugetlb memfd, hugetlbfs files)
export const BACKING_DAX = 4; // fsdax: device memory mapped directly, no page cache
// Extra per-VMA bits handed to the core alongside vm_flags.
export const VMA_THP_ELIGIBLE = 1; // thp_vma_allowable_order() said yes for PMD order
export const VMA_WRITENOTIFY = 2; // vma_wants_writenotify(): shared writable + page_mkwrite
export const VMA_HUGE_1G = 4; // hugetlb VMA of 1 GiB pages (else 2 MiB)

// ---- struct page flags, packed into one u32 per frame ----
// Read: (flags[pfn] & PG_dirty) != 0. Write: flags[pfn] |= PG_dirty / &= ~PG_dirty.
// The kernel keeps some of these as page types or in ->mapping bits; pinsim
// gives each its own bit so that a snapshot shows them all.
export const PG_referenced = 1;
export const PG_uptodate = 2;
export const PG_dirty = 4;
export const PG_lru = 8;
export const PG_head = 16;
export const PG_private = 32; // filesystem per-folio state attached (buffer heads)
export const PG_reserved = 64;
export const PG_swapbacked = 128;
export const PG_anon = 256; // folio_test_anon() (PAGE_MAPPING_ANON in the kernel)
export const PG_anon_exclusive = 512; // PageAnonExclusive(), per page
export const PG_buddy = 1024; // page type: free in the buddy allocator
export const PG_table = 2048; // page type: a page-table page
export const PG_hugetlb = 4096; // folio_test_hugetlb()
export const PG_tail = 8192; // PageTail(); head pfn is in compound_head[]
export const PG_isolated = 16384; // taken off the LRU for migration
export const PG_hwpoison = 32768;
export const PG_ORDER_SHIFT = 16; // folio order lives in bits 16..20 of the head's flags
export const PG_ORDER_MASK = 2031616; // 31 << PG_ORDER_SHIFT
// Not a kernel flag: a frame bad_page() took out of circulation (the kernel
// just leaks it), so that a later put reaching zero cannot free it again.
export const PG_bad = 2097152; // 1 << 21
export const PG_mlocked = 4194304; // 1 << 22, on the folio's head: mapped by a VM_LOCKED VMA (unevictable)

// ---- Zones (a minimal x86-64 layout: no DMA/DMA32) and migratetypes ----
export const ZONE_NORMAL = 0;
export const ZONE_MOVABLE = 1;
export const ZONE_DEVICE = 2;
export const MAX_NR_ZONES = 3;
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
export const MIGRATE_HIGHATOMIC = 3;
export const MIGRATE_CMA = 4;
export const MIGRATE_ISOLATE = 5;

// ---- Allocation contexts (the GFP masks pinsim distinguishes) ----
export const GFP_KERNEL = 0; // ZONE_NORMAL, never CMA: page tables
export const GFP_HIGHUSER_MOVABLE = 1; // ZONE_MOVABLE first, then ZONE_NORMAL incl. CMA
export const GFP_HIGHUSER_PIN = 2; // GFP_HIGHUSER_MOVABLE under memalloc_pin_save(): no MOVABLE, no CMA
export const GFP_ZERO = 16; // __GFP_ZERO: the data word starts at 0

// ---- Page-table entries: one u32 each, pfn << PTE_PFN_SHIFT | bits ----
// pinsim's own compact encoding (the names are x86's): 26 bits of pfn cover
// 256 GiB. Six flag bits; x86's _PAGE_PSE and a table bit are implied
// instead: a non-zero entry that is neither present nor PROT_NONE points at
// a page-table page (pte_is_table()), and any other entry above the PTE
// level is a huge leaf (pmd_is_leaf()).
export const PTE_PFN_SHIFT = 6;
export const PTE_FLAGS_MASK = (1 << PTE_PFN_SHIFT) - 1;
export const MAX_PFN_BITS = 32 - PTE_PFN_SHIFT;
export const _PAGE_PRESENT = 1;
export const _PAGE_RW = 2;
export const _PAGE_ACCESSED = 4;
export const _PAGE_DIRTY = 8;
export const _PAGE_SPECIAL = 16; // no struct page to refcount: the zero pages
export const _PAGE_PROTNONE = 32; // PROT_NONE / NUMA hinting: present to mm, not to the CPU

// ---- Faults (include/linux/mm_types.h) ----
export const VM_FAULT_OOM = 1;
export const VM_FAULT_SIGBUS = 2;
export const VM_FAULT_MAJOR = 4;
export const VM_FAULT_HWPOISON = 16;
export const VM_FAULT_SIGSEGV = 64;
export const VM_FAULT_FALLBACK = 2048;
export const FAULT_FLAG_WRITE = 1;
export const FAULT_FLAG_MKWRITE = 2;
export const FAULT_FLAG_REMOTE = 128;
export const FAULT_FLAG_UNSHARE = 1024;

// ---- MMU notifiers (include/linux/mmu_notifier.h) and HMM (include/linux/hmm.h) ----
// enum mmu_notifier_event, in the kernel's order.
export const MMU_NOTIFY_UNMAP = 0;
export const MMU_NOTIFY_CLEAR = 1;
export const MMU_NOTIFY_PROTECTION_VMA = 2;
export const MMU_NOTIFY_PROTECTION_PAGE = 3;
export const MMU_NOTIFY_SOFT_DIRTY = 4;
export const MMU_NOTIFY_RELEASE = 5;
export const MMU_NOTIFY_MIGRATE = 6;
export const MMU_NOTIFY_EXCLUSIVE = 7;
export const MMU_NOTIFIER_RANGE_BLOCKABLE = 1;
// pinsim's own VM_FAULT bit (not the kernel's): the core stopped before a
// PTE change that the mm's interval notifiers must hear about first.
export const VM_FAULT_NOTIFY = 0x100000;
// pinsim's own: a store into a sparse 1 GiB folio's shared tail page, whose
// contents pinsim does not keep (assembly/mem.ts page_is_shared_tail()).
export const VM_FAULT_NO_CONTENTS = 0x200000;
// enum hmm_pfn_flags as bits of an entry's high 32-bit word (the kernel's
// unsigned long: VALID bit 63, WRITE 62, ERROR 61, the map order from bit
// 53, the layout since v6.16 (UNVERIFIED: bit 56 before); pfn below).
export const HMM_PFN_VALID_HI = 1 << 31;
export const HMM_PFN_WRITE_HI = 1 << 30;
export const HMM_PFN_ERROR_HI = 1 << 29;
export const HMM_PFN_ORDER_SHIFT = 53;
export const HMM_PFN_REQ_FAULT_HI = HMM_PFN_VALID_HI;
export const HMM_PFN_REQ_WRITE_HI = HMM_PFN_WRITE_HI;
// How hmm_walk() treats a stretch: a VMA it may fault in (writable or
// not), one it may only report HMM_PFN_ERROR for, or a hole.
export const HMM_WALK_VMA = 0;
export const HMM_WALK_VMA_RO = 1;
export const HMM_WALK_ERROR = 2;
export const HMM_WALK_HOLE = 3;
export const HMM_NEED_FAULT = 1; // hmm_status(): the walk stopped at pages to fault in

// ---- Counters kept by the core (indices into the stats array) ----
export const NR_FREE_PAGES = 0;
export const NR_PAGETABLE = 1; // page-table pages, in pages
export const NR_ANON_PAGES = 2; // anon pages allocated (base pages)
export const NR_FILE_PAGES = 3; // page-cache pages (base pages)
export const NR_SHMEM = 4;
export const NR_DIRTIED = 5;
export const NR_WRITTEN = 6;
export const NR_ANON_THPS = 7; // in folios
export const THP_FAULT_ALLOC = 8;
export const THP_FAULT_FALLBACK = 9;
export const THP_SPLIT_PMD = 10;
export const PGFAULT = 11;
export const PGMAJFAULT = 12;
export const COW_COPIES = 13; // wp_page_copy() calls (not a kernel counter)
export const COW_REUSES = 14; // wp_page_reuse() of an anon page (not a kernel counter)
export const PAGE_MKWRITE = 15; // ->page_mkwrite() notifications (not a kernel counter)
export const HUGETLB_FREE = 16; // free_huge_pages, 2 MiB pool
export const HUGETLB_TOTAL = 17;
export const HUGETLB_FREE_1G = 18;
export const HUGETLB_TOTAL_1G = 19;
export const NR_FOLL_PIN_ACQUIRED = 20;
export const NR_FOLL_PIN_RELEASED = 21;
export const NR_FREE_CMA_PAGES = 22;
export const NR_FREE_MOVABLE = 23; // free pages in ZONE_MOVABLE
export const NR_FREE_DEVICE = 24; // free fsdax (pmem) pages
export const WB_NO_MKWRITE = 25; // dirty folios written back without fs state (the GUP hazard)
export const GUP_WARN_REFCOUNT = 26; // try_grab_folio() saw a refcount <= 0 (WARN_ON_ONCE)
export const GUP_WARN_UNPIN = 27; // unpin of a folio holding no pin (pinsim refuses it, with a WARN)
export const NR_ISOLATED = 28; // folios taken off the LRU for migration
export const PGMIGRATE_SUCCESS = 29;
export const PGMIGRATE_FAIL = 30;
export const NR_BAD_PAGES = 31; // frames bad_page() withheld from the allocator ("BUG: Bad page state"), in pages
export const NR_OFFLINE_PAGES = 32; // frames offline_pages() took out of managed memory
export const NR_STATS = 33;
// Page counts handed to the core per call, at most: they are i32 there.
export const MAX_PAGES_PER_CALL = 1073741824; // 2^30

// ---- Why bad_page() refused to free a frame (page_bad_reason()'s cases pinsim can meet) ----
export const BAD_MAPCOUNT = 1; // "nonzero mapcount" (also a page-table page: its type shares that word)
export const BAD_MAPPING = 2; // "non-NULL mapping": still in a page cache
export const BAD_FLAGS = 3; // "PAGE_FLAGS_CHECK_AT_FREE flag(s) set": PG_reserved (the zero page)
export const BAD_REFCOUNT = 4; // "nonzero _refcount": a put took the count past zero
export const BAD_REASON_BITS = 3; // bad_page_log(): pfn << BAD_REASON_BITS | reason
export const BAD_LOG_SIZE = 16; // the last reports the façade has not read yet

// ---- Sizes of the core's fixed areas ----
export const SCRATCH_WORDS = 65536; // bulk data exchanged with the façade, per call
export const MIGRATE_BATCH = SCRATCH_WORDS / 2; // folios migrated per round: heads, then targets
export const WB_BATCH = SCRATCH_WORDS / 4; // folios per writeback_range() call: 4 words each
// writeback_range()'s handling of a dirty folio without fs state (buffers),
// and the 4th word of its entry (WB_WRITTEN: had state, written).
export const WB_NOBUF_WRITE = 0; // written anyway, reported (xfs, btrfs; pinsim's choice)
export const WB_NOBUF_DROP = 1; // ext4 5.18+: WARN, cleaned, not written
export const WB_NOBUF_STOP = 2; // ext4 before 5.18: BUG; the walk stops there, the folio left dirty
export const WB_WRITTEN = 3;

// ---- Typed-array views the core exposes to the façade (see core/views) ----
export const VIEW_FLAGS = 0;
export const VIEW_REFCOUNT = 1;
export const VIEW_MAPCOUNT = 2;
export const VIEW_DATA = 3;
export const VIEW_MAPPING = 4;
export const VIEW_INDEX = 5;
export const VIEW_HEAD = 6;
export const VIEW_MIGRATETYPE = 7;
export const VIEW_SCRATCH = 8;
export const VIEW_STATS = 9;
export const VIEW_ZONE_FREE = 10;
export const VIEW_PAGES = 11; // the page-array arena
export const NR_VIEWS = 12;

// ---- Block direct I/O (src/devices/block.ts) ----
export const O_DIRECT = 0o40000; // x86-64 open(2) flag
export const UIO_MAXIOV = 1024; // iovecs per readv/writev call
export const MAX_RW_COUNT = 0x7ffff000; // INT_MAX & PAGE_MASK: the most one read/write moves
export const SECTOR_SIZE = 512; // the default logical block size
export const DMA_ALIGNMENT = 511; // the request queue's default dma_alignment mask
export const BLOCK_LATENCY_NS = 10000; // pinsim's default device latency: 10 µs, an NVMe read
// ---- io_uring fixed buffers, AF_XDP umem, MSG_ZEROCOPY (src/devices/io_uring.ts, xdp.ts, zerocopy.ts) ----
export const ENXIO = 6; // IORING_UNREGISTER_BUFFERS without a table
export const IORING_MAX_ENTRIES = 32768;
export const IORING_MAX_REG_BUFFERS = 16384; // 1 << 14
export const IORING_OP_READ_FIXED = 4;
export const IORING_OP_WRITE_FIXED = 5;
export const IO_BUF_MAX_LEN = 1073741824; // SZ_1G: io_validate_user_buf_range()'s cap on one buffer
export const XDP_UMEM_UNALIGNED_CHUNK_FLAG = 1;
export const XDP_UMEM_TX_SW_CSUM = 2;
export const XDP_UMEM_TX_METADATA_LEN = 4;
export const XDP_UMEM_MIN_CHUNK_SIZE = 2048;
export const XDP_PACKET_HEADROOM = 256;
export const SO_ZEROCOPY = 60;
export const MSG_ZEROCOPY = 0x4000000;
export const SO_EE_ORIGIN_ZEROCOPY = 5;
// ---- RDMA NIC (src/devices/rdma.ts, umem.ts, umem-odp.ts) ----
// enum ib_uverbs_access_flags (rdma-core's IBV_ACCESS_* have the same values).
export const IB_ACCESS_LOCAL_WRITE = 1;
export const IB_ACCESS_REMOTE_WRITE = 2;
export const IB_ACCESS_REMOTE_READ = 4;
export const IB_ACCESS_REMOTE_ATOMIC = 8;
export const IB_ACCESS_MW_BIND = 16;
export const IB_ACCESS_ZERO_BASED = 32;
export const IB_ACCESS_ON_DEMAND = 64;
export const IB_ACCESS_HUGETLB = 128;
export const IB_ACCESS_FLUSH_GLOBAL = 256;
export const IB_ACCESS_FLUSH_PERSISTENT = 512;
export const IB_ACCESS_RELAXED_ORDERING = 1048576; // the first bit of the optional range
export const IB_ACCESS_OPTIONAL = 1072693248; // bits 20-29: a device may ignore them
export const IB_ACCESS_SUPPORTED = 1023 | IB_ACCESS_OPTIONAL; // ((FLUSH_PERSISTENT << 1) - 1) | OPTIONAL
// enum ibv_advise_mr_advice and IBV_ADVISE_MR_FLAG_FLUSH.
export const IBV_ADVISE_MR_ADVICE_PREFETCH = 0;
export const IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE = 1;
export const IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT = 2;
export const IBV_ADVISE_MR_FLAG_FLUSH = 1;
// enum ibv_fork_status.
export const IBV_FORK_DISABLED = 0;
export const IBV_FORK_ENABLED = 1;
export const IBV_FORK_UNNEEDED = 2;
// Pages pin_user_pages_fast() is asked for per call in ib_umem_get(): PAGE_SIZE / sizeof(struct page *).
export const IB_UMEM_PIN_BATCH = 512;
// HMM_RANGE_DEFAULT_TIMEOUT, the ODP fault's -EBUSY deadline, in ms.
export const HMM_RANGE_DEFAULT_TIMEOUT = 1000;
// ib_umem_odp_map_dma_and_lock()'s access_mask bits.
export const ODP_READ_ALLOWED_BIT = 1;
export const ODP_WRITE_ALLOWED_BIT = 2;
// ---- The HMM mirror device (lib/test_hmm.c's dmirror; src/devices/hmm-mirror.ts) ----
// HMM_DMIRROR_PROT_*: the per-page bytes of HMM_DMIRROR_SNAPSHOT (lib/test_hmm_uapi.h).
export const HMM_DMIRROR_PROT_ERROR = 0xff;
export const HMM_DMIRROR_PROT_NONE = 0x00;
export const HMM_DMIRROR_PROT_READ = 0x01;
export const HMM_DMIRROR_PROT_WRITE = 0x02;
export const HMM_DMIRROR_PROT_PMD = 0x04;
export const HMM_DMIRROR_PROT_PUD = 0x08;
export const HMM_DMIRROR_PROT_ZERO = 0x10;
export const DMIRROR_BLOCK = 512; // device page table entries per block (dmirror_runs() input)
export const DMIRROR_RUNS_AT = SCRATCH_WORDS / 2; // where dmirror_runs() writes its runs: 4 words each
// ---- VFIO type1 and iommufd (src/devices/vfio.ts, src/devices/iommufd.ts): uapi values ----
export const VFIO_TYPE1_IOMMU = 1; // include/uapi/linux/vfio.h
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_MAP_FLAG_READ = 1; // the device may read
export const VFIO_DMA_MAP_FLAG_WRITE = 2; // the device may write
export const VFIO_DMA_MAP_FLAG_VADDR = 4;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1;
export const VFIO_DMA_UNMAP_FLAG_ALL = 2;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 4;
export const VFIO_DMA_ENTRY_LIMIT = 65535; // the dma_entry_limit module parameter's default (U16_MAX)
export const VFIO_PIN_BATCH = 512; // pages per pin_user_pages_remote() call (a page of struct page pointers)
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1; // include/uapi/linux/iommufd.h
export const IOMMU_IOAS_MAP_WRITEABLE = 2;
export const IOMMU_IOAS_MAP_READABLE = 4;
export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;
// ---- pipes and vmsplice (src/devices/pipe.ts): uapi values ----
export const EPIPE = 32;
export const PIPE_DEF_BUFFERS = 16; // slots of a new pipe's ring (include/linux/pipe_fs_i.h)
export const SPLICE_F_MOVE = 1; // include/uapi/linux/splice.h
export const SPLICE_F_NONBLOCK = 2;
export const SPLICE_F_MORE = 4;
export const SPLICE_F_GIFT = 8;
export const SPLICE_F_ALL = 15;
export const PIPE_BUF_FLAG_GIFT = 4; // include/linux/pipe_fs_i.h
// ---- Contiguous ranges: cma_alloc() and memory offlining (src/mm/contig.ts, assembly/contig.ts) ----
export const CMA_ALIGNMENT = 8; // CONFIG_CMA_ALIGNMENT's default: cma_alloc() clamps align (an order) to it
export const PAGES_PER_SECTION = 32768; // x86-64 SECTION_SIZE_BITS 27: a 128 MiB memory block
export const CONTIG_CMA = 0; // contig_take()/contig_give() for a CMA allocation (refcount 1 per page)
export const CONTIG_OFFLINE = 1; // ... for offlined memory (PG_reserved, MIGRATE_ISOLATE pageblocks)

// ---- k.check() (assembly/check.ts): the per-frame invariants a violation names ----
export const CHECK_REFCOUNT_NEGATIVE = 1; // _refcount < 0
export const CHECK_PINCOUNT_OVER_REFCOUNT = 2; // a large folio's _pincount > its _refcount
export const CHECK_BUDDY_IN_USE = 3; // a PG_buddy frame with a mapcount or a reference
export const CHECK_MAPPED_OVER_REFCOUNT = 4; // a folio mapped more times than it has references
export const CHECK_MAX = SCRATCH_WORDS / 2; // violations per check_frames() call: (pfn, code) pairs

// ---- Kernel-era rules the core reads (src/eras/; boot({ kernel, rules })) ----
// One i32, kernel_rules in assembly/rules.ts. Read a flag:
// (kernel_rules & RULE_GUP_BREAKS_COW) != 0; a field:
// (kernel_rules >> RULE_COW_REUSE_SHIFT) & RULE_FIELD_MASK.
export const RULE_FIELD_MASK = 3; // every field is 2 bits wide
export const RULE_EXACT_PINCOUNT_SHIFT = 0; // PINCOUNT_*: which compound orders keep _pincount
export const PINCOUNT_NONE = 0;
export const PINCOUNT_ORDER2 = 1;
export const PINCOUNT_ORDER1 = 2;
export const RULE_PIN_VMSTAT = 4; // nr_foll_pin_acquired/released count
export const RULE_ZERO_PAGE_PIN_COUNTED = 8; // pins of the zero page touch its refcount and vmstat
export const RULE_COW_REUSE_SHIFT = 4; // REUSE_*: do_wp_page() on a PTE-mapped anon page
export const RULE_THP_COW_REUSE_SHIFT = 6; // REUSE_*: do_huge_pmd_wp_page()
export const REUSE_MAPCOUNT = 0;
export const REUSE_REFCOUNT = 1;
export const REUSE_EXCLUSIVE = 2;
export const RULE_THP_SPLIT_COW = 256; // a shared PMD THP write fault splits (else copies the THP)
export const RULE_HUGETLB_REUSE_EXCLUSIVE = 512; // hugetlb_wp() reuses an exclusive page (else mapcount == 1 only)
export const RULE_HUGE_ZERO_THP = 1024; // a write to the huge zero PMD maps a fresh THP
export const RULE_GUP_BREAKS_COW = 2048; // 5.8: GUP on a COW mapping breaks COW first
export const RULE_UNSHARE_ANON = 4096; // R/O pins unshare shared anon pages
export const RULE_UNSHARE_LT_NONANON = 8192; // R/O long-term pins unshare page cache / zero pages in COW mappings
export const RULE_FORK_COPY_SHIFT = 14; // FORK_COPY_*: which maybe-pinned pages fork copies
export const FORK_COPY_NONE = 0;
export const FORK_COPY_PTE_THP = 1; // PTE and PMD THP (split), page cache included
export const FORK_COPY_PTE_THP_HUGETLB = 2; // ... and hugetlb
export const FORK_COPY_ANON = 3; // anon only, every size
export const RULE_GUP_FAST_LT_CMA_SHIFT = 16; // LT_CMA_*: who GUP-fast refuses CMA pages for
export const LT_CMA_NONE = 0;
export const LT_CMA_PIN = 1;
export const LT_CMA_ALL = 2;
export const RULE_LT_MIGRATE_MOVABLE = 262144; // 1 << 18
export const RULE_LT_MIGRATE_ISOLATE = 524288; // 1 << 19
export const RULE_LT_WRITE_FILE_EFAULT = 1048576; // 1 << 20: PIN+LT+WRITE on a dirty-tracked file is -EFAULT
export const RULE_FOLL_COW = 2097152; // 1 << 21: FOLL_FORCE writes accept a COWed page with a dirty PTE
export const RULE_RECLAIM_KEEPS_PINNED_PRIVATE = 4194304; // 1 << 22: writeback keeps a maybe-pinned folio's buffers
export const RULE_LRU_BATCH_REF = 8388608; // 1 << 23: a new anon folio waits in the per-CPU LRU batch, holding a reference
export const RULE_LT_DRAIN_BY_REFCOUNT = 16777216; // 1 << 24: the long-term pin drains LRU batches on an unexpected refcount (J5)
export const RULE_WP_DRAINS_LOCAL_LRU = 33554432; // 1 << 25: do_wp_page() drains this CPU's LRU batch before counting references
export const PAGEVEC_SIZE = 15; // the LRU-add batch (pagevec, then folio_batch): full after 15 folios
// copy_page_range()'s answer when fork (5.9-5.18) copied a maybe-pinned
// non-anon page into a child VMA without an anon_vma: the BUG_ON(!anon_vma)
// of __page_set_anon_rmap() (the façade reports the oops).
export const FORK_BUG_NO_ANON_VMA = -4096;
// FOLL_COW (mm/internal.h until 6.0): set by the slow path after a write
// fault broke COW in a VMA without VM_WRITE; a read-only but dirty PTE then
// satisfies the FOLL_WRITE follow. Read only when RULE_FOLL_COW is set.
export const FOLL_COW = 16384;
// frame_summary() (assembly/frame_map.ts): one byte per pixel of the lab's
// frame map, the most notable state among its frames in the low 3 bits
// (these values, in rising priority), the share of its frames in use
// (0..15) in the high 4. FRAME_LONGTERM is never computed by the core (it
// does not know which pins are long-term); the lab overlays it from pin
// provenance.
export const FRAME_FREE = 0;
export const FRAME_OTHER = 1; // allocated, neither anon nor page cache: the zero page, hugetlb pool, cma_alloc
export const FRAME_FILE = 2;
export const FRAME_ANON = 3;
export const FRAME_TABLE = 4;
export const FRAME_MLOCKED = 5;
export const FRAME_PINNED = 6;
export const FRAME_LONGTERM = 7;
export const FRAME_STATE_MASK = 7;
export const FRAME_FILL_SHIFT = 4;
export const FRAME_SUMMARY_MAX = 262144; // pixels per call: SCRATCH_WORDS * 4 bytes
