// One machine under test: a kernel, the files and pins the fuzz holds, the
// contents model, and run(op). Every check that one machine can make on
// itself is here (the lockstep runner compares the two machines).
import * as C from '../assembly/constants';
import {
  boot, SyscallError, PipeEnd, type VfioContainer, type Kernel, type Task, type SimFile, type PageArray, type Mm, type SpawnOptions, type KernelName, type KernelRules,
} from '../src/index';
import { MMAP_BASE } from '../src/mm/mmap';
import { ContentModel } from './model';
import { Notifiers } from './notifier';
import { Mirrors } from './mirror';
import { GUP_CALLS, WILD_COUNTS, WILD_STARTS, type Op } from './ops';
import { runMemlockOp, checkMemlock } from './memlock';
import { runDio } from './odirect';
import { Rings, type UringOp } from './io_uring';
import { RdmaFuzz } from './rdma';
import { runVfioOp, vfioHeld } from './vfio';
import { runPipeOp, pipeRefs } from './pipe';
import { runContigOp, releaseContig } from './contig';
import { eraChecks, OOPS, type EraChecks } from './era';

const PAGE = C.PAGE_SIZE;
const ZERO_PFN = 0; // the shared zero page
const HPAGE = 2 << 20;
const PROTS = [C.PROT_NONE, C.PROT_READ, C.PROT_READ | C.PROT_WRITE, C.PROT_WRITE];
const FDS = [3, 4, 5]; // disk (ext4), shm (tmpfs), huge (hugetlbfs), open in every task
// GUP calls that may go without a pages array.
const NO_PAGES_CALLS = ['get_user_pages', 'get_user_pages_remote'].map((fn) => GUP_CALLS.findIndex(([f]) => f === fn));

// A machine shape: what boot() gets besides the backend.
// track: boot({ track: true }) (pin provenance), half the runs, so that the
// default, untracked machine keeps being fuzzed too. kernel: the preset
// (default latest); rules: overrides of single rule keys.
export interface Shape {
  thp: 'always' | 'madvise' | 'never'; movable: boolean; cma: boolean; pool: number; track?: boolean;
  kernel?: KernelName; rules?: Partial<KernelRules>;
}
export type Flavour = 'debug' | 'release';

// A broken invariant: what the fuzz reports (with the shrunk ops).
export class FuzzFinding extends Error {
  override name = 'FuzzFinding';
}

export function fail(what: string): never {
  throw new FuzzFinding(what);
}

interface Held { pa: PageArray; n: number; pin: boolean; write: boolean; task: Task; start: number }

// The result of a call: a value, or the error class and code it threw.
type Attempt = { value: unknown } | { code: string };

export function attempt(fn: () => unknown): Attempt {
  try {
    return { value: fn() ?? null };
  } catch (e) {
    // (a pin_*() call on a kernel without them fails with ENOSYS, whatever class carries it)
    if (e instanceof SyscallError || (e instanceof Error && (e as { code?: unknown }).code === 'ENOSYS')) return { code: (e as SyscallError).code };
    if (e instanceof TypeError || e instanceof RangeError) return { code: e.name };
    if (e instanceof FuzzFinding) throw e;
    fail(`core failure (trap or abort): ${String(e)}`);
  }
}

// An op that failed: an error, or a GUP call's negative errno.
function failed(r: Attempt): boolean {
  return 'code' in r || ((r.value as { n?: number } | null)?.n ?? 0) < 0;
}

export class Machine {
  readonly files: SimFile[];
  readonly held: Held[] = [];
  readonly vfio: VfioContainer[] = []; // the vfio family's containers (fuzz/vfio.ts)
  readonly cma: [number, number][] = []; // the contig family's CMA allocations: [pfn, count] (fuzz/contig.ts)
  readonly dead: { task: Task; mm: Mm; maps: { start: number; end: number }[] }[] = [];
  readonly model: ContentModel;
  readonly notifiers: Notifiers;
  readonly rings = new Rings(this);
  readonly rdma: RdmaFuzz;
  readonly mirrors = new Mirrors(this);
  readonly bootFree: number;
  readonly era: EraChecks;
  oops: string | null = null; // the kernel BUG line the machine stopped at
  leakedPins = 0; // pins failed long-term pins left behind (eras with the 6.1–6.11 leak)

  static async boot(backend: 'wasm' | 'ts', flavour: Flavour, s: Shape): Promise<Machine> {
    return new Machine(await boot({
      backend, wasm: flavour, memory: '32MiB', thp: s.thp, hugepages: { '2MiB': s.pool },
      movable: s.movable ? '8MiB' : 0, cma: s.cma ? '8MiB' : 0, track: s.track ?? false, kernel: s.kernel ?? 'latest', rules: s.rules,
    }));
  }

