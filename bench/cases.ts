// The benchmark cases. Each case boots one machine per core with identical
// options, sets it up identically (seeded where random), and exposes:
//   - setup: a JSON-comparable summary of the setup (addresses, sample pfns),
//   - once(mark): one run of the operation, calling mark(step, result) after
//     each step so that the harness can compare results and k.digest() of
//     the two cores step by step,
//   - timed: the functions tinybench times, one per metric, with untimed
//     beforeEach/afterEach hooks that put the machine back in the state the
//     timed function expects.
// Sizes come from the config: full runs use 1 GiB regions, --smoke tiny ones.
import { boot, constants as C, type BootOptions, type Kernel, type PageArray, type Task, type WasmSource } from '../src/index';
import { Hash, Rng } from './util';
import { mlockCase } from './mlock-case';
import { cmaAllocCase } from './cma-alloc-case';
import { odirectCase } from './odirect-case';
import { ioUringCase } from './io_uring-case';
import { vfioCase } from './vfio-case';
import { notifierCase, hmmCase } from './notifier-cases';
import { rdmaCases } from './rdma-case';
import { hmmMirrorCase } from './hmm-mirror-case';
import { pipeCase } from './pipe-case';

export type Backend = 'wasm' | 'ts';
export type Unit = 'ns/page' | 'ns/frame' | 'ms/op' | 'ops/s';

export interface SuiteConfig {
  smoke: boolean; // tiny sizes, one verification run, no timing
  wasm: WasmSource; // a build flavour, or (in browsers) the .wasm's URL
}

export interface Timed {
  fn: () => void;
  beforeEach?: () => void;
  afterEach?: () => void;
  per: number; // pages (frames, ops) per call of fn, to derive ns/page or ops/s
}

export interface Instance {
  k: Kernel;
  setup: unknown;
  once(mark: (step: string, result: unknown) => void): void;
  timed: Record<string, Timed>;
  // After timing: throws if an invariant broke (pins leaked, …).
  check(): void;
  note?: string; // shown under the table (e.g. which scan implementation ran)
}

export interface MetricDef {
  id: string; // 'get', 'put', …
  unit: Unit;
  what: string; // what one timed call is
  ref?: string; // kernel reference, as text
}

export interface BenchBudget {
  time: number; // ms per task (tinybench `time`)
  iterations: number; // minimum iterations per task
  warmupTime: number;
  warmupIterations: number;
}

export interface CaseDef {
  id: string;
  title: string;
  metrics: MetricDef[];
  budget: BenchBudget;
  create(backend: Backend, cfg: SuiteConfig): Promise<Instance>;
}

const PAGE = C.PAGE_SIZE;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RW = C.PROT_READ | C.PROT_WRITE;
const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS;
const LONGTERM_W = C.FOLL_WRITE | C.FOLL_LONGTERM;

function bootFor(backend: Backend, cfg: SuiteConfig, opts: BootOptions): Promise<Kernel> {
  return boot({ ...opts, backend, wasm: cfg.wasm });
}

function fail(msg: string): never {
  throw new Error(`bench: ${msg}`);
}

// Pins held at rest must balance: nothing the case pinned may stay pinned
// unless the case holds it on purpose (`held` pages).
function checkBalanced(k: Kernel, held = 0): void {
  const s = k.vmstat();
  if (s.nr_foll_pin_acquired - s.nr_foll_pin_released !== held) {
    fail(`${k.backend}: nr_foll_pin_acquired ${s.nr_foll_pin_acquired} - released ${s.nr_foll_pin_released} != ${held}`);
  }
}

// ---- cases 1 and 2: pin + unpin of a pre-faulted 1 GiB region ----

type PinKind = '4k' | '4k-slow' | 'thp' | 'thp-slow' | 'hugetlb-2m' | 'hugetlb-2m-slow' | 'hugetlb-1g';
type Batch = 1 | 512 | 1024 | 'all';

