// The kernel's pinning rules over time: for every rule key, its value
// before the first change and each commit that changed it, with the
// release that first had it. Presets (./presets.ts) are read off this one
// table by version, so 5.7 or 6.11 come out as the kernel had them rather
// than as hand-made copies. Source: shared/docs/kernel-history.md §2, §3,
// §6.2 ([I] releases inferred, UNVERIFIED marked where the doc marks them).

export interface Change<V> {
  since: string; // the first release with this value ("5.9")
  value: V;
  commit: string | null; // null: the doc gives no commit id
  title: string;
}

export interface RuleDef<V> {
  what: string; // one line: what the rule decides
  initial: V; // the value before the first change listed
  initialNote: string; // where the initial value comes from
  changes: readonly Change<V>[];
  values: readonly V[]; // what an override may set
  effect: 'core' | 'facade' | 'none'; // 'none': recorded, pinsim has no mechanism it changes (README says why)
}

const rule = <const V>(d: RuleDef<V>): RuleDef<V> => d;
const BOOL = [false, true] as const;

export const TIMELINE = {
  pinApi: rule({
    what: 'pin_user_pages*() / unpin_user_page*() exist (else GET only: a clear ENOSYS)',
    initial: false, initialNote: 'GET only before 5.6', values: BOOL, effect: 'facade',
    changes: [{ since: '5.6', value: true, commit: 'eddb1c228f79', title: 'mm/gup: introduce pin_user_pages*() and FOLL_PIN' }],
  }),
  pinBias: rule({
    what: 'what a pin adds to a small page\'s refcount (1: a pin is a get, unpin is put_page)',
    initial: 1 as 1 | 1024, initialNote: 'a plain reference before 5.7', values: [1, 1024] as const, effect: 'facade',
    changes: [{ since: '5.7', value: 1024 as const, commit: '3faa52c03f44', title: 'mm/gup: track FOLL_PIN pages' }],
  }),
  exactPincount: rule({
    what: 'which compound pages count pins exactly (_pincount) rather than by the 1024 bias',
    initial: 'none' as 'none' | 'order>=2' | 'order>=1', initialNote: 'no pin counting before 5.7',
    values: ['none', 'order>=2', 'order>=1'] as const, effect: 'core',
    changes: [
      { since: '5.7', value: 'order>=2', commit: '47e29d32afba', title: 'mm/gup: page->hpage_pinned_refcount: exact pin counts for huge pages' },
      { since: '5.18', value: 'order>=1', commit: '5232c63f46fd', title: 'mm: Make compound_pincount always available' },
    ],
  }),
  pinVmstat: rule({
    what: '/proc/vmstat nr_foll_pin_acquired / nr_foll_pin_released count pins',
    initial: false, initialNote: 'no counters before 5.7', values: BOOL, effect: 'core',
    changes: [{ since: '5.7', value: true, commit: '1970dc6f5226', title: 'mm/gup: /proc/vmstat: pin_user_pages (FOLL_PIN) reporting' }],
  }),
  zeroPagePinCounted: rule({
    what: 'a pin of the shared zero page touches its refcount and vmstat',
    initial: true, initialNote: 'always counted before 6.5', values: BOOL, effect: 'core',
    changes: [{ since: '6.5', value: false, commit: 'c8070b787519', title: "mm: Don't pin ZERO_PAGE in pin_user_pages()" }],
  }),
  cowReuse: rule({
    what: 'write fault on a PTE-mapped anon page: when it is reused rather than copied',
    initial: 'mapcount' as 'mapcount' | 'refcount' | 'exclusive', initialNote: 'mapcount (plus swapcount) == 1 before 5.9',
    values: ['mapcount', 'refcount', 'exclusive'] as const, effect: 'core',
    changes: [
      { since: '5.9', value: 'refcount', commit: '09854ba94c6a', title: 'mm: do_wp_page() simplification' },
      { since: '5.19', value: 'exclusive', commit: '6c287605fd56', title: 'mm: remember exclusively mapped anonymous pages with PG_anon_exclusive' },
    ],
  }),
  thpCowReuse: rule({
    what: 'write fault on a PMD-mapped THP: when the whole THP is reused',
    initial: 'mapcount' as 'mapcount' | 'refcount' | 'exclusive', initialNote: 'mapcount before 5.18',
    values: ['mapcount', 'refcount', 'exclusive'] as const, effect: 'core',
    changes: [
      { since: '5.18', value: 'refcount', commit: '3bff7e3f1f16', title: 'mm/huge_memory: streamline COW logic in do_huge_pmd_wp_page()' },
      { since: '5.19', value: 'exclusive', commit: '6c287605fd56', title: 'mm: remember exclusively mapped anonymous pages with PG_anon_exclusive' },
    ],
  }),
  thpSplitCow: rule({
    what: 'a shared PMD THP write fault splits and copies 4 KiB (else it copies the whole THP)',
    initial: false, initialNote: 'copy the whole THP before 5.8 (the code 3917c80280c9 removed: a THP copy, else 512 small copies, else a split)', values: BOOL, effect: 'core',
    changes: [{ since: '5.8', value: true, commit: '3917c80280c9', title: 'thp: change CoW semantics for anon-THP' }],
  }),
  hugetlbCowReuse: rule({
    what: 'write fault on a hugetlb page: reuse on mapcount == 1 only, or also when exclusive',
    initial: 'mapcount' as 'mapcount' | 'exclusive', initialNote: 'mapcount before 5.19', values: ['mapcount', 'exclusive'] as const, effect: 'core',
    changes: [{ since: '5.19', value: 'exclusive', commit: '6c287605fd56', title: 'mm: remember exclusively mapped anonymous pages with PG_anon_exclusive' }],
  }),
  hugeZeroThp: rule({
    what: 'a write to the huge zero PMD maps a fresh THP (else split, one 4 KiB copy)',
    initial: true, initialNote: 'a THP first before 5.8 (the alloc path 3917c80280c9 removed)', values: BOOL, effect: 'core',
    changes: [
      { since: '5.8', value: false, commit: '3917c80280c9', title: 'thp: change CoW semantics for anon-THP' },
      { since: '6.13', value: true, commit: '1ced09e0331f', title: 'mm: allocate THP on hugezeropage wp-fault' },
    ],
  }),
  gupBreaksCow: rule({
    what: 'any GUP (even read-only) on a COW mapping breaks COW first, like a write fault',
    initial: false, initialNote: 'not before 5.8', values: BOOL, effect: 'core',
    changes: [
      { since: '5.8', value: true, commit: '17839856fd58', title: 'gup: document and work around "COW can break either way" issue' },
      { since: '5.9', value: false, commit: 'a308c71bf1e6', title: 'mm/gup: Remove enfornced COW mechanism' },
    ],
  }),
  roPinUnshareAnon: rule({
    what: 'a R/O pin of a shared anon page unshares it first (FAULT_FLAG_UNSHARE)',
    initial: false, initialNote: 'not before 5.19', values: BOOL, effect: 'core',
    changes: [{ since: '5.19', value: true, commit: 'a7f226604170', title: 'mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page' }],
  }),
  roLongtermUnshareNonAnon: rule({
    what: 'a R/O long-term pin of a page-cache or zero page in a COW mapping unshares it into anon memory',
    initial: false, initialNote: 'not before 6.2', values: BOOL, effect: 'core',
    changes: [{ since: '6.2', value: true, commit: '84209e87c696', title: 'mm/gup: reliable R/O long-term pinning in COW mappings' }],
  }),
  forkCopyPinned: rule({
    what: 'fork copies maybe-pinned pages into the child: which ones',
    initial: 'none' as 'none' | 'pte+thp' | 'pte+thp+hugetlb' | 'anon', initialNote: 'pinned pages shared at fork before 5.9',
    values: ['none', 'pte+thp', 'pte+thp+hugetlb', 'anon'] as const, effect: 'core',
    changes: [
      { since: '5.9', value: 'pte+thp', commit: '70e806e4e645', title: 'mm: Do early cow for pinned pages during fork() for ptes' },
      { since: '5.12', value: 'pte+thp+hugetlb', commit: '4eae4efa2c29', title: 'hugetlb: do early cow when page pinned on src mm' },
      { since: '5.19', value: 'anon', commit: 'fb3d824d1a46', title: 'mm/rmap: split page_dup_rmap() into page_dup_file_rmap() and page_try_dup_anon_rmap()' },
    ],
  }),
  pinnedMmFlag: rule({
    what: 'the sticky "this mm has pinned" flag fork consults (same semantics, new name in 5.14)',
    initial: 'none' as 'none' | 'has_pinned' | 'MMF_HAS_PINNED', initialNote: 'none before 5.9',
    values: ['none', 'has_pinned', 'MMF_HAS_PINNED'] as const, effect: 'none',
    changes: [
      { since: '5.9', value: 'has_pinned', commit: '008cfe4418b3', title: 'mm: Introduce mm_struct.has_pinned' },
      { since: '5.14', value: 'MMF_HAS_PINNED', commit: 'a458b76a4171', title: 'mm: Add an mm flag MMF_HAS_PINNED' },
    ],
  }),
  gupFastForkSeqcount: rule({
    what: 'GUP-fast checks mm->write_protect_seq so a pin cannot slip into a forking mm',
    initial: false, initialNote: 'not before 5.11', values: BOOL, effect: 'none',
    changes: [{ since: '5.11', value: true, commit: '57efa1fe5957', title: 'mm/gup: prevent gup_fast from racing with COW during fork' }],
  }),
  reclaimSkipsPinned: rule({
    what: 'reclaim leaves maybe-pinned anon pages out of the swap cache',
    initial: false, initialNote: 'not before 5.11', values: BOOL, effect: 'none',
    changes: [{ since: '5.11', value: true, commit: 'feb889fb40fa', title: "mm: don't put pinned pages into the swap cache" }],
  }),
  softDirtySkipsPinned: rule({
    what: 'clear_refs (soft-dirty) leaves PTEs of maybe-pinned pages writable',
    initial: false, initialNote: 'not before 5.11', values: BOOL, effect: 'none',
    changes: [{ since: '5.11', value: true, commit: '9348b73c2e1b', title: 'mm: Do not play games with clear_page_refs of pinned pages' }],
  }),
  reclaimKeepsPinnedPrivate: rule({
    what: 'reclaim keeps the buffers (fs-private data) of maybe-pinned page-cache pages (pinsim: writeback stands in for reclaim)',
    initial: false, initialNote: 'not before 6.4', values: BOOL, effect: 'core',
    changes: [{ since: '6.4', value: true, commit: 'd824ec2a1546', title: 'mm: do not reclaim private data from pinned page' }],
  }),
  longtermFsDaxRefused: rule({
    what: 'a long-term GUP of an fs-DAX VMA fails with -EOPNOTSUPP',
    initial: true, initialNote: 'since 4.15 (2bb6d2837083, get_user_pages_longterm), before every preset', values: [true] as const, effect: 'facade',
    changes: [],
  }),
  longtermMigratesCma: rule({
    what: 'the slow path migrates MIGRATE_CMA pages before a long-term pin',
    initial: true, initialNote: 'since 5.1 (9a4e9f3b2d73, [I]), before every preset', values: [true] as const, effect: 'facade',
    changes: [],
  }),
  gupFastLongtermCma: rule({
    what: 'GUP-fast refuses a long-term pin of a CMA page (falls back to the slow path): for which callers',
    initial: 'none' as 'none' | 'pin' | 'all', initialNote: 'only devmap refused before 5.7 (7af75561e171)',
    values: ['none', 'pin', 'all'] as const, effect: 'core',
    changes: [
      { since: '5.7', value: 'pin', commit: 'df3a0a21b698', title: 'mm/gup: fix omission of check on FOLL_LONGTERM in gup fast path' },
      { since: '6.3', value: 'all', commit: null, title: 'is_valid_gup_args(): FOLL_LONGTERM needs FOLL_PIN everywhere (release UNVERIFIED)' },
    ],
  }),
  longtermMigratesMovable: rule({
    what: 'a long-term pin also migrates pages out of ZONE_MOVABLE',
    initial: false, initialNote: 'not before 5.13', values: BOOL, effect: 'core',
    changes: [{ since: '5.13', value: true, commit: 'd1e153fea2a8', title: 'mm/gup: migrate pinned pages out of movable zone' }],
  }),
  longtermMigratesIsolate: rule({
    what: 'a long-term pin also migrates pages out of MIGRATE_ISOLATE pageblocks',
    initial: false, initialNote: 'not before 5.19', values: BOOL, effect: 'core',
    changes: [{ since: '5.19', value: true, commit: '1c563432588d', title: 'mm: fix is_pinnable_page against a cma page' }],
  }),
  longtermMigrationFailure: rule({
    what: 'what a long-term pin returns when a page cannot be migrated',
    initial: 'pin-anyway' as 'pin-anyway' | 'error' | 'error-leak', initialNote: 'success with the pages pinned in place before 5.13',
    values: ['pin-anyway', 'error', 'error-leak'] as const, effect: 'facade',
    changes: [
      { since: '5.13', value: 'error', commit: 'f0f4463837da', title: 'mm/gup: longterm pin migration cleanup' },
      { since: '6.1', value: 'error-leak', commit: '24a95998e9ba', title: 'mm/gup.c: simplify and fix check_and_migrate_movable_pages() return codes' },
      { since: '6.12', value: 'error', commit: 'aa6f8b2593b5', title: 'mm/gup: stop leaking pinned pages in low memory conditions' },
    ],
  }),
  getLongterm: rule({
    what: 'FOLL_GET with FOLL_LONGTERM: accepted, refused by the slow entry points only, or refused everywhere (-EINVAL)',
    initial: 'allowed' as 'allowed' | 'fast-only' | 'refused', initialNote: 'allowed before 5.10',
    values: ['allowed', 'fast-only', 'refused'] as const, effect: 'facade',
    changes: [
      { since: '5.10', value: 'fast-only', commit: '447f3e45c18a', title: "mm/gup: don't permit users to call get_user_pages with FOLL_LONGTERM" },
      { since: '6.3', value: 'refused', commit: null, title: 'is_valid_gup_args() (release UNVERIFIED)' },
    ],
  }),
  longtermWriteFile: rule({
    what: 'PIN+LONGTERM+WRITE on a dirty-tracked file mapping (ext4, xfs, btrfs MAP_SHARED)',
    initial: 'allowed' as 'allowed' | 'efault', initialNote: 'allowed before 6.5', values: ['allowed', 'efault'] as const, effect: 'core',
    changes: [{ since: '6.5', value: 'efault', commit: '8ac268436e6d', title: 'mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings' }],
  }),
  ioUringFileCheck: rule({
    what: 'io_uring refuses fixed buffers in file VMAs other than shmem/hugetlbfs itself (-EOPNOTSUPP)',
    initial: true, initialNote: 'io_uring\'s own VMA check before 6.5 (when it began: UNVERIFIED)', values: BOOL, effect: 'facade',
    changes: [{ since: '6.5', value: false, commit: '34ed8d0dcd69', title: 'io_uring: rsrc: delegate VMA file-backed check to GUP' }],
  }),
  odirectPin: rule({
    what: 'O_DIRECT takes FOLL_PIN (else FOLL_GET) on user buffers',
    initial: false, initialNote: 'FOLL_GET before 6.5', values: BOOL, effect: 'facade',
    changes: [{ since: '6.5', value: true, commit: '1ccf164ec866', title: 'block: Use iov_iter_extract_pages() and page pinning in direct-io.c' }],
  }),
  ext4DirtyWithoutBuffers: rule({
    what: 'ext4 writeback meeting a page dirtied without page_mkwrite (no buffers): BUG, or WARN and drop the data',
    initial: 'bug' as 'bug' | 'warn', initialNote: 'BUG before 5.18 (exact site UNVERIFIED)', values: ['bug', 'warn'] as const, effect: 'facade',
    changes: [{ since: '5.18', value: 'warn', commit: 'cc5095747edf', title: "ext4: don't BUG if someone dirty pages without asking ext4 first" }],
  }),
  forceWriteRoPrivate: rule({
    what: 'FOLL_FORCE|FOLL_WRITE on a R/O private mapping: FOLL_COW with a dirty PTE, or an exclusive anon page',
    initial: 'foll-cow' as 'foll-cow' | 'exclusive', initialNote: 'FOLL_COW since 4.9 (19be0eaffa3a, UNVERIFIED)',
    values: ['foll-cow', 'exclusive'] as const, effect: 'core',
    changes: [{ since: '6.0', value: 'exclusive', commit: '5535be309971', title: 'mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW' }],
  }),
  rdmaRoNoForce: rule({
    what: 'a R/O RDMA MR pins without FOLL_FORCE|FOLL_WRITE',
    initial: false, initialNote: 'FOLL_FORCE|FOLL_WRITE on R/O MRs before 6.2', values: BOOL, effect: 'facade',
    changes: [{ since: '6.2', value: true, commit: 'b40656aa7d55', title: 'RDMA/umem: remove FOLL_FORCE usage' }],
  }),
  ioUringShmem: rule({
    what: 'io_uring\'s own file-VMA check (ioUringFileCheck) lets shmem/memfd through, not only hugetlbfs',
    initial: false, initialNote: 'hugetlbfs the only file VMA io_uring accepted before 5.14', values: BOOL, effect: 'facade',
    changes: [{ since: '5.14', value: true, commit: '40dad765c045', title: 'io_uring: enable shmem/memfd memory registration' }],
  }),
  iommufd: rule({
    what: 'iommufd (/dev/iommu) exists (else opening it is ENOENT)',
    initial: false, initialNote: 'no iommufd before 6.2', values: BOOL, effect: 'facade',
    changes: [{ since: '6.2', value: true, commit: '2ff4bed7fee7', title: 'iommufd: File descriptor, context, kconfig and makefiles' }],
  }),
  rdmaCopyOnForkAttr: rule({
    what: 'the kernel reports RDMA_NLDEV_SYS_ATTR_COPY_ON_FORK, so libibverbs\' ibv_is_fork_initialized() says IBV_FORK_UNNEEDED and ibv_fork_init() marks nothing MADV_DONTFORK',
    initial: false, initialNote: 'no attribute before 5.13: rdma-core falls back to MADV_DONTFORK on every MR', values: BOOL, effect: 'facade',
    changes: [{ since: '5.13', value: true, commit: '6cc9e215eb27', title: 'RDMA/nldev: Add copy-on-fork attribute to get sys command' }],
  }),
  lruBatchRef: rule({
    what: 'a freshly added folio sits in a per-CPU LRU batch holding one extra reference until lru_add_drain() (page_count eras then copy spuriously; long-term migration fails on it until Hugh Dickins\' 2025 fixes)',
    initial: false, initialNote: 'a switch, off in every preset (pinsim puts new folios on the LRU at once)', values: BOOL, effect: 'core',
    changes: [],
  }),
  wpDrainsLocalLru: rule({
    what: 'a write fault on a small anon page off the LRU (refcount at most 3) drains this CPU\'s LRU batch before counting references (with lruBatchRef: no spurious copy)',
    initial: false, initialNote: 'not before 5.18', values: BOOL, effect: 'core',
    changes: [{ since: '5.18', value: true, commit: 'd4c470970d45', title: 'mm: optimize do_wp_page() for fresh pages in local LRU pagevecs' }],
  }),
  longtermDrainsByRefcount: rule({
    what: 'the long-term pin drains the LRU batches when a folio\'s refcount is unexpected (else only for a folio without PG_lru, which missed batch references: with lruBatchRef, migration fails)',
    initial: false, initialNote: 'the PG_lru test since 5.1 (9a4e9f3b2d73)', values: BOOL, effect: 'core',
    changes: [{ since: '6.17', value: true, commit: '98c6d259319e', title: 'mm/gup: check ref_count instead of lru before migration (release UNVERIFIED: merged Sept 2025, in stable 6.12.y-6.16.y)' }],
  }),
} as const;

export type RuleKey = keyof typeof TIMELINE;
export type RuleValue<K extends RuleKey> = (typeof TIMELINE)[K]['values'][number];
export type KernelRules = { readonly [K in RuleKey]: RuleValue<K> };