  constructor(readonly k: Kernel) {
    this.bootFree = k.meminfo().MemFree;
    this.era = eraChecks(k.kr);
    this.model = new ContentModel(k);
    this.notifiers = new Notifiers(k);
    this.rdma = new RdmaFuzz(k, this.model);
    this.files = [k.createFile({ fs: 'ext4', size: 64 * PAGE, name: 'disk' }), k.createFile({ fs: 'tmpfs', size: 64 * PAGE, name: 'shm' }),
      k.createFile({ fs: 'hugetlbfs', size: HPAGE, name: 'huge' })];
    this.spawn();
  }

  spawn(opts: SpawnOptions = {}): Task {
    const t = this.k.spawn(opts);
    for (const f of this.files) t.open(f);
    return t;
  }

  task(i: number): Task {
    return this.k.tasks.length === 0 ? this.spawn() : this.k.tasks[i % this.k.tasks.length];
  }

  // An address inside the i-th VMA of t (rarely just past it, in a hole).
  addr(t: Task, vma: number, off: number): number {
    const maps = t.maps();
    if (maps.length === 0) return 0x10000000;
    const v = maps[vma % maps.length];
    const pages = (v.end - v.start) / PAGE;
    return v.start + (off % 10 === 9 ? pages : off % pages) * PAGE;
  }

  // A length in bytes from addr: mostly within its VMA, sometimes beyond.
  len(t: Task, addr: number, pages: number): number {
    const v = t.maps().find((m) => m.start <= addr && addr < m.end);
    if (!v || pages > 600) return pages * PAGE;
    return Math.min(pages * PAGE, v.end - addr);
  }

  // ---- running an op ----

