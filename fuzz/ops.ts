// The operations the fuzz runs, grouped in families, and their generators.
// An op is a plain JSON record (so a finding can be pasted into a test);
// what it means is Machine.run()'s business (fuzz/machine.ts).
import fc from 'fast-check';
import * as C from '../assembly/constants';

export type Op =
  // family 'mm': the machine's syscalls and user accesses
  | { op: 'mmap'; task: number; kind: number; pages: number; prot: number; populate: boolean }
  | { op: 'munmap' | 'dontneed' | 'populate'; task: number; vma: number; off: number; pages: number }
  | { op: 'mprotect'; task: number; vma: number; off: number; pages: number; prot: number }
  | { op: 'madvise'; task: number; vma: number; off: number; pages: number; advice: number }
  | { op: 'access'; task: number; vma: number; off: number; write: boolean; word: number }
  | { op: 'touch'; task: number; vma: number; off: number; pages: number; write: boolean }
  | { op: 'fork' | 'exit'; task: number }
  | { op: 'pwrite'; task: number; file: number; page: number; word: number }
  | { op: 'pread'; task: number; file: number; page: number }
  | { op: 'truncate'; task: number; file: number; pages: number }
  | { op: 'writeback' }
  // family 'gup': GUP calls on mapped ranges and releasing what they took
  | { op: 'gup'; task: number; vma: number; off: number; pages: number; kind: number }
  | { op: 'release'; held: number; dirty: boolean }
  // family 'dma': a device writing into a page the fuzz holds a FOLL_WRITE pin on
  | { op: 'dma'; held: number; entry: number; word: number }
  // family 'mmapBase': hints and MAP_FIXED around MMAP_BASE
  | { op: 'mmapAt'; task: number; at: number; pages: number; fixed: number }
  // family 'hugetlbHint': MAP_HUGETLB with page-aligned hints
  | { op: 'hugetlbHint'; task: number; hint: number; huge: number; shared: boolean }
  // families 'gupStart' and 'gupCount': out-of-range starts, and counts of 2^31 pages and beyond
  | { op: 'gupStart'; task: number; fn: number; start: number; count: number }
  | { op: 'mmapHuge'; task: number; log2: number }
  | { op: 'gupCount'; task: number; fn: number; count: number; vma: number; nullPages: boolean }
  // family 'hugeOffset': file offsets and sizes of 2^31 pages and beyond
  | { op: 'pwriteFar' | 'preadFar'; task: number; file: number; log2: number; word: number }
  | { op: 'truncateFar'; task: number; file: number; log2: number }
  | { op: 'mmapFar'; task: number; log2: number }
  // families 'putFree' and 'putInUse': dropping references nobody took, on free frames and on frames of every other kind
  | { op: 'putFree' | 'putAny'; fn: number; target: number; pick: number; task: number; vma: number; off: number; n: number }
  // family 'unpinBatch': a batch naming a page more often than it is pinned
  | { op: 'unpinDup'; task: number; extra: number }
  // family 'deadMm': GUP through the mm of an exited task
  | { op: 'gupDead'; dead: number; fn: number; vma: number; off: number; pages: number }
  // family 'hugetlbfs': mappings of a hugetlbfs file whose EOF moves
  | { op: 'hfsMmap'; task: number; shared: boolean; huge: number; prot: number }
  | { op: 'hfsTruncate'; task: number; huge: number }
  // family 'notifier': interval notifiers whose invalidation logs are compared, and hmm_range_fault through them
  | { op: 'notifierInsert'; task: number; vma: number; off: number; pages: number }
  | { op: 'notifierRemove'; pick: number }
  | { op: 'hmm'; task: number; pick: number; vma: number; off: number; pages: number; req: number }
  // family 'mlock': the mlock family and MAP_LOCKED
  | { op: 'mlock'; task: number; vma: number; off: number; pages: number; onfault: boolean }
  | { op: 'munlock'; task: number; vma: number; off: number; pages: number }
  | { op: 'mlockall'; task: number; flags: number }
  | { op: 'munlockall'; task: number }
  | { op: 'mmapLocked'; task: number; kind: number; pages: number; prot: number }
  // family 'memlock': credentials, RLIMIT_MEMLOCK and the accounting helpers
  | { op: 'setrlimit'; task: number; soft: number; hard: number }
  | { op: 'spawnCred'; uid: number; caps: number; memlock: number }
  | { op: 'charge'; task: number; dead: number; counter: number; pages: number; inc: boolean; check: boolean }
  // family 'odirect': preadv/pwritev, buffered or O_DIRECT, random alignment, async completed by settle
  | { op: 'dio'; task: number; file: number; direct: boolean; write: boolean; vma: number; off: number; sub: number; odd: boolean;
    pos: number; posSub: number; blocks: number; segs: number; async: boolean; wbMid: boolean }
  // family 'io_uring': rings, fixed buffers and fixed I/O (fuzz/io_uring.ts), with mmap/munmap/access/fork/exit between
  | { op: 'uringSetup'; task: number }
  | { op: 'uringRegister'; pick: number; vma: number; off: number; pages: number; n: number; odd: boolean }
  | { op: 'uringUnregister' | 'uringClose'; pick: number }
  | { op: 'uringRw'; pick: number; write: boolean; buf: number; off: number; pages: number; file: number; fpage: number }
  | { op: 'uringSettle' }
  // family 'rdma': an RDMA NIC's pinned and ODP MRs and a peer's access through them (fuzz/rdma.ts)
  | { op: 'rdmaReg'; task: number; vma: number; off: number; pages: number; byte: number; access: number; odp: boolean }
  | { op: 'rdmaDereg'; pick: number }
  | { op: 'rdmaClose'; task: number }
  | { op: 'rdmaRemote'; pick: number; off: number; write: boolean; word: number }
  // family 'mirror': the HMM mirror device (test_hmm's dmirror) reading and writing through its device page table
  | { op: 'mirrorOpen'; task: number }
  | { op: 'mirrorAccess'; pick: number; vma: number; off: number; write: boolean; word: number }
  | { op: 'mirrorRange'; pick: number; vma: number; off: number; pages: number; snapshot: boolean }
  | { op: 'mirrorClose'; pick: number }
  // family 'vfio': VFIO type1 containers over the tasks' memory (fuzz/vfio.ts)
  | { op: 'vfioOpen'; task: number; v2: boolean }
  | { op: 'vfioMap'; task: number; c: number; vma: number; off: number; pages: number; slot: number; write: boolean }
  | { op: 'vfioUnmap'; task: number; c: number; slot: number; pages: number; all: boolean }
  | { op: 'vfioDma'; c: number; slot: number; off: number; write: boolean; word: number }
  | { op: 'vfioClose'; task: number; c: number }
  // family 'pipe': pipes, vmsplice of the tasks' memory into them, reads, closes (fuzz/pipe.ts)
  | { op: 'pipeOpen'; task: number }
  | { op: 'pipeSplice'; task: number; pick: number; vma: number; off: number; byte: number; pages: number; gift: boolean }
  | { op: 'pipeRead'; task: number; pick: number; len: number }
  | { op: 'pipeClose'; task: number; pick: number }
  // family 'contig': cma_alloc/cma_release and offline_pages/online_pages (fuzz/contig.ts)
  | { op: 'cmaAlloc'; count: number; align: number }
  | { op: 'cmaRelease'; pick: number }
  | { op: 'offline' | 'online'; at: number }
  // family 'lruDrain': lru_add_drain() of the per-CPU LRU batch (boot({ rules: { lruBatchRef: true } }))
  | { op: 'lruDrain' };

