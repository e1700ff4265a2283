// The core remembers its last page-table walk (assembly/pgtable.ts
// walk_cached()), and GUP-fast of one page takes a short path under it
// (assembly/gup.ts gup_fast()). Nothing may depend on what it remembers:
// twin machines run the same random operations, one of them forgetting
// the walk before every operation, and must agree on every result, pfn,
// counter and the digest of all state, on both cores.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Kernel, PageArray, Task } from '../src/index';
import { bootTest, BACKENDS, C, PAGE, RW, ANON_PRIVATE } from './helpers';

const REGION = 4 << 20; // two THP-sized halves

type Op =
  | { op: 'touch'; off: number; pages: number; write: boolean }
  | { op: 'gup'; off: number; pages: number; kind: number }
  | { op: 'release'; which: number }
  | { op: 'fork' }
  | { op: 'childWrite'; off: number }
  | { op: 'mprotect'; off: number; pages: number; ro: boolean }
  | { op: 'dontneed'; off: number; pages: number };

const KINDS = [
  ['pin_user_pages_fast', C.FOLL_WRITE], ['pin_user_pages_fast', 0], ['pin_user_pages_fast', C.FOLL_WRITE | C.FOLL_LONGTERM],
  ['get_user_pages_fast', 0], ['get_user_pages_fast', C.FOLL_WRITE],
] as const;

const off = fc.integer({ min: 0, max: REGION / PAGE - 1 });
const few = fc.integer({ min: 1, max: 40 });
const OP: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('touch' as const), off, pages: few, write: fc.boolean() }), weight: 3 },
  // mostly one page per call: the path under test
  { arbitrary: fc.record({ op: fc.constant('gup' as const), off, pages: fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, few), kind: fc.nat(KINDS.length - 1) }), weight: 8 },
  { arbitrary: fc.record({ op: fc.constant('release' as const), which: fc.nat(63) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('fork' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('childWrite' as const), off }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('mprotect' as const), off, pages: few, ro: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('dontneed' as const), off, pages: few }), weight: 1 },
);

class Twin {
  readonly held: { pa: PageArray; n: number; pin: boolean }[] = [];
  child: Task | null = null;
  private constructor(readonly k: Kernel, readonly t: Task, readonly a: number, readonly forget: boolean) {}

  static async boot(backend: 'wasm' | 'ts', forget: boolean): Promise<Twin> {
    const k = await bootTest(backend, { memory: '64MiB', cma: '16MiB', thp: 'always' });
    const t = k.spawn();
    const raw = t.mmap({ length: REGION + (2 << 20), prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(raw / (2 << 20)) * (2 << 20);
    t.madvise(a, REGION / 2, C.MADV_NOHUGEPAGE); // the first half in PTE tables, the second in THPs
    return new Twin(k, t, a, forget);
  }

  // The result of one operation, as something to compare.
  run(o: Op): unknown {
    if (this.forget) this.k.core.walk_cache_reset();
    const span = (first: number, pages: number) => Math.min(pages, REGION / PAGE - first) * PAGE;
    try {
      switch (o.op) {
        case 'touch': this.t.touch(this.a + o.off * PAGE, span(o.off, o.pages), { write: o.write }); return 'ok';
        case 'gup': {
          const [fn, flags] = KINDS[o.kind];
          const n = span(o.off, o.pages) / PAGE;
          const pa = this.k.pageArray(n);
          const r = this.k[fn](this.t, this.a + o.off * PAGE, n, flags, pa);
          if (r > 0) this.held.push({ pa, n: r, pin: fn.startsWith('pin') });
          return [r, pa.toArray()];
        }
        case 'release': {
          const h = this.held.splice(o.which % Math.max(1, this.held.length), 1)[0];
          if (!h) return 'none';
          if (h.pin) this.k.unpin_user_pages(h.pa, h.n);
          else this.k.release_pages(h.pa, h.n);
          return h.n;
        }
        case 'fork': this.child?.exit(); this.child = this.t.fork(); return 'ok';
        case 'childWrite': if (this.child) this.child.write(this.a + o.off * PAGE, 7); return 'ok';
        case 'mprotect':
          this.t.mprotect(this.a + o.off * PAGE, span(o.off, o.pages), o.ro ? C.PROT_READ : RW); return 'ok';
        case 'dontneed': this.t.madvise(this.a + o.off * PAGE, span(o.off, o.pages), C.MADV_DONTNEED); return 'ok';
      }
    } catch (e) {
      return (e as { code?: string }).code ?? String(e);
    }
  }

  state(): unknown { return { digest: this.k.digest(), vmstat: this.k.vmstat(), dmesg: this.k.dmesg().slice(1) }; }
}

describe('the remembered page-table walk changes no result', () => {
  for (const backend of BACKENDS) {
    it(`${backend} core: random operations, mostly one-page GUP-fast calls, agree with a twin that forgets the walk`, async () => {
      await fc.assert(fc.asyncProperty(fc.array(OP, { minLength: 1, maxLength: 40 }), async (ops) => {
        const warm = await Twin.boot(backend, false);
        const cold = await Twin.boot(backend, true);
        for (const o of ops) {
          expect(warm.run(o)).toEqual(cold.run(o));
          expect(warm.state()).toEqual(cold.state());
        }
      }), { numRuns: 50 });
    });
  }
});