  // The op's result as JSON, or its error class and code; a broken
  // invariant or a core failure throws a FuzzFinding.
  outcome(o: Op): string {
    if (this.oops !== null) return JSON.stringify({ oops: this.oops }); // the machine is down: nothing runs
    let r: Attempt;
    try {
      r = attempt(() => this.run(o));
      this.k.checkAlive();
    } catch (e) {
      if (this.#oopsed()) return JSON.stringify({ oops: this.oops });
      throw e;
    }
    if (this.era.pinLeaks && failed(r)) this.leakedPins = Math.max(this.leakedPins, this.#pinGap());
    this.checkPins();
    checkMemlock(this);
    // The machine's own invariants, and the pin records against the frames,
    // until a caller-bug op dropped a reference it did not own: from then on
    // some count is wrong by design (the kernel would be tainted, or silently
    // off), and only the fuzz's own checks still hold.
    const bad = this.tainted ? [] : this.k.check();
    if (bad.length) fail(`k.check(): ${bad.map((v) => v.detail).join('; ')}`);
    const log = this.notifiers.drain(); // what interval notifiers heard during the op
    return JSON.stringify(log.length ? { ...r, log } : r);
  }

  // A kernel BUG the era had stops the machine (the op threw, or the
  // machine refuses to go on): the run ends there, on both machines alike.
  #oopsed(): boolean {
    let halted = '';
    try {
      this.k.checkAlive();
    } catch (e) {
      halted = (e as Error).message;
    }
    const line = OOPS.exec(halted)?.[1];
    if (line === undefined) return false;
    if (!this.era.oops) fail(`${line}: kernel ${this.k.kernel} has no such BUG (k.kr)`);
    this.oops = line;
    return true;
  }

  run(o: Op): unknown {
    const t = this.task('task' in o ? o.task : 0);
    switch (o.op) {
      case 'munmap': case 'dontneed': case 'populate': case 'mprotect': case 'madvise': case 'touch': {
        const a = this.addr(t, o.vma, o.off);
        const len = this.len(t, a, o.pages);
        switch (o.op) {
          case 'munmap': return this.#clearing(t, a, len, false, () => t.munmap(a, len));
          case 'dontneed': return this.#clearing(t, a, len, true, () => t.madvise(a, len, C.MADV_DONTNEED));
          case 'populate': return t.madvise(a, len, C.MADV_POPULATE_WRITE);
          case 'mprotect': return t.mprotect(a, len, PROTS[o.prot]);
          case 'madvise': return t.madvise(a, len, o.advice);
          case 'touch': return t.touch(a, len, { write: o.write });
        }
        break;
      }
      case 'mmap': return this.#mmap(o, t);
      case 'access': return this.access(t, this.addr(t, o.vma, o.off), o.write, o.word);
      case 'fork': {
        const c = t.fork();
        this.model.forked(t, c);
        return c.pid;
      }
      case 'exit': {
        const maps = t.maps().map(({ start, end }) => ({ start, end }));
        t.exit();
        this.model.exited(t);
        this.dead.push({ task: t, mm: t.mm, maps });
        return null;
      }
      case 'pwrite': return this.pwrite(t, o.file, o.page, o.word);
      case 'pread': return this.pread(t, o.file, o.page);
      case 'truncate': return this.truncate(t, o.file, o.pages * PAGE);
      case 'writeback': return this.k.writeback();
      case 'gup': return this.gup(t, o.kind, this.addr(t, o.vma, o.off), o.pages, false);
      case 'release': return this.release(o.held, o.dirty);
      case 'dma': return this.dma(o.held, o.entry, o.word);
      case 'mmapAt': {
        const flags = C.MAP_PRIVATE | C.MAP_ANONYMOUS | [0, C.MAP_FIXED, C.MAP_FIXED_NOREPLACE][o.fixed];
        return this.mapped(t, { addr: MMAP_BASE + o.at * PAGE, length: o.pages * PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags });
      }
      case 'hugetlbHint': {
        const a = this.mapped(t, { addr: 0x10000000 + o.hint * PAGE, length: o.huge * HPAGE, prot: C.PROT_READ | C.PROT_WRITE,
          flags: (o.shared ? C.MAP_SHARED : C.MAP_PRIVATE) | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
        if (a % HPAGE !== 0) fail(`MAP_HUGETLB mapping placed at 0x${a.toString(16)}, not 2 MiB-aligned`);
        return a;
      }
      case 'mmapHuge':
        return this.mapped(t, { length: 2 ** o.log2, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_NORESERVE });
      case 'gupStart': return this.gup(t, o.fn, WILD_STARTS[o.start], o.count, false);
      case 'gupCount': {
        // From the start of one of the two biggest VMAs (an mmapHuge one if
        // there is one); without a pages array, with a call that needs none.
        const big = t.maps().sort((x, y) => (y.end - y.start) - (x.end - x.start));
        const start = big.length ? big[o.vma % Math.min(2, big.length)].start : 0x10000000;
        return this.gup(t, o.nullPages ? NO_PAGES_CALLS[o.fn % 2] : o.fn, start, WILD_COUNTS[o.count], o.nullPages);
      }
      case 'pwriteFar': return this.pwrite(t, o.file, this.#farPage(o.file, o.log2 - 12), o.word);
      case 'preadFar': return this.pread(t, o.file, this.#farPage(o.file, o.log2 - 12));
      case 'truncateFar': return this.truncate(t, o.file, this.#farPage(o.file, o.log2 - 12) * PAGE);
      case 'mmapFar': {
        const idx = 2 ** o.log2;
        if (this.files[1].pages <= idx) this.truncate(t, 1, (idx + 1) * PAGE);
        const a = this.mapped(t, { length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_SHARED, fd: 4, offset: idx * PAGE });
        this.access(t, a, true, idx % 0x7fffffff);
        return a;
      }
      case 'putFree': case 'putAny': return this.putAny(t, o);
      case 'unpinDup': return this.unpinDup(t, o.extra);
      case 'gupDead': {
        if (this.dead.length === 0) return null;
        const d = this.dead[o.dead % this.dead.length];
        // Its own old ranges, or a live task's (which may now use its PGD frame).
        const maps = [...d.maps, ...this.k.tasks.flatMap((x) => x.maps())];
        const v = maps.length ? maps[o.vma % maps.length] : { start: 0x10000000, end: 0x10001000 };
        const a = v.start + (o.off % ((v.end - v.start) / PAGE)) * PAGE;
        const pa = this.k.pageArray(o.pages);
        const r = attempt(() => this.#callGup(d.mm as unknown as Task, o.fn, a, o.pages, pa));
        if ('value' in r && (r.value as number) > 0) fail(`GUP through the mm of exited task ${d.task.pid} returned ${String(r.value)}`);
        pa.free();
        return r;
      }
      case 'hfsMmap':
        return this.mapped(t, { length: o.huge * HPAGE, prot: o.prot, flags: o.shared ? C.MAP_SHARED : C.MAP_PRIVATE, fd: 5 });
      case 'hfsTruncate': return this.truncate(t, 2, o.huge * HPAGE);
      case 'notifierInsert': {
        const a = this.addr(t, o.vma, o.off);
        return this.notifiers.insert(t, a, this.len(t, a, o.pages) / PAGE);
      }
      case 'notifierRemove': return this.notifiers.remove(o.pick);
      case 'hmm': {
        const a = this.addr(t, o.vma, o.off);
        return this.notifiers.hmm(t, o.pick, a, this.len(t, a, o.pages) / PAGE, o.req);
      }
      case 'mmapLocked': return this.#mmap({ ...o, op: 'mmap', populate: false }, t, C.MAP_LOCKED);
      case 'dio': return runDio(this, t, o);
      case 'uringSetup': case 'uringRegister': case 'uringUnregister': case 'uringClose': case 'uringRw': case 'uringSettle':
        return this.rings.run(t, o as UringOp);
      case 'rdmaReg': {
        const a = this.addr(t, o.vma, o.off);
        return this.rdma.run(t, o, a, o.pages ? this.len(t, a, o.pages) : 0);
      }
      case 'rdmaDereg': case 'rdmaClose': case 'rdmaRemote': return this.rdma.run(t, o, 0, 0);
      case 'mirrorOpen': case 'mirrorAccess': case 'mirrorRange': case 'mirrorClose': return this.mirrors.run(t, o);
      case 'vfioOpen': case 'vfioMap': case 'vfioUnmap': case 'vfioDma': case 'vfioClose': return runVfioOp(this, t, o);
      case 'pipeOpen': case 'pipeSplice': case 'pipeRead': case 'pipeClose': return runPipeOp(this, t, o);
      case 'cmaAlloc': case 'cmaRelease': case 'offline': case 'online': return runContigOp(this, o);
      case 'lruDrain': return this.k.lru_add_drain(); // the batch's folios join the LRU; unmapped ones are freed
      default: return runMemlockOp(this, t, o);
    }
  }

  // Far page indexes: 2^31 and beyond for tmpfs; ext4 keeps a dense store
  // of its size, so its offsets stay at or below 64 GiB.
  #farPage(file: number, log2: number): number {
    return 2 ** (file === 0 ? Math.min(log2, 24) : log2);
  }

  #mmap(o: Extract<Op, { op: 'mmap' }>, t: Task, extra = 0): number {
    const prot = PROTS[o.prot];
    const pop = (o.populate ? C.MAP_POPULATE : 0) | extra;
    const len = o.pages * PAGE;
    const fileLen = Math.min(len, 64 * PAGE);
    switch (o.kind) {
      case 0: return this.mapped(t, { length: len, prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | pop });
      case 1: return this.mapped(t, { length: len, prot, flags: C.MAP_SHARED | C.MAP_ANONYMOUS | pop });
      case 2: return this.mapped(t, { length: fileLen, prot, flags: C.MAP_SHARED | pop, fd: 3 });
      case 3: return this.mapped(t, { length: fileLen, prot, flags: C.MAP_PRIVATE | pop, fd: 3 });
      case 4: return this.mapped(t, { length: fileLen, prot, flags: C.MAP_SHARED | pop, fd: 4 });
      case 5: return this.mapped(t, { length: HPAGE, prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB | pop });
      default: return this.mapped(t, { length: Math.ceil(o.pages / 512) * HPAGE, prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | pop });
    }
  }

  // mmap() with the checks every placement must pass: a range that was
  // free unless MAP_FIXED replaced it, and VMAs that stay sorted and apart.
  mapped(t: Task, opts: Parameters<Task['mmap']>[0]): number {
    const before = t.maps();
    const fixed = (opts.flags & C.MAP_FIXED) !== 0;
    let a: number;
    try {
      a = t.mmap(opts);
    } catch (e) {
      if (fixed && e instanceof SyscallError) this.model.forget(t); // the old range may be half gone
      throw e;
    }
    const end = a + Math.ceil(opts.length / PAGE) * PAGE;
    const hit = before.find((v) => v.start < end && a < v.end);
    if (hit && !fixed) fail(`mmap returned [0x${a.toString(16)}, 0x${end.toString(16)}) inside the existing VMA [0x${hit.start.toString(16)}, 0x${hit.end.toString(16)})`);
    const maps = t.maps();
    for (let i = 1; i < maps.length; i++) {
      if (maps[i].start < maps[i - 1].end) fail(`VMAs overlap or are out of order after mmap: ${JSON.stringify(maps.slice(i - 1, i + 1))}`);
    }
    this.model.cleared(t, a, end - a);
    return a;
  }

  // munmap or MADV_DONTNEED. pinsim refuses a madvise() over a hole before
  // changing anything; a munmap that fails may have split VMAs already.
  #clearing(t: Task, a: number, len: number, onlyPrivate: boolean, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!onlyPrivate && e instanceof SyscallError && e.code === 'ENOMEM') this.model.forget(t);
      throw e;
    }
    if (onlyPrivate && t.mm.vmaAt(a)?.isHugetlb) this.model.hugetlbCleared(t, a, len);
    else this.model.cleared(t, a, len, onlyPrivate);
  }

  // A user access, checked against the contents model.
  access(t: Task, a: number, write: boolean, word: number): unknown {
    const want = this.model.expect(t, a, write);
    const got = attempt(() => (write ? t.write(a, word) : t.read(a)));
    const at = `${write ? 'write' : 'read'} at 0x${a.toString(16)} by task ${t.pid}`;
    if ('code' in got) {
      // Out of memory may come first where the model expects SIGBUS: the
      // fault allocates page tables before the file's fault handler checks
      // i_size (__handle_mm_fault() -> filemap_fault()).
      const oomFirst = want && 'code' in want && want.code === 'SIGBUS' && got.code === 'ENOMEM';
      if (want && 'code' in want ? got.code !== want.code && !oomFirst : want && !this.model.tolerated(t, a, got.code)) {
        fail(`${at}: got ${got.code}, the model expects ${JSON.stringify(want)}`);
      }
      return got;
    }
    if (want && 'code' in want) fail(`${at} succeeded (${String(got.value)}), the model expects ${want.code}`);
    if (write) this.model.wrote(t, a, word);
    else if (want && got.value !== want.value) fail(`${at} gave 0x${(got.value as number).toString(16)}, the model expects 0x${want.value.toString(16)}`);
    return got;
  }

  pwrite(t: Task, file: number, page: number, word: number): void {
    t.pwrite(FDS[file], page * PAGE, word);
    this.model.pwrote(this.files[file], page, word);
  }

  pread(t: Task, file: number, page: number): number | null {
    const got = t.pread(FDS[file], page * PAGE);
    const want = this.model.preadExpect(this.files[file], page);
    if (got !== want) fail(`pread(${this.files[file].name}, page ${page}) gave ${got}, the model expects ${want}`);
    return got;
  }

  truncate(t: Task, file: number, bytes: number): void {
    t.ftruncate(FDS[file], bytes);
    this.model.truncated(this.files[file], Math.ceil(bytes / PAGE));
  }

  // ---- GUP and what it holds ----

  #callGup(t: Task, kind: number, a: number, n: number, pa: PageArray | null): number {
    const [fn, flags] = GUP_CALLS[kind];
    const k = this.k;
    switch (fn) {
      case 'pin_user_pages_remote': return k.pin_user_pages_remote(t.mm ?? t, a, n, flags, pa as PageArray);
      case 'get_user_pages_remote': return k.get_user_pages_remote(t.mm ?? t, a, n, flags, pa);
      case 'pin_user_pages_unlocked': return k.pin_user_pages_unlocked(t, a, n, pa as PageArray, flags);
      default: return k[fn](t, a, n, flags, pa as PageArray);
    }
  }

  gup(t: Task, kind: number, a: number, n: number, nullPages: boolean): unknown {
    const pa = nullPages ? null : this.k.pageArray(Math.max(1, Math.min(Math.abs(n), 80)));
    let got: number;
    try {
      got = this.#callGup(t, kind, a, n, pa);
    } catch (e) {
      pa?.free();
      throw e;
    }
    if (GUP_CALLS[kind][2] && !this.era.pinApi) fail(`${GUP_CALLS[kind][0]}() returned ${got} on kernel ${this.k.kernel}, which has no pin API`);
    if (!Number.isSafeInteger(got) || got < -133 || got > (n < 0 ? 2 ** 64 + n : n)) fail(`GUP returned ${got} for nr_pages ${n}`);
    const pfns = pa ? pa.toArray().slice(0, Math.max(got, 0)) : [];
    if (got > 0 && pa) {
      for (let i = 0; i < got; i++) {
        const now = t.translate(a + i * PAGE);
        if (pfns[i] !== now) fail(`GUP page ${i} is pfn ${pfns[i]}, but task ${t.pid} maps ${now} there`);
      }
      const [, flags, pin] = GUP_CALLS[kind];
      this.held.push({ pa, n: got, pin, write: (flags & C.FOLL_WRITE) !== 0, task: t, start: a });
    } else pa?.free();
    return { n: got, pfns };
  }

  release(i: number, dirty: boolean): unknown {
    if (this.held.length === 0) return null;
    const [h] = this.held.splice(i % this.held.length, 1);
    if (h.pin) this.k.unpin_user_pages_dirty_lock(h.pa, h.n, dirty);
    else for (const pfn of h.pa.pfns.subarray(0, h.n)) this.k.put_page(pfn);
    h.pa.free();
    return h.n;
  }

  dma(i: number, entry: number, word: number): unknown {
    const h = this.held[i % Math.max(1, this.held.length)];
    if (!h || !h.write) return null; // a FOLL_WRITE pin, or a FOLL_WRITE get as drivers took before pins
    const j = entry % h.n;
    const pfn = h.pa.pfns[j];
    this.k.dma_write(pfn, word);
    this.model.dma(h.task, h.start + j * PAGE, pfn, word);
    return pfn;
  }

  // The folio heads the fuzz, or a device it follows, holds references on
  // (the caller-bug ops leave those alone: the pin balance counts them).
  #heldHeads(): Set<number> {
    const s = new Set<number>();
    for (const h of [...this.held, ...this.rdma.held(), ...vfioHeld(this.vfio)]) {
      for (const pfn of h.pa.pfns.subarray(0, h.n)) s.add(this.k.v.head[pfn]);
    }
    for (const pfn of this.rings.pinned()) s.add(this.k.v.head[pfn]);
    return s;
  }

  // What the fuzz holds, per folio head: pins and plain references (a pin
  // is a plain reference in eras without pin counting), and the pins in all.
  #tally(): { count: Map<number, { pins: number; gets: number }>; pins: number } {
    const v = this.k.v;
    const count = new Map<number, { pins: number; gets: number }>();
    let pins = 0;
    const add = (pfn: number, pin: boolean) => {
      if (pfn === ZERO_PFN && !this.era.zeroPinned) return; // not pin-counted (6.5+)
      const counted = pin && this.era.pinsCounted;
      const c = count.get(v.head[pfn]) ?? { pins: 0, gets: 0 };
      if (counted) c.pins++; else c.gets++;
      pins += counted ? 1 : 0;
      count.set(v.head[pfn], c);
    };
    for (const h of [...this.held, ...this.rdma.held(), ...vfioHeld(this.vfio)]) {
      for (const pfn of h.pa.pfns.subarray(0, h.n)) add(pfn, h.pin);
    }
    for (const pfn of this.rings.pinned()) add(pfn, true); // io_uring buffers: one pin per page or coalesced folio
    for (const pfn of pipeRefs(this.k)) add(pfn, false); // a pipe buffer: one FOLL_GET reference
    return { count, pins };
  }