export type OpName = Op['op'];

export const FAMILIES = {
  mm: ['mmap', 'munmap', 'dontneed', 'populate', 'mprotect', 'madvise', 'access', 'touch', 'fork', 'exit',
    'pwrite', 'pread', 'truncate', 'writeback'],
  gup: ['gup', 'release'],
  dma: ['dma'],
  mmapBase: ['mmapAt'],
  hugetlbHint: ['hugetlbHint'],
  gupStart: ['gupStart'],
  gupCount: ['mmapHuge', 'gupCount'],
  hugeOffset: ['pwriteFar', 'preadFar', 'truncateFar', 'mmapFar'],
  putFree: ['putFree'],
  putInUse: ['putAny'],
  unpinBatch: ['unpinDup'],
  deadMm: ['gupDead'],
  hugetlbfs: ['hfsMmap', 'hfsTruncate'],
  notifier: ['notifierInsert', 'notifierRemove', 'hmm'],
  mlock: ['mlock', 'munlock', 'mlockall', 'munlockall', 'mmapLocked'],
  memlock: ['setrlimit', 'spawnCred', 'charge'],
  odirect: ['dio'],
  io_uring: ['uringSetup', 'uringRegister', 'uringUnregister', 'uringClose', 'uringRw', 'uringSettle'],
  rdma: ['rdmaReg', 'rdmaDereg', 'rdmaClose', 'rdmaRemote', 'mmap', 'munmap', 'access', 'fork', 'exit'],
  mirror: ['mirrorOpen', 'mirrorAccess', 'mirrorRange', 'mirrorClose'],
  vfio: ['vfioOpen', 'vfioMap', 'vfioUnmap', 'vfioDma', 'vfioClose'],
  pipe: ['pipeOpen', 'pipeSplice', 'pipeRead', 'pipeClose'],
  contig: ['cmaAlloc', 'cmaRelease', 'offline', 'online'],
  lruDrain: ['lruDrain'],
} as const satisfies Record<string, readonly OpName[]>;