const KIND_TITLE: Record<PinKind, string> = {
  '4k': '4 KiB pages, pin_user_pages_fast',
  '4k-slow': '4 KiB pages, pin_user_pages (slow path, as gup_test -L)',
  'thp-slow': 'THP, pin_user_pages (slow path, as gup_test -L)',
  'hugetlb-2m-slow': 'hugetlb 2 MiB, pin_user_pages (slow path, as gup_test -L)',
  thp: 'THP (PMD-mapped 2 MiB folios), pin_user_pages_fast',
  'hugetlb-2m': 'hugetlb 2 MiB, pin_user_pages_fast',
  'hugetlb-1g': 'hugetlb 1 GiB, pin_user_pages_fast',
};

// Kernel references (from the issue): ns/page unless said otherwise.
// gup_test's PIN_LONGTERM_BENCHMARK (-L) calls pin_user_pages() (the slow
// path, under mmap_lock) with FOLL_LONGTERM, and unpins the whole array in
// one unpin_user_pages() call.
const REFS: Partial<Record<string, { get?: string; put?: string }>> = {
  '4k:1': { get: '540/call (RISC-V); 9,500 (Arm FVP)' },
  '4k:512': { get: '62 (-L: slow path)', put: '15' },
  '4k-slow:512': { get: '62', put: '15' },
  'thp:512': { get: '2.9 (-L)', put: '5.5' },
  'thp-slow:1024': { get: '2.9', put: '5.5' },
  'hugetlb-2m:512': { get: '2.3 (-L)', put: '5' },
  'hugetlb-2m-slow:512': { get: '2.3', put: '5' },
  'hugetlb-1g:512': { get: '1.4' },
};

