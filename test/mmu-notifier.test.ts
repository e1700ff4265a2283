// MMU interval notifiers: the even/odd sequence protocol, the interval
// lookup, re-entrancy, and one test per site that fires an event (§5.3 of
// the devices-and-accounting reference), on both cores.
import { describe, expect, it } from 'vitest';
import type { Kernel, Task, MmuIntervalNotifier, MmuNotifierRange } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const NAMES = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'];

interface Entry { event: string; start: number; end: number; seq: number; flags: number; pfn: number | null }

// A subscription over [start, start + length) of t's mm that logs every
// invalidation (and the translation of range.start as the callback saw it)
// and follows the driver contract (set_seq unconditionally, return true).
function subscribe(k: Kernel, t: Task, start: number, length: number, extra?: (sub: MmuIntervalNotifier, r: MmuNotifierRange) => void) {
  const log: Entry[] = [];
  let released = 0;
  const sub = k.mmu_interval_notifier_insert(t.mm, start, length, {
    invalidate(s, range, seq) {
      const at = Math.max(range.start, start);
      const pfn = at < 2 ** 47 && !t.exited ? t.translate(at) : null;
      log.push({ event: NAMES[range.event], start: range.start, end: range.end, seq, flags: range.flags, pfn });
      k.mmu_interval_set_seq(s, seq);
      extra?.(s, range);
      return true;
    },
    release() { released++; },
  });
  if (typeof sub === 'number') throw new Error(`insert failed: ${sub}`);
  return { sub, log, events: () => log.map((e) => `${e.event} ${(e.start - start) / PAGE}+${(e.end - e.start) / PAGE}`), released: () => released };
}

function written(t: Task, pages: number, prot = RW): number {
  const a = anon(t, pages, prot);
  for (let i = 0; i < pages; i++) t.write(a + i * PAGE, 0x100 + i);
  return a;
}

describe.each(BACKENDS)('interval notifier sequence protocol (%s core)', (backend) => {
  it('read_begin / read_retry: no retry without an invalidation, a retry across one, none after set_seq', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 4);
    const { sub, log } = subscribe(k, t, a, 4 * PAGE);
    const seq = k.mmu_interval_read_begin(sub);
    expect(seq % 2).toBe(1); // an idle mm's seq is even; a new interval gets seq - 1
    expect(k.mmu_interval_read_retry(sub, seq)).toBe(false);
    expect(k.mmu_interval_check_retry(sub, seq)).toBe(false);
    t.madvise(a, PAGE, C.MADV_DONTNEED);
    expect(log).toHaveLength(1);
    expect(log[0].seq % 2).toBe(1); // cur_seq is odd while the invalidation runs
    expect(log[0].seq).not.toBe(seq);
    expect(log[0].flags).toBe(C.MMU_NOTIFIER_RANGE_BLOCKABLE);
    expect(k.mmu_interval_read_retry(sub, seq)).toBe(true);
    const again = k.mmu_interval_read_begin(sub);
    expect(again).toBe(log[0].seq);
    expect(k.mmu_interval_read_retry(sub, again)).toBe(false);
    t.madvise(a + PAGE, PAGE, C.MADV_DONTNEED);
    expect(log[1].seq).toBeGreaterThan(log[0].seq); // the mm's seq went even, then odd again
  });

  it('the callback runs before the entries change: it still sees the old translation', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 2);
    const old = t.translate(a);
    const { log } = subscribe(k, t, a, 2 * PAGE);
    t.munmap(a, 2 * PAGE);
    expect(old).not.toBe(null);
    expect(log[0].pfn).toBe(old);
    expect(t.translate(a)).toBe(null);
  });

  it('only overlapping intervals are called, once per range, in start order; removed ones never', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 64);
    const subs = Array.from({ length: 64 }, (_, i) => subscribe(k, t, a + (63 - i) * PAGE, PAGE));
    const order: number[] = [];
    const wide = subscribe(k, t, a, 64 * PAGE, (_s, r) => order.push(r.start));
    k.mmu_interval_notifier_remove(subs[63 - 10].sub); // the interval at page 10
    t.madvise(a + 8 * PAGE, 4 * PAGE, C.MADV_DONTNEED); // pages 8..11
    const hit = subs.map((s, i) => (s.log.length ? 63 - i : -1)).filter((x) => x >= 0).sort((x, y) => x - y);
    expect(hit).toEqual([8, 9, 11]);
    expect(wide.log).toHaveLength(1);
    expect(order).toEqual([a + 8 * PAGE]);
    for (const s of subs) expect(s.log.length).toBeLessThanOrEqual(1);
  });

  it('a callback that returns false for a blockable range is a WARN', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 1);
    k.mmu_interval_notifier_insert(t.mm, a, PAGE, { invalidate: () => false });
    t.munmap(a, PAGE);
    expect(k.dmesg().join('\n')).toMatch(/mn_itree_invalidate: invalidate\(\) returned false/);
  });
});