export type Family = keyof typeof FAMILIES;
export const ALL_FAMILIES = Object.keys(FAMILIES) as Family[];

// GUP calls the fuzz makes: [function, gup_flags, takes pins (else FOLL_GET references)].
export type GupFn = 'pin_user_pages' | 'pin_user_pages_fast' | 'get_user_pages_fast' | 'get_user_pages_fast_only'
  | 'pin_user_pages_remote' | 'get_user_pages' | 'get_user_pages_remote' | 'pin_user_pages_unlocked';
export const GUP_CALLS: [GupFn, number, boolean][] = [
  ['pin_user_pages', C.FOLL_WRITE, true],
  ['pin_user_pages', 0, true],
  ['pin_user_pages_fast', C.FOLL_WRITE | C.FOLL_LONGTERM, true],
  ['pin_user_pages', C.FOLL_LONGTERM, true],
  ['pin_user_pages_remote', C.FOLL_WRITE | C.FOLL_LONGTERM, true],
  ['pin_user_pages_fast', 0, true],
  ['get_user_pages_fast', C.FOLL_WRITE, false],
  ['get_user_pages_fast_only', 0, false],
  ['get_user_pages', C.FOLL_FORCE | C.FOLL_WRITE, false],
  ['pin_user_pages_fast', C.FOLL_WRITE, true],
  ['get_user_pages_remote', 0, false],
  ['pin_user_pages_unlocked', C.FOLL_WRITE, true],
];

// gupStart's starts and gupCount's counts: what C's unsigned long and int make of odd values.
export const WILD_STARTS = [-1, -4096, -(2 ** 31) * 4096, 2 ** 47 - 4096, 2 ** 47, 2 ** 48, 2 ** 53 - 4096, 2 ** 63, 2 ** 64 - 4096];
export const WILD_COUNTS = [-1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 33, 0, 1, 3];

// RLIMIT_MEMLOCK values the memlock family sets: zero, under a page, a few
// pages, the old and new defaults, RLIM_INFINITY.
export const MEMLOCK_LIMITS = [0, 4095, 16 * 4096, 64 * 1024, 1 << 20, 8 << 20, Infinity];

const nat = (max: number) => fc.nat({ max });
const task = nat(7);
const where = { task, vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 700 }) };