// track: the same loops on a machine booted with pin provenance on (the
// cost of boot({ track: true }); issue 12 allows at most 2x).
function pinCase(kind: PinKind, batch: Batch, track = false): CaseDef {
  const b = batch === 'all' ? 'all' : String(batch);
  const refs = REFS[`${kind}:${b}`] ?? {};
  const slowBatch1 = batch === 1; // 262,144 calls per direction per iteration: fewer iterations
  const per = batch === 'all' ? 'the whole range in one call' : `${batch} page${batch === 1 ? '' : 's'} per call`;
  return {
    id: `${kind}/${b}${track ? '-track' : ''}`,
    title: `${KIND_TITLE[kind]}, FOLL_WRITE|FOLL_LONGTERM, ${per}${track ? ', track: true' : ''}`,
    metrics: [
      {
        id: 'get', unit: 'ns/page', ref: refs.get,
        what: 'the pin loop over the whole region in the row\'s batch size (1, 512 pages per call, or all in one call), '
          + 'holding every pin; the unpin loop runs untimed (afterEach)',
      },
      {
        id: 'put', unit: 'ns/page', ref: refs.put,
        what: 'the unpin_user_pages() loop over the same batches; the pin loop runs untimed (beforeEach)',
      },
    ],
    budget: slowBatch1
      ? { time: 600, iterations: 4, warmupTime: 0, warmupIterations: 1 }
      : { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const region = kind === 'hugetlb-1g' ? GiB : cfg.smoke ? 4 * MiB : GiB;
      const span = cfg.smoke ? (4 * MiB) / PAGE : region / PAGE; // pages pinned per iteration
      const opts: BootOptions = { memory: cfg.smoke && kind !== 'hugetlb-1g' ? '64MiB' : '2GiB', thp: 'never', track };
      let flags = ANON;
      const pages = kind.replace(/-slow$/, ''); // what the region is made of
      if (pages === 'thp') opts.thp = 'always';
      if (pages === 'hugetlb-2m') {
        opts.hugepages = { '2MiB': region / (2 * MiB) };
        flags |= C.MAP_HUGETLB | C.MAP_HUGE_2MB;
      }
      if (kind === 'hugetlb-1g') {
        opts.hugepages = { '1GiB': 1 };
        flags |= C.MAP_HUGETLB | C.MAP_HUGE_1GB;
      }
      const k = await bootFor(backend, cfg, opts);
      const t = k.spawn();
      const base = t.mmap({ length: region, prot: RW, flags });
      t.touch(base, region, { write: true });
      const head = k.page(t.translate(base)!);
      const wantOrder = pages === '4k' ? 0 : pages === 'hugetlb-1g' ? 18 : 9;
      if (head.order !== wantOrder) fail(`${kind}: the region's first folio has order ${head.order}, expected ${wantOrder}`);

      const B = batch === 'all' ? span : batch;
      const arrays: PageArray[] = [];
      for (let i = 0; i < span / B; i++) arrays.push(k.pageArray(B));
      const pin = kind.endsWith('-slow')
        ? (start: number, pa: PageArray) => k.pin_user_pages(t, start, B, LONGTERM_W, pa)
        : (start: number, pa: PageArray) => k.pin_user_pages_fast(t, start, B, LONGTERM_W, pa);
      const step = B * PAGE;
      const pinAll = () => {
        for (let i = 0; i < arrays.length; i++) {
          const n = pin(base + i * step, arrays[i]);
          if (n !== B) fail(`${kind}: pin returned ${n}, expected ${B}`);
        }
      };
      const unpinAll = () => {
        for (let i = 0; i < arrays.length; i++) k.unpin_user_pages(arrays[i], B);
      };
      return {
        k,
        setup: { base, head: head.pfn, order: head.order, pincount: head.pincount },
        once(mark) {
          const rets = new Hash();
          const pfns = new Hash();
          for (let i = 0; i < arrays.length; i++) {
            rets.add(pin(base + i * step, arrays[i]));
            pfns.addAll(arrays[i].pfns);
          }
          const p = k.page(arrays[0].get(0)!);
          mark('pin', { rets: rets.value, pfns: pfns.value, first: [p.refcount, p.pincount, p.maybeDmaPinned] });
          unpinAll();
          const q = k.page(arrays[0].get(0)!);
          mark('unpin', { first: [q.refcount, q.pincount, q.maybeDmaPinned], vmstat: k.vmstat() });
        },
        timed: {
          get: { fn: pinAll, afterEach: unpinAll, per: span },
          put: { beforeEach: pinAll, fn: unpinAll, per: span },
        },
        check: () => checkBalanced(k),
      };
    },
  };
}

// ---- case 3: populate (fault-in) ----

function populateCase(thp: boolean): CaseDef {
  return {
    id: thp ? 'populate-thp' : 'populate-4k',
    title: `populate 1 GiB: mmap + MADV_POPULATE_WRITE (${thp ? "thp 'always': 2 MiB folios" : "thp 'never': 4 KiB pages"})`,
    metrics: [{ id: 'fault', unit: 'ns/page', what: 'mmap + madvise(MADV_POPULATE_WRITE); munmap untimed (afterEach)' }],
    budget: { time: 600, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const region = cfg.smoke ? 4 * MiB : GiB;
      const k = await bootFor(backend, cfg, { memory: cfg.smoke ? '64MiB' : '2GiB', thp: thp ? 'always' : 'never' });
      const t = k.spawn();
      let addr = -1;
      const populate = () => {
        addr = t.mmap({ length: region, prot: RW, flags: ANON });
        t.madvise(addr, region, C.MADV_POPULATE_WRITE);
      };
      const unmap = () => t.munmap(addr, region);
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          populate();
          const p = k.page(t.translate(addr)!);
          const last = t.translate(addr + region - PAGE);
          mark('populate', { addr, first: p.pfn, order: p.order, last, meminfo: k.meminfo() });
          unmap();
          mark('munmap', k.meminfo());
        },
        timed: { fault: { fn: populate, afterEach: unmap, per: region / PAGE } },
        check: () => {
          if (t.maps().length !== 0) fail('populate: a mapping was left behind');
        },
      };
    },
  };
}

