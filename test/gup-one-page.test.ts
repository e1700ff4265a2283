// GUP-fast of one page under the table or huge leaf the last walk
// remembered takes a short path in the core (assembly/gup.ts gup_fast()).
// It must end exactly where the range walk does: each case runs twice per
// core, the same operations in two orders, so that the call under test
// finds the remembered walk on its table (warm) or on another task's
// (cold), and everything observable must agree, across both cores too.
import { describe, expect, it } from 'vitest';
import type { BootOptions, Kernel, Task } from '../src/index';
import { bootTest, anon, BACKENDS, C, PAGE, RW, ANON_PRIVATE } from './helpers';

type Entry = 'pin_user_pages_fast' | 'get_user_pages_fast';

interface Case {
  name: string;
  boot: BootOptions;
  // Maps and faults what the case needs; returns the address of the page
  // under test and one in the same PTE table or leaf.
  setup(k: Kernel, t: Task): { addr: number; neighbour: number };
  flags: number;
  entry?: Entry;
}

const THP = 512 * PAGE;

const CASES: Case[] = [
  {
    name: 'a written anon page, FOLL_WRITE', boot: { thp: 'never' }, flags: C.FOLL_WRITE,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE, { write: true }); return { addr: a + 3 * PAGE, neighbour: a }; },
  },
  {
    name: 'a written anon page, get_user_pages_fast', boot: { thp: 'never' }, flags: 0, entry: 'get_user_pages_fast',
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE, { write: true }); return { addr: a + 3 * PAGE, neighbour: a }; },
  },
  {
    name: 'a read pin of an anon page shared with a child (must unshare: refused, then the slow path)',
    boot: { thp: 'never' }, flags: 0,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE, { write: true }); t.fork(); return { addr: a + 2 * PAGE, neighbour: a }; },
  },
  {
    name: 'a write pin of a read-only PTE (refused, then -EFAULT)', boot: { thp: 'never' }, flags: C.FOLL_WRITE,
    setup: (_k, t) => {
      const a = anon(t, 8);
      t.touch(a, 8 * PAGE, { write: true });
      t.mprotect(a, 8 * PAGE, C.PROT_READ);
      return { addr: a + 3 * PAGE, neighbour: a };
    },
  },
  {
    name: 'the zero page (pte_special: refused, then the slow path)', boot: { thp: 'never' }, flags: 0,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE); return { addr: a + 1 * PAGE, neighbour: a }; },
  },
  {
    name: 'a page never faulted, in a table that exists', boot: { thp: 'never' }, flags: C.FOLL_WRITE,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, PAGE, { write: true }); return { addr: a + 5 * PAGE, neighbour: a }; },
  },
  {
    name: 'a subpage of a THP (PMD leaf)', boot: { thp: 'always' }, flags: C.FOLL_WRITE,
    setup: (_k, t) => {
      const a = t.mmap({ length: 2 * THP, prot: RW, flags: ANON_PRIVATE });
      const h = Math.ceil(a / THP) * THP;
      t.touch(h, THP, { write: true });
      return { addr: h + 300 * PAGE, neighbour: h + 5 * PAGE };
    },
  },
  {
    name: 'a subpage of a 2 MiB hugetlb page, FOLL_LONGTERM', boot: { hugepages: { '2MiB': 2 } }, flags: C.FOLL_WRITE | C.FOLL_LONGTERM,
    setup: (_k, t) => {
      const a = t.mmap({ length: THP, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
      t.touch(a, THP, { write: true });
      return { addr: a + 17 * PAGE, neighbour: a };
    },
  },
  {
    name: 'a page in CMA, FOLL_LONGTERM (refused, then migrated by the slow path)',
    boot: { memory: '256MiB', cma: '192MiB', thp: 'never' }, flags: C.FOLL_WRITE | C.FOLL_LONGTERM,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE, { write: true }); return { addr: a + 4 * PAGE, neighbour: a }; },
  },
  {
    name: 'a shared ext4 page, FOLL_LONGTERM | FOLL_WRITE (refused after the grab, then -EFAULT)',
    boot: { kernel: 'latest' }, flags: C.FOLL_WRITE | C.FOLL_LONGTERM,
    setup: (k, t) => {
      const f = k.createFile({ fs: 'ext4', size: 4 * PAGE, name: 'log' });
      const m = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
      for (let i = 0; i < 4; i++) t.write(m + i * PAGE, 0xa);
      return { addr: m + 2 * PAGE, neighbour: m };
    },
  },
  {
    name: '5.8: a read pin of a COW page (the walk takes writable entries only)',
    boot: { kernel: '5.8', thp: 'never' }, flags: 0,
    setup: (_k, t) => { const a = anon(t, 8); t.touch(a, 8 * PAGE, { write: true }); t.fork(); return { addr: a + 6 * PAGE, neighbour: a }; },
  },
];

