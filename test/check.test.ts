// k.check(): clean on normal runs (tracking on or off), and each invariant
// caught when the state is corrupted through the core's views.
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE } from './helpers';

const rules = (k: Kernel): string[] => k.check().map((v) => v.rule);

describe.each(BACKENDS)('k.check() (%s core)', (backend) => {
  async function busy(track: boolean): Promise<{ k: Kernel; t: Task; a: number; pfn: number }> {
    const k = await bootTest(backend, { track });
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    const pa = k.pageArray(4);
    expect(k.pin_user_pages_fast(t, a, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(4);
    t.fork();
    t.mlock(a + 4 * PAGE, 4 * PAGE);
    return { k, t, a, pfn: pa.get(0)! };
  }

  it('is clean after pins, fork, mlock, THP and exit, tracking off and on, and both cores agree', async () => {
    for (const track of [false, true]) {
      const { k, t } = await busy(track);
      const b = t.mmap({ length: 4 * 1024 * 1024, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
      t.touch(b, 4 * 1024 * 1024, { write: true });
      const pa = k.pageArray(600);
      expect(k.pin_user_pages_fast(t, b, 600, C.FOLL_WRITE, pa)).toBe(600);
      expect(k.check()).toEqual([]);
      k.unpin_user_pages(pa, 600);
      t.exit();
      expect(k.check()).toEqual([]);
    }
  });

  it('leaves alone a frame bad_page() isolated: an extra put_page() of a mapped page, then its unmap at exit', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pfn = t.translate(a)!;
    k.put_page(pfn); // the mapping's reference: bad_page() isolates the frame
    t.exit(); // the unmap drops that reference once more
    expect(k.page(pfn).flags).toContain('bad');
    expect(k.page(pfn).refcount).toBeLessThan(0);
    expect(k.check()).toEqual([]);
  });

  it('catches a refcount below what the pins and mappings need (small folio)', async () => {
    const { k, pfn } = await busy(false);
    k.v.refcount[pfn] = -5;
    expect(rules(k)).toEqual(['refcount', 'mapcount', 'vmstat']);
  });

  it('catches pins the counters do not know of, and pins the records do not', async () => {
    const { k, pfn } = await busy(true);
    k.v.refcount[pfn] += C.GUP_PIN_COUNTING_BIAS;
    expect(k.check()).toEqual([{ rule: 'vmstat', detail: 'nr_foll_pin_acquired - nr_foll_pin_released = 4, the frames hold 5 pins' }]);
    k.v.refcount[pfn] -= 2 * C.GUP_PIN_COUNTING_BIAS; // fork copied the pinned page for the child: one mapping
    expect(rules(k)).toEqual(['vmstat', 'records']);
    expect(k.check()[1].detail).toBe(`pfn ${pfn}: refcount ${k.v.refcount[pfn]} < ${C.GUP_PIN_COUNTING_BIAS + 1} (1 pins, 0 FOLL_GET references on record, 1 mappings)`);
  });

  it('catches a mapcount that is not the PTEs mapping the page, and a THP\'s _entire_mapcount', async () => {
    const { k, t, a } = await busy(false);
    const pfn = t.translate(a + 5 * PAGE)!;
    k.v.mapcount[pfn] = 0;
    expect(k.check()).toEqual([{ rule: 'mapcount', pfn, detail: `pfn ${pfn}: mapcount 0 is not the page-table entries that map it` }]);
    k.v.mapcount[pfn] = 1;
    const b = t.mmap({ length: 2 * 1024 * 1024, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.madvise(b, 2 * 1024 * 1024, C.MADV_HUGEPAGE);
    t.write(b, 1);
    const head = t.translate(b)!;
    expect(k.check()).toEqual([]);
    k.v.mapping[head + 1] += 1; // _entire_mapcount: one PMD mapping more than there is
    // Both the per-frame check (more mappings than references) and the PTE walk see it.
    expect(k.check().map((v) => [v.rule, v.pfn])).toEqual([['mapcount', head], ['mapcount', head]]);
  });

  it('catches a large folio whose _pincount exceeds its refcount', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = t.mmap({ length: 2 * 1024 * 1024, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.madvise(a, 2 * 1024 * 1024, C.MADV_HUGEPAGE);
    t.write(a, 1);
    const head = t.translate(a)!;
    expect(k.page(head).order).toBe(9);
    expect(k.check()).toEqual([]);
    k.v.index[head + 1] = k.v.refcount[head] + 1; // _pincount
    expect(rules(k)).toEqual(['pincount', 'vmstat']);
    expect(k.check()[0]).toMatchObject({ rule: 'pincount', pfn: head });
  });

  it('catches a frame on a free list that is mapped, and a counter the ledger does not explain', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const free = Array.from({ length: k.nrFrames }, (_, p) => p).find((p) => k.v.flags[p] & C.PG_buddy)!;
    k.v.mapcount[free] = 1;
    expect(k.check()).toEqual([{ rule: 'buddy', pfn: free, detail: `pfn ${free}: PG_buddy frame (on a free list) is mapped or referenced (refcount 0, mapcount 1)` }]);
    k.v.mapcount[free] = 0;
    t.mm.pinned_vm += 3;
    expect(k.check()).toEqual([{ rule: 'memlock', detail: `mm.pinned_vm pid ${t.pid}: counter 3 pages, ledger 0` }]);
    t.mm.pinned_vm -= 3;
    expect(k.account_locked_vm(t.mm, 2, true)).toBe(0);
    expect(k.check()).toEqual([]);
    k.user(t.uid).locked_vm += 1;
    expect(rules(k)).toEqual(['memlock']);
  });
});