// ---- case 4: fork of a populated region with 1 in 64 pages pinned ----

function forkCase(): CaseDef {
  return {
    id: 'fork',
    title: "fork of a populated 1 GiB region (4 KiB pages), 1 in 64 pages pinned (FOLL_LONGTERM), then child exit",
    metrics: [
      { id: 'fork', unit: 'ms/op', what: 't.fork(); the pinned pages are copied into the child (exit untimed)' },
      { id: 'exit', unit: 'ms/op', what: 'child.exit() of that fork (fork untimed)' },
    ],
    budget: { time: 800, iterations: 6, warmupTime: 100, warmupIterations: 1 },
    async create(backend, cfg) {
      const region = cfg.smoke ? 4 * MiB : GiB;
      const k = await bootFor(backend, cfg, { memory: cfg.smoke ? '64MiB' : '2GiB', thp: 'never' });
      const t = k.spawn();
      const base = t.mmap({ length: region, prot: RW, flags: ANON });
      t.touch(base, region, { write: true });
      const nPinned = region / PAGE / 64;
      const pinned: PageArray[] = [];
      const rets = new Hash();
      for (let i = 0; i < nPinned; i++) {
        const pa = k.pageArray(1);
        rets.add(k.pin_user_pages_fast(t, base + i * 64 * PAGE, 1, LONGTERM_W, pa));
        pinned.push(pa);
      }
      let child: Task | null = null;
      const fork = () => { child = t.fork(); };
      const exit = () => { child!.exit(); child = null; };
      return {
        k,
        setup: { base, rets: rets.value },
        once(mark) {
          fork();
          const h = new Hash();
          // A pinned page (copied at fork) and its unpinned neighbour (shared COW), in a sample of slots.
          for (let i = 0; i < nPinned; i += 7) {
            h.add(child!.translate(base + i * 64 * PAGE)).add(child!.translate(base + (i * 64 + 1) * PAGE));
          }
          mark('fork', { child: h.value, pid: child!.pid });
          exit();
          mark('exit', { tasks: k.tasks.length });
        },
        timed: {
          fork: { fn: fork, afterEach: exit, per: 1 },
          exit: { beforeEach: fork, fn: exit, per: 1 },
        },
        check: () => checkBalanced(k, nPinned),
      };
    },
  };
}

// ---- case 5: FOLL_LONGTERM pin of CMA-resident pages (migrate, then pin) ----

