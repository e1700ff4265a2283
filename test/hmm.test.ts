// hmm_range_fault(): snapshots and faults of a range for a device, with
// the kernel's entry encoding, its errnos and no references taken, on both
// cores.
import { describe, expect, it } from 'vitest';
import {
  HMM_PFN_VALID, HMM_PFN_WRITE, HMM_PFN_ERROR, HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, hmm_pfn_to_map_order,
  hmm_pfn_to_pfn, type Kernel, type Task, type MmuIntervalNotifier, type HmmRange,
} from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE, codeOf } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const FLAGS = HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_ERROR;

function notifier(k: Kernel, t: Task, start: number, length: number): MmuIntervalNotifier {
  const sub = k.mmu_interval_notifier_insert(t.mm, start, length, {
    invalidate(s, _r, seq) { k.mmu_interval_set_seq(s, seq); return true; },
  });
  if (typeof sub === 'number') throw new Error(`insert: ${sub}`);
  return sub;
}

function range(k: Kernel, sub: MmuIntervalNotifier, start: number, pages: number, default_flags = 0n): HmmRange {
  return {
    notifier: sub, notifier_seq: k.mmu_interval_read_begin(sub), start, end: start + pages * PAGE,
    hmm_pfns: new BigUint64Array(pages), default_flags, pfn_flags_mask: 0n,
  };
}

const flagsOf = (e: bigint) => [e & HMM_PFN_VALID ? 'V' : '', e & HMM_PFN_WRITE ? 'W' : '', e & HMM_PFN_ERROR ? 'E' : ''].join('');