describe.each(BACKENDS)('interval notifier insert/remove (%s core)', (backend) => {
  it('insert: -EOVERFLOW for a zero or overflowing length, -EINVAL (WARN) for an exited mm, TypeError for misuse', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const ops = { invalidate: () => true };
    expect(k.mmu_interval_notifier_insert(t.mm, 0x1000, 0, ops)).toBe(-C.EOVERFLOW);
    expect(k.mmu_interval_notifier_insert(t.mm, 2 ** 63, 2 ** 63 + 4096, ops)).toBe(-C.EOVERFLOW);
    const u = k.spawn();
    u.exit();
    expect(k.mmu_interval_notifier_insert(u.mm, 0, PAGE, ops)).toBe(-C.EINVAL);
    expect(k.dmesg().join('\n')).toMatch(/__mmu_interval_notifier_insert: mm_users <= 0/);
    expect(() => k.mmu_interval_notifier_insert(t.mm, 0.5, PAGE, ops)).toThrow(TypeError);
    expect(() => k.mmu_interval_notifier_insert(t.mm, 0, PAGE, {} as never)).toThrow(TypeError);
    expect(() => k.mmu_interval_read_begin({} as never)).toThrow(TypeError);
  });

  it('remove, or read_begin on the interval being invalidated, from a callback: EDEADLK, nothing changed', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 2);
    const codes: string[] = [];
    const { sub } = subscribe(k, t, a, 2 * PAGE, (s) => {
      for (const fn of [() => k.mmu_interval_notifier_remove(s), () => k.mmu_interval_read_begin(s)]) {
        try { fn(); } catch (e) { codes.push((e as { code: string }).code); }
      }
    });
    t.madvise(a, PAGE, C.MADV_DONTNEED);
    expect(codes).toEqual(['EDEADLK', 'EDEADLK']);
    // Still subscribed; outside a callback both work.
    const seq = k.mmu_interval_read_begin(sub);
    t.madvise(a + PAGE, PAGE, C.MADV_DONTNEED);
    expect(k.mmu_interval_read_retry(sub, seq)).toBe(true);
    k.mmu_interval_notifier_remove(sub);
  });

  it('insert from a callback is deferred to the end of the invalidation, then the interval hears the next one', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 2);
    let late: ReturnType<typeof subscribe> | null = null;
    subscribe(k, t, a, 2 * PAGE, () => { late ??= subscribe(k, t, a, 2 * PAGE); });
    t.madvise(a, PAGE, C.MADV_DONTNEED);
    expect(late!.log).toHaveLength(0); // not in the tree during the walk
    t.madvise(a + PAGE, PAGE, C.MADV_DONTNEED);
    expect(late!.events()).toEqual(['CLEAR 1+1']);
  });
});

