// Differential property test: random sequences of mm and GUP operations run
// in lockstep on the Wasm core and the pure-TS core must give the same result
// for every call and the same machine state (the core's digest of every
// array). After every pin is released and everything torn down, the pin
// counters balance and no frame has leaked.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { C, PAGE } from './helpers';
import { boot, type Kernel, type Task, type SimFile, type PageArray } from '../src/index';

type Op =
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
  | { op: 'gup'; task: number; vma: number; off: number; pages: number; kind: number }
  | { op: 'release'; held: number; dirty: boolean };

// GUP calls the fuzz makes: [function, gup_flags, takes pins (else FOLL_GET references)].
type GupFn = 'pin_user_pages' | 'pin_user_pages_fast' | 'get_user_pages_fast' | 'get_user_pages_fast_only'
  | 'pin_user_pages_remote' | 'get_user_pages';
const GUP_CALLS: [GupFn, number, boolean][] = [
  ['pin_user_pages', C.FOLL_WRITE, true],
  ['pin_user_pages', 0, true],
  ['pin_user_pages_fast', C.FOLL_WRITE | C.FOLL_LONGTERM, true],
  ['pin_user_pages', C.FOLL_LONGTERM, true],
  ['pin_user_pages_remote', C.FOLL_WRITE | C.FOLL_LONGTERM, true],
  ['pin_user_pages_fast', 0, true],
  ['get_user_pages_fast', C.FOLL_WRITE, false],
  ['get_user_pages_fast_only', 0, false],
  ['get_user_pages', C.FOLL_FORCE | C.FOLL_WRITE, false],
];

const nat = (max: number) => fc.nat({ max });
const where = { task: nat(7), vma: nat(15), off: nat(1100), pages: fc.integer({ min: 1, max: 700 }) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('mmap' as const), task: nat(7), kind: nat(6), pages: fc.integer({ min: 1, max: 1100 }), prot: fc.constantFrom(0, 1, 2, 2, 2, 3), populate: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constantFrom('munmap' as const, 'dontneed' as const, 'populate' as const), ...where }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('mprotect' as const), ...where, prot: nat(3) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('madvise' as const), ...where, advice: fc.constantFrom(C.MADV_DONTFORK, C.MADV_DOFORK, C.MADV_HUGEPAGE, C.MADV_NOHUGEPAGE) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('access' as const), task: nat(7), vma: nat(15), off: nat(1100), write: fc.boolean(), word: fc.nat() }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('touch' as const), ...where, write: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constantFrom('fork' as const, 'exit' as const), task: nat(7) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('pwrite' as const), task: nat(7), file: nat(1), page: nat(80), word: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('pread' as const), task: nat(7), file: nat(1), page: nat(80) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('truncate' as const), task: nat(7), file: nat(1), pages: nat(80) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('writeback' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('gup' as const), ...where, pages: fc.integer({ min: 1, max: 80 }), kind: nat(GUP_CALLS.length - 1) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('release' as const), held: nat(20), dirty: fc.boolean() }), weight: 2 },
);

const PROTS = [C.PROT_NONE, C.PROT_READ, C.PROT_READ | C.PROT_WRITE, C.PROT_WRITE];


// One machine under test, with the fds of its two files open in every task.
class Machine {
  files: SimFile[] = [];
  held: { pa: PageArray; n: number; pin: boolean }[] = [];
  readonly bootFree: number;
  constructor(readonly k: Kernel) {
    this.bootFree = k.meminfo().MemFree;
    this.files = [k.createFile({ fs: 'ext4', size: 64 * PAGE, name: 'disk' }), k.createFile({ fs: 'tmpfs', size: 64 * PAGE, name: 'shm' })];
    this.spawn();
  }

  spawn(): void {
    const t = this.k.spawn();
    for (const f of this.files) t.open(f);
  }