function cmaCase(): CaseDef {
  return {
    id: 'cma-longterm',
    title: 'FOLL_LONGTERM pin of 256 MiB of CMA-resident anon pages (migration out of CMA, then pin), one call',
    metrics: [{
      id: 'pin', unit: 'ns/page',
      what: 'pin_user_pages_fast(FOLL_WRITE|FOLL_LONGTERM) incl. migration; mmap+touch (beforeEach) and unpin+munmap (afterEach) untimed',
    }],
    budget: { time: 800, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      // CMA is allocated from first while it holds more than half of
      // ZONE_NORMAL's free pages: 1.5 GiB of CMA in 2 GiB keeps that true
      // for a 256 MiB region (smoke: 40 of 64 MiB, 4 MiB region).
      const region = cfg.smoke ? 4 * MiB : 256 * MiB;
      const k = await bootFor(backend, cfg, {
        memory: cfg.smoke ? '64MiB' : '2GiB', cma: cfg.smoke ? '40MiB' : '1536MiB', thp: 'never',
      });
      const t = k.spawn();
      const n = region / PAGE;
      const pa = k.pageArray(n);
      let addr = -1;
      const inCma = (pfn: number) => k.v.migratetype[pfn >>> C.PAGEBLOCK_ORDER] === C.MIGRATE_CMA;
      const make = () => {
        addr = t.mmap({ length: region, prot: RW, flags: ANON });
        t.touch(addr, region, { write: true });
      };
      const pin = () => {
        const r = k.pin_user_pages_fast(t, addr, n, LONGTERM_W, pa);
        if (r !== n) fail(`cma: pin returned ${r}, expected ${n}`);
      };
      const release = () => {
        k.unpin_user_pages(pa, n);
        t.munmap(addr, region);
      };
      return {
        k,
        setup: k.meminfo(),
        once(mark) {
          make();
          const before = [t.translate(addr)!, t.translate(addr + region - PAGE)!];
          if (!before.every(inCma)) fail(`cma: the fresh region is not in CMA (pfns ${before})`);
          mark('populate', { addr, before });
          const r = k.pin_user_pages_fast(t, addr, n, LONGTERM_W, pa);
          const pfns = pa.pfns;
          let cma = 0;
          for (let i = 0; i < pfns.length; i++) if (inCma(pfns[i])) cma++;
          if (cma) fail(`cma: ${cma} pages are still in CMA after a FOLL_LONGTERM pin`);
          mark('pin', { r, pfns: new Hash().addAll(pfns).value, migrated: k.vmstat().pgmigrate_success });
          release();
          mark('release', k.meminfo());
        },
        timed: { pin: { beforeEach: make, fn: pin, afterEach: release, per: n } },
        check: () => checkBalanced(k),
      };
    },
  };
}

// ---- case 6: a random mixed workload ----

function mixedCase(): CaseDef {
  return {
    id: 'mixed',
    title: 'random mix (seeded): DIO-style pin_user_pages_fast/unpin of 1-16 pages, writes, munmap+mmap, fork+exit',
    metrics: [{ id: 'ops', unit: 'ops/s', what: 'a chunk of operations (≈70% pin, 14% write, 10% munmap+mmap, 3% unpin-all, 3% fork+exit)' }],
    budget: { time: 1500, iterations: 8, warmupTime: 200, warmupIterations: 2 },
    async create(backend, cfg) {
      const SLOTS = cfg.smoke ? 8 : 32;
      const CHUNK = cfg.smoke ? 300 : 2000; // operations per timed call
      const MAXPIN = 16;
      const INFLIGHT = 8;
      const k = await bootFor(backend, cfg, { memory: cfg.smoke ? '64MiB' : '1GiB', thp: 'always' });
      const t = k.spawn();
      const rng = new Rng(0x9e3779b9);
      const h = new Hash();
      // 1..128 pages, and now and then 2 MiB (a THP candidate).
      const size = () => (rng.below(8) === 0 ? 512 : 1 + rng.below(128));
      const slots: { addr: number; pages: number }[] = [];
      const map = (pages: number) => {
        const addr = t.mmap({ length: pages * PAGE, prot: RW, flags: ANON });
        h.add(addr);
        return { addr, pages };
      };
      for (let i = 0; i < SLOTS; i++) slots.push(map(size()));
      const pool: PageArray[] = [];
      for (let i = 0; i < INFLIGHT + 1; i++) pool.push(k.pageArray(MAXPIN));
      const inflight: { pa: PageArray; n: number }[] = [];
      const complete = () => {
        const io = inflight.shift()!;
        k.unpin_user_pages_dirty_lock(io.pa, io.n, true); // the device wrote into them
        pool.push(io.pa);
      };
      const op = () => {
        const r = rng.below(100);
        const s = slots[rng.below(SLOTS)];
        if (r < 70) {
          const off = rng.below(s.pages);
          const n = 1 + rng.below(Math.min(MAXPIN, s.pages - off));
          const flags = rng.below(4) === 0 ? 0 : C.FOLL_WRITE; // DIO write (device reads) or read
          const pa = pool.pop()!;
          const got = k.pin_user_pages_fast(t, s.addr + off * PAGE, n, flags, pa);
          h.add(got);
          for (let i = 0; i < got; i++) h.add(pa.pfns[i]);
          if (got > 0) inflight.push({ pa, n: got });
          else pool.push(pa);
          if (inflight.length > INFLIGHT) complete();
        } else if (r < 84) {
          t.write(s.addr + rng.below(s.pages) * PAGE, rng.u32());
        } else if (r < 94) {
          // munmap while DIO may be in flight: pinned frames stay until unpinned.
          const i = slots.indexOf(s);
          t.munmap(s.addr, s.pages * PAGE);
          slots[i] = map(size());
        } else if (r < 97) {
          while (inflight.length) complete();
        } else {
          const c = t.fork();
          const cs = slots[rng.below(SLOTS)];
          c.write(cs.addr + rng.below(cs.pages) * PAGE, rng.u32()); // COW in the child
          h.add(c.translate(cs.addr));
          c.exit();
        }
      };
      const chunk = () => {
        for (let i = 0; i < CHUNK; i++) op();
      };
      return {
        k,
        setup: { slots: slots.map((s) => s.addr), h: h.value },
        once(mark) {
          chunk();
          mark('chunk', { h: h.value, inflight: inflight.length, vmstat: k.vmstat() });
        },
        timed: { ops: { fn: chunk, per: CHUNK } },
        check: () => {
          while (inflight.length) complete();
          checkBalanced(k);
        },
      };
    },
  };
}