type Weighted = { arbitrary: fc.Arbitrary<Op>; weight: number };
const ARBS: Record<Family, Weighted[]> = {
  mm: [
    { arbitrary: fc.record({ op: fc.constant('mmap' as const), task, kind: nat(6), pages: fc.integer({ min: 1, max: 1100 }), prot: fc.constantFrom(0, 1, 2, 2, 2, 3), populate: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constantFrom('munmap' as const, 'dontneed' as const, 'populate' as const), ...where }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('mprotect' as const), ...where, prot: nat(3) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('madvise' as const), ...where, advice: fc.constantFrom(C.MADV_DONTFORK, C.MADV_DOFORK, C.MADV_HUGEPAGE, C.MADV_NOHUGEPAGE) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('access' as const), task, vma: nat(15), off: nat(1100), write: fc.boolean(), word: fc.nat() }), weight: 8 },
    { arbitrary: fc.record({ op: fc.constant('touch' as const), ...where, write: fc.boolean() }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constantFrom('fork' as const, 'exit' as const), task }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('pwrite' as const), task, file: nat(1), page: nat(80), word: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('pread' as const), task, file: nat(2), page: nat(80) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('truncate' as const), task, file: nat(1), pages: nat(80) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('writeback' as const) }), weight: 1 },
  ],
  gup: [
    // a quarter of them one page per call, the common single-page DMA
    { arbitrary: fc.record({ op: fc.constant('gup' as const), ...where, pages: fc.oneof({ arbitrary: fc.constant(1), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 80 }), weight: 3 }), kind: nat(GUP_CALLS.length - 1) }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('release' as const), held: nat(20), dirty: fc.boolean() }), weight: 2 },
  ],
  dma: [{ arbitrary: fc.record({ op: fc.constant('dma' as const), held: nat(20), entry: nat(80), word: fc.nat() }), weight: 2 }],
  mmapBase: [{ arbitrary: fc.record({ op: fc.constant('mmapAt' as const), task, at: fc.integer({ min: -600, max: 8 }), pages: fc.integer({ min: 1, max: 600 }), fixed: nat(2) }), weight: 2 }],
  hugetlbHint: [{ arbitrary: fc.record({ op: fc.constant('hugetlbHint' as const), task, hint: nat(1023), huge: fc.integer({ min: 1, max: 2 }), shared: fc.boolean() }), weight: 1 }],
  gupStart: [{ arbitrary: fc.record({ op: fc.constant('gupStart' as const), task, fn: nat(GUP_CALLS.length - 1), start: nat(WILD_STARTS.length - 1), count: fc.integer({ min: 1, max: 4 }) }), weight: 2 }],
  gupCount: [
    { arbitrary: fc.record({ op: fc.constant('mmapHuge' as const), task, log2: fc.integer({ min: 33, max: 45 }) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('gupCount' as const), task, fn: nat(GUP_CALLS.length - 1), count: nat(WILD_COUNTS.length - 1), vma: nat(1), nullPages: fc.boolean() }), weight: 3 },
  ],
  hugeOffset: [
    { arbitrary: fc.record({ op: fc.constantFrom('pwriteFar' as const, 'preadFar' as const), task, file: nat(1), log2: fc.integer({ min: 43, max: 56 }), word: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('truncateFar' as const), task, file: nat(1), log2: fc.integer({ min: 31, max: 42 }) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('mmapFar' as const), task, log2: fc.integer({ min: 31, max: 44 }) }), weight: 1 },
  ],
  putFree: [{ arbitrary: fc.record({ op: fc.constant('putFree' as const), fn: nat(3), target: fc.constant(0), pick: fc.nat(), task, vma: fc.constant(0), off: fc.constant(0), n: fc.integer({ min: 1, max: 4 }) }), weight: 1 }],
  putInUse: [{ arbitrary: fc.record({ op: fc.constant('putAny' as const), fn: nat(3), target: fc.integer({ min: 1, max: 5 }), pick: fc.nat(), task, vma: nat(15), off: nat(1100), n: fc.integer({ min: 1, max: 4 }) }), weight: 2 }],
  unpinBatch: [{ arbitrary: fc.record({ op: fc.constant('unpinDup' as const), task, extra: fc.integer({ min: 1, max: 3 }) }), weight: 1 }],
  deadMm: [{ arbitrary: fc.record({ op: fc.constant('gupDead' as const), dead: nat(7), fn: nat(GUP_CALLS.length - 1), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 16 }) }), weight: 1 }],
  hugetlbfs: [
    { arbitrary: fc.record({ op: fc.constant('hfsMmap' as const), task, shared: fc.boolean(), huge: fc.integer({ min: 1, max: 2 }), prot: fc.constantFrom(1, 3, 3) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('hfsTruncate' as const), task, huge: nat(2) }), weight: 1 },
  ],
  notifier: [
    { arbitrary: fc.record({ op: fc.constant('notifierInsert' as const), ...where }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('notifierRemove' as const), pick: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('hmm' as const), task, pick: fc.nat(), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 300 }), req: nat(3) }), weight: 3 },
  ],
  mlock: [
    { arbitrary: fc.record({ op: fc.constant('mlock' as const), ...where, onfault: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('munlock' as const), ...where }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('mlockall' as const), task, flags: nat(7) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('munlockall' as const), task }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('mmapLocked' as const), task, kind: nat(6), pages: fc.integer({ min: 1, max: 600 }), prot: fc.constantFrom(0, 1, 2, 2) }), weight: 2 },
  ],
  memlock: [
    { arbitrary: fc.record({ op: fc.constant('setrlimit' as const), task, soft: nat(MEMLOCK_LIMITS.length - 1), hard: nat(MEMLOCK_LIMITS.length - 1) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('spawnCred' as const), uid: nat(2), caps: nat(3), memlock: nat(MEMLOCK_LIMITS.length - 1) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('charge' as const), task, dead: nat(8), counter: nat(2), pages: nat(600), inc: fc.boolean(), check: fc.boolean() }), weight: 3 },
  ],
  odirect: [{
    arbitrary: fc.record({
      op: fc.constant('dio' as const), task, file: fc.constantFrom(0, 0, 0, 1, 2), direct: fc.boolean(), write: fc.boolean(), vma: nat(15),
      off: nat(1100), sub: nat(8), odd: fc.boolean(), pos: nat(70), posSub: fc.constantFrom(0, 0, 1, 4), blocks: fc.integer({ min: 1, max: 24 }),
      segs: fc.integer({ min: 1, max: 3 }), async: fc.boolean(), wbMid: fc.boolean(),
    }),
    weight: 3,
  }],
  io_uring: [
    { arbitrary: fc.record({ op: fc.constant('uringSetup' as const), task }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('uringRegister' as const), pick: nat(7), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 700 }), n: fc.integer({ min: 1, max: 4 }), odd: fc.boolean() }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constantFrom('uringUnregister' as const, 'uringClose' as const), pick: nat(7) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('uringRw' as const), pick: nat(7), write: fc.boolean(), buf: nat(3), off: nat(600), pages: fc.integer({ min: 1, max: 8 }), file: nat(1), fpage: nat(70) }), weight: 5 },
    { arbitrary: fc.record({ op: fc.constant('uringSettle' as const) }), weight: 4 },
  ],
  rdma: [
    { arbitrary: fc.record({ op: fc.constant('rdmaReg' as const), ...where, pages: fc.integer({ min: 0, max: 40 }), byte: nat(4095), access: nat(4), odp: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('rdmaDereg' as const), pick: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('rdmaClose' as const), task }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('rdmaRemote' as const), pick: fc.nat(), off: fc.nat(), write: fc.boolean(), word: fc.nat() }), weight: 5 },
    { arbitrary: fc.record({ op: fc.constant('mmap' as const), task, kind: nat(6), pages: fc.integer({ min: 1, max: 600 }), prot: fc.constantFrom(1, 2, 2, 2), populate: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('munmap' as const), ...where, pages: fc.integer({ min: 1, max: 40 }) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('access' as const), task, vma: nat(15), off: nat(1100), write: fc.boolean(), word: fc.nat() }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constantFrom('fork' as const, 'exit' as const), task }), weight: 1 },
  ],
  mirror: [
    { arbitrary: fc.record({ op: fc.constant('mirrorOpen' as const), task }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('mirrorAccess' as const), pick: fc.nat(), vma: nat(15), off: nat(1100), write: fc.boolean(), word: fc.nat() }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('mirrorRange' as const), pick: fc.nat(), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 64 }), snapshot: fc.boolean() }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('mirrorClose' as const), pick: fc.nat() }), weight: 1 },
  ],
  vfio: [
    { arbitrary: fc.record({ op: fc.constant('vfioOpen' as const), task, v2: fc.boolean() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('vfioMap' as const), task, c: nat(3), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 64 }), slot: nat(15), write: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('vfioUnmap' as const), task, c: nat(3), slot: nat(15), pages: fc.integer({ min: 1, max: 200 }), all: fc.boolean() }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('vfioDma' as const), c: nat(3), slot: nat(15), off: nat(63), write: fc.boolean(), word: fc.nat() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('vfioClose' as const), task, c: nat(3) }), weight: 1 },
  ],
  pipe: [
    { arbitrary: fc.record({ op: fc.constant('pipeOpen' as const), task }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('pipeSplice' as const), task, pick: nat(7), vma: nat(15), off: nat(1100), byte: nat(4095), pages: fc.integer({ min: 1, max: 24 }), gift: fc.boolean() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('pipeRead' as const), task, pick: nat(7), len: nat(20 * 4096) }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('pipeClose' as const), task, pick: nat(7) }), weight: 1 },
  ],
  contig: [
    { arbitrary: fc.record({ op: fc.constant('cmaAlloc' as const), count: fc.integer({ min: 0, max: 2100 }), align: nat(10) }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('cmaRelease' as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constantFrom('offline' as const, 'online' as const), at: nat(3) }), weight: 1 },
  ],
  lruDrain: [{ arbitrary: fc.record({ op: fc.constant('lruDrain' as const) }), weight: 1 }],
};
// io_uring's ops meet the memory changing under the buffers: mmap, munmap/dontneed/populate, access, fork/exit.
ARBS.io_uring.push(ARBS.mm[0]!, ARBS.mm[1]!, ARBS.mm[4]!, ARBS.mm[6]!);
// and so do the pipes' page references (a write after fork meeting a reference is CVE-2020-29374's case).
ARBS.pipe.push(ARBS.mm[0]!, ARBS.mm[1]!, ARBS.mm[4]!, ARBS.mm[6]!);

// Random op sequences drawing only from the given families.
export function opsArb(families: readonly Family[], maxLength = 80): fc.Arbitrary<Op[]> {
  const op = fc.oneof(...families.flatMap((f) => ARBS[f]));
  return fc.array(op, { minLength: 1, maxLength, size: 'max' });
}

// The family an op belongs to.
export function familyOf(o: Op): Family {
  return ALL_FAMILIES.find((f) => (FAMILIES[f] as readonly string[]).includes(o.op))!;
}