  // nr_foll_pin_acquired - nr_foll_pin_released (0 in eras without the counters).
  #vmstatHeld(): number {
    const vs = this.k.vmstat();
    return (vs.nr_foll_pin_acquired ?? 0) - (vs.nr_foll_pin_released ?? 0);
  }

  // Pins the machine counts beyond those the fuzz holds.
  #pinGap(): number {
    return this.era.vmstat ? this.#vmstatHeld() - this.#tally().pins : 0;
  }

  // Pin balance, and every held folio pinned as much as the fuzz holds it.
  checkPins(): void {
    const v = this.k.v;
    const { count, pins } = this.#tally();
    // Pins of devices the fuzz does not follow (a request in flight) make its
    // count a lower bound; otherwise, and at teardown, it is exact.
    const tracked = new Set<unknown>([this.rdma.nic, ...this.rings.rings.map((r) => r.ring), ...this.vfio,
      ...this.k.devices().filter((d) => d instanceof PipeEnd)]);
    const untracked = this.k.devices().some((d) => !tracked.has(d) && d.pins().length > 0);
    const held = this.#vmstatHeld();
    const want = this.era.vmstat ? pins + this.leakedPins : 0;
    if (untracked && this.era.vmstat ? held < want : held !== want) {
      const vs = this.k.vmstat();
      fail(`pin balance: acquired ${vs.nr_foll_pin_acquired} - released ${vs.nr_foll_pin_released} != ${pins} pins held`
        + `${this.leakedPins ? ` + ${this.leakedPins} leaked by failed long-term pins` : ''} (kernel ${this.k.kernel})`);
    }
    for (const [head, c] of count) {
      // A folio bad_page() isolated lost references someone else dropped:
      // its counts no longer say who holds what (the kernel taints).
      if (v.flags[head] & C.PG_bad) continue;
      const pg = this.k.page(head);
      const exact = pg.order >= this.era.pincountOrder; // the era's folio_has_pincount()
      const ref = v.refcount[head];
      const ok = exact ? pg.pincount === c.pins && ref >= c.pins + c.gets : ref >= C.GUP_PIN_COUNTING_BIAS * c.pins + c.gets;
      if (!ok || (c.pins > 0 && !this.k.folio_maybe_dma_pinned(head)) || v.flags[head] & C.PG_buddy) {
        fail(`folio ${head} held with ${c.pins} pins and ${c.gets} references has refcount ${ref}, pincount ${pg.pincount}, flags 0x${v.flags[head].toString(16)} (kernel ${this.k.kernel})`);
      }
    }
  }

  // ---- caller bugs the machine must survive ----

  // A frame of the kind asked for: free, reserved, a PGD, the zero page, a
  // mapped page, any frame.
  #target(t: Task, o: Extract<Op, { op: 'putFree' | 'putAny' }>): number {
    const v = this.k.v;
    const pick = (test: (pfn: number) => boolean): number => {
      const all: number[] = [];
      for (let p = 0; p < v.flags.length; p++) if (test(p)) all.push(p);
      return all.length ? all[o.pick % all.length] : -1;
    };
    switch (o.target) {
      case 0: return pick((p) => (v.flags[p] & C.PG_buddy) !== 0);
      case 1: return pick((p) => (v.flags[p] & C.PG_reserved) !== 0);
      case 2: return t.mm.pgd;
      case 3: return 0;
      case 4: return t.translate(this.addr(t, o.vma, o.off)) ?? -1;
      default: return o.pick % 4 < 2 ? (o.pick % 4) - 2 : o.pick % v.flags.length; // or -2 (no page), -1 (NULL)
    }
  }

  // Set once a caller-bug op dropped a reference nobody gave it (k.check() stops).
  tainted = false;

  putAny(t: Task, o: Extract<Op, { op: 'putFree' | 'putAny' }>): unknown {
    const pfn = this.#target(t, o);
    const n = o.fn === 2 ? o.n : 1;
    if (pfn < 0 && o.target === 5 && o.fn === 3) return this.#unpinNoPage(pfn);
    if (pfn < 0 || pfn + n > this.k.nrFrames) return null;
    const held = this.#heldHeads();
    const v = this.k.v;
    for (let p = pfn; p < pfn + n; p++) if (held.has(v.head[p])) return 'held';
    const free = (v.flags[pfn] & C.PG_buddy) !== 0;
    const frames = () => JSON.stringify([this.k.page(pfn), this.k.meminfo().MemFree]);
    const before = frames();
    const r = attempt(() => {
      switch (o.fn) {
        case 0: return this.k.put_page(pfn);
        case 1: return this.k.unpin_user_page(pfn);
        case 2: return this.k.unpin_user_page_range_dirty_lock(pfn, n, false);
        default: {
          const pa = this.k.pageArray(1);
          pa.pfns[0] = pfn;
          try {
            return this.k.unpin_user_pages(pa, 1);
          } finally {
            pa.free();
          }
        }
      }
    });
    if (o.fn > 0 && !this.era.pinApi && !('code' in r && r.code === 'ENOSYS')) fail(`unpin on kernel ${this.k.kernel}, which has no pin API, gave ${JSON.stringify(r)}`);
    if (free && frames() !== before) fail(`dropping a reference on free frame ${pfn} changed it: ${before} -> ${frames()}`);
    if (frames() !== before) this.tainted = true;
    // A page in use whose last reference went must reach bad_page(): leaked
    // with PG_bad, never back in the buddy allocator.
    const head = v.head[pfn];
    if (!free && (v.flags[pfn] & C.PG_buddy || (v.refcount[head] <= 0 && !(v.flags[head] & C.PG_bad)))
      && (pfn === 0 || pfn === t.mm.pgd || o.target === 4)) {
      fail(`a reference nobody took, dropped on frame ${pfn} in use (target ${o.target}), freed it: refcount ${v.refcount[head]}, flags 0x${v.flags[pfn].toString(16)}`);
    }
    return { pfn, r };
  }

  // An unpin_user_pages() entry that is no page: NULL (-1) is skipped, any
  // other value refused with a RangeError before anything is unpinned.
  #unpinNoPage(entry: number): unknown {
    const pa = this.k.pageArray(1);
    pa.pfns[0] = entry;
    const r = attempt(() => this.k.unpin_user_pages(pa, 1));
    pa.free();
    const want = !this.era.pinApi ? 'ENOSYS' : entry === -1 ? null : 'RangeError';
    const ok = want === null ? 'value' in r : 'code' in r && r.code === want;
    if (!ok) fail(`unpin_user_pages() of entry ${entry} gave ${JSON.stringify(r)}, expected ${want ?? 'nothing'}`);
    return r;
  }

  // Pins one fresh page once, then unpins a batch naming it 1 + extra times.
  unpinDup(t: Task, extra: number): unknown {
    // Before 5.7 an unpin is a put_page(): an extra one is putInUse's case
    // (nothing to pin with before 5.6), a use-after-free the kernel never
    // refuses, so this op has nothing of its own to check there.
    if (!this.era.pinApi || !this.era.pinsCounted) return null;
    const a = this.mapped(t, { length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    this.access(t, a, true, 0x5eed);
    const pa = this.k.pageArray(1 + extra);
    if (this.k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa) !== 1) {
      pa.free();
      return null;
    }
    const pfn = pa.pfns[0];
    pa.pfns.fill(pfn);
    const r = attempt(() => this.k.unpin_user_pages(pa, 1 + extra));
    pa.free();
    // Whatever the machine refused is still pinned: the fuzz holds it.
    // (A large folio with the era's _pincount, a THP the mapping merged into, counts its pins there.)
    const pg = this.k.page(pfn);
    const left = pg.order >= this.era.pincountOrder ? pg.pincount : Math.max(0, Math.floor(pg.refcount / C.GUP_PIN_COUNTING_BIAS));
    if (left > 0) {
      const keep = this.k.pageArray(left);
      keep.pfns.fill(pfn);
      this.held.push({ pa: keep, n: left, pin: true, write: true, task: t, start: a });
    }
    return { r, left };
  }

  // ---- the end ----

  // Releases everything, ends every task, empties the files: then no pin
  // is left and every frame is free again.
  // Folios bad_page() isolated: 2 MiB hugetlb folios (out of the pool) and
  // kB of other frames (out of the buddy allocator; not the zero page,
  // which never was free).
  #badFrames(): { huge2m: number; buddyKiB: number } {
    const v = this.k.v;
    let huge2m = 0;
    let buddyKiB = 0;
    for (let pfn = 1; pfn < v.flags.length; pfn++) {
      const f = v.flags[pfn];
      if (!(f & C.PG_bad) || v.head[pfn] !== pfn) continue;
      const pages = f & C.PG_head ? 2 ** ((f & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT) : 1;
      if (f & C.PG_hugetlb) huge2m += pages === C.HPAGE_PMD_NR ? 1 : 0;
      else buddyKiB += pages * (C.PAGE_SIZE / 1024);
    }
    return { huge2m, buddyKiB };
  }

  // Frames that pins leaked by failed long-term pins keep (eras with the
  // 6.1–6.11 leak), in kB: after the teardown, every folio still pinned.
  #leakedKiB(): number {
    let kib = 0;
    const v = this.k.v;
    for (let pfn = 1; pfn < v.flags.length; pfn++) {
      if (v.head[pfn] !== pfn || v.flags[pfn] & C.PG_buddy || !this.k.folio_maybe_dma_pinned(pfn)) continue;
      kib += 2 ** this.k.page(pfn).order * (C.PAGE_SIZE / 1024);
    }
    return kib;
  }

  teardown(): void {
    if (this.oops !== null) return; // a machine stopped by a kernel BUG is not taken down
    releaseContig(this);
    while (this.held.length) this.release(0, false);
    this.checkPins();
    while (this.k.tasks.length) this.k.tasks[0].exit();
    for (const d of this.k.devices()) d.close(); // devices no process holds (a NIC) go last
    this.checkPins();
    const t = this.k.spawn();
    for (const f of this.files) t.ftruncate(t.open(f), 0);
    t.exit();
    this.k.lru_add_drain(); // lruBatchRef: the batch still holds the last folios added
    const mi = this.k.meminfo();
    const bad = this.#badFrames();
    // Frames bad_page() took out of circulation stay out (page tables among
    // them), hugetlb folios included: they never return to the pool.
    if (mi.PageTables > mi.BadPages) fail(`PageTables ${mi.PageTables} kB after teardown (${mi.BadPages} kB bad)`);
    if (mi.HugePages_Free + bad.huge2m !== mi.HugePages_Total) {
      fail(`HugePages_Free ${mi.HugePages_Free} of ${mi.HugePages_Total} after teardown (${bad.huge2m} isolated as bad)`);
    }
    // Everything is free again but the huge zero folio, if a read fault took
    // it, and the frames bad_page() leaked from the buddy allocator.
    const lost = this.bootFree - mi.MemFree - bad.buddyKiB - (this.leakedPins > 0 ? this.#leakedKiB() : 0);
    if (lost !== 0 && lost !== 2048) fail(`leak: MemFree ${mi.MemFree} kB after teardown, ${this.bootFree} kB at boot`);
  }
}