// ---- case 7: scan all frames for maybe-DMA-pinned folios ----

// PLACEHOLDER: the scan written in JS over the public views, so both
// "cores" run the same JS here and only memory (Wasm linear memory vs JS
// typed arrays) differs. It mirrors folio_maybe_dma_pinned(): large folios
// by _pincount (page[1].index), small ones by refcount >= the bias (or
// overflowed), and skips free buddy blocks and tail pages.
export function scanViewsMaybePinned(k: Kernel): { folios: number; pages: number } {
  const { flags, refcount, index } = k.v;
  const n = k.nrFrames;
  let folios = 0;
  let pages = 0;
  for (let pfn = 0; pfn < n;) {
    const f = flags[pfn];
    if (f & (C.PG_head | C.PG_buddy)) {
      const nr = 1 << ((f & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT);
      if (f & C.PG_head && index[pfn + 1] > 0) {
        folios++;
        pages += nr;
      }
      pfn += nr;
      continue;
    }
    if (!(f & C.PG_tail)) {
      const rc = refcount[pfn];
      if (rc < 0 || rc >= C.GUP_PIN_COUNTING_BIAS) {
        folios++;
        pages++;
      }
    }
    pfn++;
  }
  return { folios, pages };
}

// The reference answer, one folio_maybe_dma_pinned() call per folio head:
// too slow to time, used to validate the placeholder in --smoke.
function scanPerCall(k: Kernel): { folios: number; pages: number } {
  let folios = 0;
  let pages = 0;
  for (let pfn = 0; pfn < k.nrFrames; pfn++) {
    if (k.v.head[pfn] !== pfn || k.v.flags[pfn] & C.PG_buddy || k.v.refcount[pfn] === 0) continue;
    if (k.folio_maybe_dma_pinned(pfn)) {
      folios++;
      pages += k.v.flags[pfn] & C.PG_head ? 1 << ((k.v.flags[pfn] & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT) : 1;
    }
  }
  return { folios, pages };
}

type CoreScan = () => number;

function scanCase(): CaseDef {
  return {
    id: 'scan',
    title: 'scan all frames of a 2 GiB machine for maybe-DMA-pinned folios (1 GiB in use: half THP, half 4 KiB; 1 in 64 pages pinned)',
    metrics: [{
      id: 'scan', unit: 'ns/frame',
      what: "one scan of every frame: the core's scan_maybe_pinned() if it has one, else a JS placeholder over k.v views",
    }],
    budget: { time: 500, iterations: 8, warmupTime: 100, warmupIterations: 2 },
    async create(backend, cfg) {
      const half = cfg.smoke ? 4 * MiB : 512 * MiB;
      const k = await bootFor(backend, cfg, { memory: cfg.smoke ? '64MiB' : '2GiB', thp: 'always' });
      const t = k.spawn();
      const small = t.mmap({ length: half, prot: RW, flags: ANON });
      t.madvise(small, half, C.MADV_NOHUGEPAGE);
      const huge = t.mmap({ length: half, prot: RW, flags: ANON });
      t.touch(small, half, { write: true });
      t.touch(huge, half, { write: true });
      const pa = k.pageArray(1);
      let pinnedPages = 0;
      for (const base of [small, huge]) {
        for (let off = 0; off < half; off += 64 * PAGE) {
          pinnedPages += k.pin_user_pages_fast(t, base + off, 1, LONGTERM_W, pa);
        }
      }
      // Prefer the core's scan (added to assembly/inspect.ts as
      // scan_maybe_pinned(): the number of folios folio_maybe_dma_pinned()
      // reports); checked at run time so that the suite also runs on a core
      // without it.
      const scanFn = (k.core as unknown as { scan_maybe_pinned?: CoreScan }).scan_maybe_pinned;
      const coreScan = typeof scanFn === 'function';
      let last: unknown = null;
      const scan = coreScan
        ? () => { last = scanFn.call(k.core); }
        : () => { last = scanViewsMaybePinned(k); };
      const views = scanViewsMaybePinned(k);
      return {
        k,
        setup: { small, huge, pinnedPages, coreScan, order: k.page(t.translate(huge)!).order },
        once(mark) {
          scan();
          const result: Record<string, unknown> = { scan: last, views };
          if (coreScan && last !== views.folios) {
            fail(`scan: the core's scan_maybe_pinned() says ${String(last)} folios, the view scan ${views.folios}`);
          }
          if (cfg.smoke) {
            const ref = scanPerCall(k);
            if (ref.folios !== views.folios || ref.pages !== views.pages) {
              fail(`scan: the view scan says ${JSON.stringify(views)}, folio_maybe_dma_pinned() per folio ${JSON.stringify(ref)}`);
            }
            result.ref = ref;
          }
          mark('scan', result);
        },
        timed: { scan: { fn: scan, per: k.nrFrames } },
        check: () => checkBalanced(k, pinnedPages),
        get note() {
          return coreScan
            ? `scan: uses the core's scan_maybe_pinned() (${String(last)} maybe-pinned folios; the view scan agrees: `
              + `${views.folios} folios, ${views.pages} pages)`
            : 'scan: PLACEHOLDER: the core has no scan_maybe_pinned() yet; timed a JS loop over the k.v views (the same JS on both cores)';
        },
      };
    },
  };
}

// ---- the suite ----

export function allCases(): CaseDef[] {
  const pins: CaseDef[] = [];
  for (const kind of ['4k', 'thp', 'hugetlb-2m'] as const) {
    for (const batch of [1, 512, 'all'] as const) pins.push(pinCase(kind, batch));
  }
  return [
    ...pins.slice(0, 3),
    pinCase('4k', 512, true),
    pinCase('4k-slow', 512),
    ...pins.slice(3, 6),
    pinCase('thp-slow', 1024),
    ...pins.slice(6),
    pinCase('hugetlb-2m-slow', 512),
    pinCase('hugetlb-1g', 512),
    populateCase(false),
    populateCase(true),
    mlockCase(),
    vfioCase('4k'),
    vfioCase('hugetlb-2m'),
    forkCase(),
    cmaCase(),
    cmaAllocCase(),
    mixedCase(),
    scanCase(),
    notifierCase(),
    hmmCase(),
    odirectCase(),
    ioUringCase(),
    ...rdmaCases(),
    hmmMirrorCase(),
    pipeCase(),
  ];
}