async function run(backend: 'wasm' | 'ts', c: Case, warm: boolean) {
  const k = await bootTest(backend, c.boot);
  const t = k.spawn();
  const { addr, neighbour } = c.setup(k, t);
  const other = k.spawn();
  const o = anon(other, 1);
  other.touch(o, PAGE, { write: true });
  const one = k.pageArray(1);
  // A FOLL_GET of a page and its put: walks (and remembers) its table.
  const visit = (task: Task, a: number) => {
    expect(k.get_user_pages_fast(task, a, 1, 0, one)).toBe(1);
    k.put_page(one.get(0)!);
  };
  if (warm) {
    visit(other, o);
    visit(t, neighbour);
  } else {
    visit(t, neighbour);
    visit(other, o);
  }
  const pa = k.pageArray(1);
  const ret = k[c.entry ?? 'pin_user_pages_fast'](t, addr, 1, c.flags, pa);
  const pfn = pa.get(0);
  return {
    ret, pfn, page: pfn === null ? null : k.page(pfn), vmstat: k.vmstat(), digest: k.digest(),
    dmesg: k.dmesg().filter((l) => !l.startsWith('pinsim: booted')), // which names the core
    mapped: t.translate(addr),
  };
}

describe('GUP-fast of one page: the remembered-walk path ends where the range walk does', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const outcomes = [];
      for (const backend of BACKENDS) {
        const warm = await run(backend, c, true);
        const cold = await run(backend, c, false);
        expect(warm).toEqual(cold);
        outcomes.push(warm);
      }
      expect(outcomes[1]).toEqual(outcomes[0]);
    });
  }

  it('the cases reach what they are named for', async () => {
    const r = new Map<string, Awaited<ReturnType<typeof run>>>();
    for (const c of CASES) r.set(c.name, await run('wasm', c, true));
    const at = (i: number) => r.get(CASES[i].name)!;
    expect(at(0).ret).toBe(1);
    expect(at(0).page!.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    expect(at(1).page!.refcount).toBe(2);
    expect(at(2).ret).toBe(1); // unshared: the pinned page is a fresh copy, no longer the child's
    expect(at(2).page!.refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS);
    expect(at(3).ret).toBe(-C.EFAULT);
    expect(at(3).vmstat.nr_foll_pin_acquired).toBe(0);
    expect(at(4).ret).toBe(1); // a read-only pin of the zero page
    expect(at(5).ret).toBe(1);
    expect(at(5).pfn).toBe(at(5).mapped); // faulted in by the slow path
    expect(at(6).pfn).toBe(at(6).mapped);
    expect(at(6).page!.head).not.toBe(at(6).pfn); // a tail of the THP
    expect(at(7).ret).toBe(1);
    expect(at(8).ret).toBe(1);
    expect(at(8).page!.migratetype).not.toBe('CMA'); // moved out of CMA before the pin
    expect(at(9).ret).toBe(-C.EFAULT);
    expect(at(9).vmstat.nr_foll_pin_acquired).toBe(at(9).vmstat.nr_foll_pin_released);
    expect(at(10).ret).toBe(1); // 5.8: the COW broken by a write fault, read or not
  });
});