describe.each(BACKENDS)('events (%s core)', (backend) => {
  it('munmap: UNMAP over the unmapped span, once', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 8);
    const s = subscribe(k, t, a, 8 * PAGE);
    t.munmap(a + 2 * PAGE, 3 * PAGE);
    expect(s.events()).toEqual(['UNMAP 2+3']);
  });

  it('a COW fault stopped at the notifier gate counts one pgfault, as without a subscription', async () => {
    const counts: number[] = [];
    for (const sub of [false, true]) {
      const k = await bootTest(backend, { thp: 'never' });
      const t = k.spawn();
      const a = written(t, 1);
      t.fork();
      if (sub) subscribe(k, t, a, PAGE);
      const before = k.vmstat().pgfault;
      t.write(a, 7); // COW: CLEAR before the PTE changes
      counts.push(k.vmstat().pgfault - before);
    }
    expect(counts).toEqual([1, 1]);
  });

  it('MADV_DONTNEED: CLEAR over the zapped span', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 8);
    const s = subscribe(k, t, a, 8 * PAGE);
    t.madvise(a + PAGE, 2 * PAGE, C.MADV_DONTNEED);
    expect(s.events()).toEqual(['CLEAR 1+2']);
  });

  it('truncate: CLEAR over the mapped part cut off', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 4 * PAGE });
    const fd = t.open(f);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(a, 4 * PAGE);
    const s = subscribe(k, t, a, 4 * PAGE);
    t.ftruncate(fd, PAGE);
    expect(s.events()).toEqual(['CLEAR 1+3']);
  });

  it('mprotect: PROTECTION_VMA only once a populated table is met; nothing over an unpopulated range', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 8);
    const s = subscribe(k, t, a, 8 * PAGE);
    t.mprotect(a, 8 * PAGE, C.PROT_READ);
    expect(s.events()).toEqual([]);
    t.mprotect(a, 8 * PAGE, RW);
    t.write(a + 5 * PAGE, 1);
    s.log.length = 0;
    t.mprotect(a + PAGE, 6 * PAGE, C.PROT_READ);
    expect(s.events()).toEqual(['PROTECTION_VMA 1+6']);
  });

  it('COW copy: CLEAR over the one page; reuse in place fires nothing', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 4);
    const child = t.fork();
    const s = subscribe(k, t, a, 4 * PAGE);
    const old = t.translate(a + 2 * PAGE);
    t.write(a + 2 * PAGE, 7); // shared with the child: copy
    expect(s.events()).toEqual(['CLEAR 2+1']);
    expect(s.log[0].pfn).toBe(old);
    expect(t.translate(a + 2 * PAGE)).not.toBe(old);
    child.exit();
    s.log.length = 0;
    t.write(a + 3 * PAGE, 7); // the child is gone: reused in place
    expect(s.events()).toEqual([]);
  });

  it('COW copies during a GUP slow path and a populate each fire CLEAR for their page, and the loop goes on', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 4);
    t.fork();
    const s = subscribe(k, t, a, 4 * PAGE);
    const pa = k.pageArray(3);
    expect(k.pin_user_pages(t, a, 3, C.FOLL_WRITE, pa)).toBe(3);
    expect(s.events()).toEqual(['CLEAR 0+1', 'CLEAR 1+1', 'CLEAR 2+1']);
    for (let i = 0; i < 3; i++) expect(pa.get(i)).toBe(t.translate(a + i * PAGE));
    s.log.length = 0;
    t.madvise(a + 3 * PAGE, PAGE, C.MADV_POPULATE_WRITE);
    expect(s.events()).toEqual(['CLEAR 3+1']);
  });

  it('fork: PROTECTION_PAGE over the whole private writable VMA of the parent, none for a shared one', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 4);
    const sh = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.write(sh, 1);
    const s = subscribe(k, t, a, 4 * PAGE);
    const ss = subscribe(k, t, sh, 2 * PAGE);
    t.fork();
    expect(s.events()).toEqual(['PROTECTION_PAGE 0+4']);
    expect(ss.events()).toEqual([]);
  });

  it('writeback: PROTECTION_PAGE over the PTEs folio_mkclean() write-protects', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 8 * PAGE });
    const fd = t.open(f);
    const a = t.mmap({ length: 8 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.touch(a, 8 * PAGE);
    t.write(a + 2 * PAGE, 1);
    t.write(a + 4 * PAGE, 1);
    const s = subscribe(k, t, a, 8 * PAGE);
    k.writeback(f);
    expect(s.events()).toEqual(['PROTECTION_PAGE 2+3']);
    s.log.length = 0;
    k.writeback(f);
    expect(s.events()).toEqual([]); // nothing left to clean
  });

  it('THP split: CLEAR over the huge range when an mprotect or a partial MADV_DONTNEED splits it', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const m = t.mmap({ length: 3 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const h = Math.ceil(m / HPAGE) * HPAGE;
    t.touch(h, 2 * HPAGE, { write: true });
    expect(k.page(t.translate(h)!).flags).toContain('head');
    const s = subscribe(k, t, h, 2 * HPAGE);
    t.mprotect(h + PAGE, PAGE, C.PROT_READ);
    expect(s.events()).toEqual(['CLEAR 0+512', 'PROTECTION_VMA 1+1']); // the VMA split splits the PMD first
    s.log.length = 0;
    t.madvise(h + HPAGE + PAGE, PAGE, C.MADV_DONTNEED);
    expect(s.events()).toEqual(['CLEAR 513+1', 'CLEAR 512+512']); // the zap's range, then the split inside its walk
  });

  it('THP COW after fork: CLEAR over the huge range (the split), then the one page copied', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const m = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const h = Math.ceil(m / HPAGE) * HPAGE;
    t.touch(h, HPAGE, { write: true });
    t.fork();
    const s = subscribe(k, t, h, HPAGE);
    t.write(h + 3 * PAGE, 9);
    expect(s.events()).toEqual(['CLEAR 0+512', 'CLEAR 3+1']);
  });

  it('hugetlb COW: CLEAR over the one huge page', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const t = k.spawn();
    const h = t.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.write(h, 1);
    t.fork();
    const s = subscribe(k, t, h, HPAGE);
    t.write(h + PAGE, 2);
    expect(s.events()).toEqual(['CLEAR 0+512']);
  });

  it('FOLL_LONGTERM migration out of ZONE_MOVABLE: CLEAR over the folio before it moves', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = written(t, 2);
    const old = t.translate(a);
    expect(k.page(old!).zone).toBe('Movable');
    const s = subscribe(k, t, a, 2 * PAGE);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(old);
    expect(s.events()).toEqual(['CLEAR 0+1']);
    expect(s.log[0].pfn).toBe(old);
  });

  it('exit: RELEASE over everything, ->release, then the teardown UNMAP', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 2);
    const order: string[] = [];
    const sub = k.mmu_interval_notifier_insert(t.mm, a, 2 * PAGE, {
      invalidate(s, r, seq) { order.push(`${NAMES[r.event]} ${r.start} ${r.end === 2 ** 64}`); k.mmu_interval_set_seq(s, seq); return true; },
      release() { order.push('release'); },
    });
    t.exit();
    expect(order).toEqual(['RELEASE 0 true', 'release', 'UNMAP 0 true']);
    k.mmu_interval_notifier_remove(sub as MmuIntervalNotifier); // mmdrop after exit is fine
  });
});

describe.each(BACKENDS)('notifier gates and re-entrant callbacks (%s core)', (backend) => {
  it('a callback that itself breaks COW elsewhere does not lose the change it was called for', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = written(t, 4);
    t.fork();
    let nested = false;
    const s = subscribe(k, t, a, 4 * PAGE, (_s, r) => {
      if (r.start === a && !nested) {
        nested = true;
        t.write(a + 3 * PAGE, 5); // another COW, hence another gate, inside this callback
      }
    });
    const pa = k.pageArray(1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    expect(s.events()).toEqual(['CLEAR 0+1', 'CLEAR 3+1']);
    expect(pa.get(0)).toBe(t.translate(a));
  });
});