describe.each(BACKENDS)('hmm_range_fault (%s core)', (backend) => {
  it('snapshot: present pages are VALID (+WRITE) with their pfn, absent ones 0; no reference or pin is taken', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 1);
    t.read(a + PAGE); // the zero page: valid, read-only
    const pfn = t.translate(a)!;
    const before = k.page(pfn);
    const sub = notifier(k, t, a, 4 * PAGE);
    const r = range(k, sub, a, 4);
    expect(k.hmm_range_fault(r)).toBe(0);
    expect([...r.hmm_pfns].map(flagsOf)).toEqual(['VW', 'V', '', '']);
    expect(hmm_pfn_to_pfn(r.hmm_pfns[0])).toBe(pfn);
    expect(hmm_pfn_to_pfn(r.hmm_pfns[1])).toBe(t.translate(a + PAGE));
    expect(hmm_pfn_to_map_order(r.hmm_pfns[0])).toBe(0);
    const after = k.page(pfn);
    expect(after.refcount).toBe(before.refcount);
    expect(after.mapcount).toBe(before.mapcount);
    expect(after.pincount).toBe(before.pincount);
  });

  it('REQ_FAULT faults absent pages in; REQ_WRITE breaks COW of the zero page; per-entry requests through the mask', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.read(a); // zero page
    const sub = notifier(k, t, a, 4 * PAGE);
    const r = range(k, sub, a, 4);
    r.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
    r.hmm_pfns.set([HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, HMM_PFN_REQ_FAULT, 0n, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE]);
    const ret = k.hmm_range_fault(r);
    // The COW of the zero page at a fired CLEAR on our own interval: the
    // sequence moved, so the caller must begin again (the driver loop).
    expect(ret).toBe(-C.EBUSY);
    r.notifier_seq = k.mmu_interval_read_begin(sub);
    r.hmm_pfns.set([HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, HMM_PFN_REQ_FAULT, 0n, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE]);
    expect(k.hmm_range_fault(r)).toBe(0);
    expect([...r.hmm_pfns].map(flagsOf)).toEqual(['VW', 'V', '', 'VW']);
    for (const i of [0, 1, 3]) expect(hmm_pfn_to_pfn(r.hmm_pfns[i])).toBe(t.translate(a + i * PAGE));
    expect(t.translate(a + 2 * PAGE)).toBe(null); // not requested: not faulted
    expect(k.page(t.translate(a)!).refcount).toBe(1); // the mapping's only
  });

  it('-EBUSY when the sequence moved since read_begin (an munmap in between)', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const sub = notifier(k, t, a, 4 * PAGE);
    const r = range(k, sub, a, 4);
    t.munmap(a + 3 * PAGE, PAGE);
    expect(k.hmm_range_fault(r)).toBe(-C.EBUSY);
    expect(k.mmu_interval_read_retry(sub, r.notifier_seq)).toBe(true);
  });

  it('-EFAULT for a fault in a hole or a PROT_NONE VMA; without REQ_FAULT, a hole is 0 and PROT_NONE is HMM_PFN_ERROR', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 3);
    t.munmap(a + PAGE, PAGE);
    t.mprotect(a + 2 * PAGE, PAGE, C.PROT_NONE);
    t.write(a, 5);
    const sub = notifier(k, t, a, 3 * PAGE);
    const r = range(k, sub, a, 3);
    expect(k.hmm_range_fault(r)).toBe(0);
    expect([...r.hmm_pfns].map(flagsOf)).toEqual(['VW', '', 'E']);
    const hole = range(k, sub, a, 2, HMM_PFN_REQ_FAULT);
    expect(k.hmm_range_fault(hole)).toBe(-C.EFAULT);
    const none = range(k, sub, a + 2 * PAGE, 1, HMM_PFN_REQ_FAULT);
    expect(k.hmm_range_fault(none)).toBe(-C.EFAULT);
  });

  it('-EPERM for REQ_WRITE on a VMA without VM_WRITE; a present read-only page is fine for REQ_FAULT', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 2);
    t.write(a, 5);
    t.mprotect(a, 2 * PAGE, C.PROT_READ);
    const sub = notifier(k, t, a, 2 * PAGE);
    const w = range(k, sub, a, 2, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
    expect(k.hmm_range_fault(w)).toBe(-C.EPERM);
    const rd = range(k, sub, a, 1, HMM_PFN_REQ_FAULT);
    expect(k.hmm_range_fault(rd)).toBe(0);
    expect(flagsOf(rd.hmm_pfns[0])).toBe('V');
  });

  it('a PMD-mapped THP and a hugetlb page report map order 9 and the subpage pfns', async () => {
    const k = await bootTest(backend, { thp: 'always', hugepages: { '2MiB': 2 } });
    const t = k.spawn();
    const m = t.mmap({ length: 2 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const h = Math.ceil(m / HPAGE) * HPAGE;
    t.touch(h, HPAGE, { write: true });
    const g = t.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.write(g, 1);
    for (const base of [h, g]) {
      const sub = notifier(k, t, base, HPAGE);
      const r = range(k, sub, base, 512);
      expect(k.hmm_range_fault(r)).toBe(0);
      expect(hmm_pfn_to_map_order(r.hmm_pfns[7])).toBe(9);
      expect(hmm_pfn_to_pfn(r.hmm_pfns[7])).toBe(t.translate(base + 7 * PAGE));
      expect(r.hmm_pfns[7] & FLAGS).toBe(HMM_PFN_VALID | HMM_PFN_WRITE);
    }
  });

  it('misuse throws TypeError / RangeError before touching anything', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const sub = notifier(k, t, a, 2 * PAGE);
    const ok = range(k, sub, a, 2);
    expect(() => k.hmm_range_fault({ ...ok, notifier: {} as never })).toThrow(TypeError);
    expect(() => k.hmm_range_fault({ ...ok, start: a + 1 })).toThrow(RangeError);
    expect(() => k.hmm_range_fault({ ...ok, hmm_pfns: new BigUint64Array(1) })).toThrow(RangeError);
    expect(() => k.hmm_range_fault({ ...ok, hmm_pfns: new Uint32Array(2) as never })).toThrow(TypeError);
    expect(() => k.hmm_range_fault({ ...ok, default_flags: 1 as never })).toThrow(TypeError);
    t.exit();
    expect(codeOf(() => k.hmm_range_fault(ok))).toBe('ESRCH'); // its page tables are gone
  });
});