  task(i: number): Task {
    if (this.k.tasks.length === 0) this.spawn();
    return this.k.tasks[i % this.k.tasks.length];
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

  run(o: Op): unknown {
    const t = this.task('task' in o ? o.task : 0);
    if ('pages' in o && 'vma' in o) {
      const a = this.addr(t, o.vma, o.off);
      const len = this.len(t, a, o.pages);
      switch (o.op) {
        case 'munmap': return t.munmap(a, len);
        case 'dontneed': return t.madvise(a, len, C.MADV_DONTNEED);
        case 'populate': return t.madvise(a, len, C.MADV_POPULATE_WRITE);
        case 'mprotect': return t.mprotect(a, len, PROTS[o.prot]);
        case 'madvise': return t.madvise(a, len, o.advice);
        case 'touch': return t.touch(a, len, { write: o.write });
      }
    }
    switch (o.op) {
      case 'mmap': {
        const prot = PROTS[o.prot];
        const pop = o.populate ? C.MAP_POPULATE : 0;
        const len = o.pages * PAGE;
        switch (o.kind) {
          case 0: return t.mmap({ length: len, prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | pop });
          case 1: return t.mmap({ length: len, prot, flags: C.MAP_SHARED | C.MAP_ANONYMOUS | pop });
          case 2: return t.mmap({ length: Math.min(len, 64 * PAGE), prot, flags: C.MAP_SHARED | pop, fd: 3 });
          case 3: return t.mmap({ length: Math.min(len, 64 * PAGE), prot, flags: C.MAP_PRIVATE | pop, fd: 3 });
          case 4: return t.mmap({ length: Math.min(len, 64 * PAGE), prot, flags: C.MAP_SHARED | pop, fd: 4 });
          case 5: return t.mmap({ length: 2 << 20, prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB | pop });
          default: return t.mmap({ length: Math.ceil(o.pages / 512) * (2 << 20), prot, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | pop });
        }
      }
      case 'access': {
        const a = this.addr(t, o.vma, o.off);
        return o.write ? t.write(a, o.word) : t.read(a);
      }
      case 'fork': return t.fork().pid;
      case 'exit': return t.exit();
      case 'pwrite': return t.pwrite(3 + o.file, o.page * PAGE, o.word);
      case 'pread': return t.pread(3 + o.file, o.page * PAGE);
      case 'truncate': return t.ftruncate(3 + o.file, o.pages * PAGE);
      case 'writeback': return this.k.writeback();
      case 'gup': return this.gup(t, o);
      case 'release': return this.release(o.held, o.dirty);
    }
  }

  gup(t: Task, o: Extract<Op, { op: 'gup' }>): unknown {
    const [fn, flags, pin] = GUP_CALLS[o.kind];
    const a = this.addr(t, o.vma, o.off);
    const pa = this.k.pageArray(o.pages);
    const n = fn === 'pin_user_pages_remote' ? this.k.pin_user_pages_remote(t.mm, a, o.pages, flags, pa)
      : this.k[fn](t, a, o.pages, flags, pa);
    const pfns = pa.toArray();
    if (n > 0) this.held.push({ pa, n, pin });
    else pa.free();
    return { n, pfns };
  }

  release(i: number, dirty: boolean): unknown {
    if (this.held.length === 0) return null;
    const [h] = this.held.splice(i % this.held.length, 1);
    if (h.pin) this.k.unpin_user_pages_dirty_lock(h.pa, h.n, dirty);
    else for (const pfn of h.pa.pfns.subarray(0, h.n)) this.k.put_page(pfn);
    h.pa.free();
    return h.n;
  }

  outcome(o: Op): string {
    try {
      return JSON.stringify({ ok: this.run(o) ?? null });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (!code) throw e; // a TypeError or a core failure is a bug here
      return JSON.stringify({ err: code });
    }
  }
}

async function machine(backend: 'wasm' | 'ts', thp: 'always' | 'madvise'): Promise<Machine> {
  return new Machine(await boot({ backend, wasm: 'debug', memory: '32MiB', thp, hugepages: { '2MiB': 3 }, movable: '8MiB', cma: '8MiB' }));
}

// PINSIM_FUZZ_RUNS=2000 for a longer fuzz (about 20 runs a second here).
const RUNS = Number(process.env.PINSIM_FUZZ_RUNS ?? 150);

describe('differential: Wasm core vs pure-TS core', () => {
  it('agree on every result and on the whole machine state, and leak nothing', { timeout: Math.max(60_000, RUNS * 200) }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 80, size: 'max' }), fc.constantFrom('always' as const, 'madvise' as const), async (ops, thp) => {
        const a = await machine('wasm', thp);
        const b = await machine('ts', thp);
        for (const [i, o] of ops.entries()) {
          const ra = a.outcome(o);
          const rb = b.outcome(o);
          expect(rb, `step ${i} ${JSON.stringify(o)}`).toBe(ra);
          if (i % 8 === 7) expect(b.k.digest(), `state after step ${i}`).toBe(a.k.digest());
        }
        expect(b.k.digest()).toBe(a.k.digest());
        for (const m of [a, b]) {
          while (m.held.length) m.release(0, false);
          expect(m.k.vmstat().nr_foll_pin_released).toBe(m.k.vmstat().nr_foll_pin_acquired);
          while (m.k.tasks.length) m.k.tasks[0].exit();
          const t = m.k.spawn();
          for (const f of m.files) t.ftruncate(t.open(f), 0);
          t.exit();
          const mi = m.k.meminfo();
          expect(mi.PageTables).toBe(0);
          expect(mi.HugePages_Free).toBe(mi.HugePages_Total);
          // Everything is free again but the huge zero folio, if a read fault took it.
          expect([0, 2048]).toContain(m.bootFree - mi.MemFree);
        }
        expect(b.k.digest()).toBe(a.k.digest());
      }),
      { numRuns: RUNS },
    );
  });
});
