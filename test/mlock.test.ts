// The mlock family (mm/mlock.c): checks and errnos in the kernel's order,
// VM_LOCKED / VM_LOCKONFAULT through split, merge, mprotect and munmap,
// locked_vm kept exact, population, PG_mlocked on frames, fork, MAP_LOCKED,
// mlockall and MCL_FUTURE.
import { describe, it, expect } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, ANON_PRIVATE, anon, expectCode, codeOf, pageAt } from './helpers';
import type { Kernel, Task } from '../src/index';

const MIB = 2 ** 20;

// locked_vm must equal the VM_LOCKED pages of the mm's VMAs.
function lockedPages(t: Task): number {
  return t.maps().filter((v) => v.flags & C.VM_LOCKED).reduce((n, v) => n + (v.end - v.start) / PAGE, 0);
}

function mlocked(k: Kernel, t: Task, addr: number): boolean {
  return pageAt(k, t, addr).flags.includes('mlocked');
}

describe.each(BACKENDS)('mlock (%s core)', (backend) => {
  it('mlock populates the range, sets VM_LOCKED and PG_mlocked, counts locked_vm; munlock undoes it', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 8);
    t.mlock(a + 2 * PAGE + 100, 2 * PAGE); // rounded out to pages 2..4
    expect(t.mm.locked_vm).toBe(3);
    expect(t.maps().map((v) => [(v.end - v.start) / PAGE, !!(v.flags & C.VM_LOCKED)])).toEqual([[2, false], [3, true], [3, false]]);
    for (const i of [2, 3, 4]) expect(mlocked(k, t, a + i * PAGE)).toBe(true);
    expect(t.translate(a)).toBeNull(); // outside the range: not populated
    expect(k.meminfo().Mlocked).toBe(12);
    expect(t.status().VmLck).toBe(12);
    t.munlock(a, 8 * PAGE);
    expect(t.mm.locked_vm).toBe(0);
    expect(t.maps()).toHaveLength(1); // merged back
    expect(mlocked(k, t, a + 3 * PAGE)).toBe(false);
    expect(k.meminfo().Mlocked).toBe(0);
  });

  it('mlock2(MLOCK_ONFAULT) locks without populating; later faults are mlocked', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 7); // present before the lock: mlocked by the lock itself
    t.mlock2(a, 4 * PAGE, C.MLOCK_ONFAULT);
    expect(t.mm.locked_vm).toBe(4);
    expect(t.maps()[0]!.flags & C.VM_LOCKED_MASK).toBe(C.VM_LOCKED_MASK);
    expect(mlocked(k, t, a)).toBe(true);
    expect(t.translate(a + PAGE)).toBeNull();
    t.write(a + PAGE, 1);
    expect(mlocked(k, t, a + PAGE)).toBe(true);
    // Re-locking without ONFAULT changes flags only: +0 pages.
    t.mlock(a, 4 * PAGE);
    expect(t.mm.locked_vm).toBe(4);
    expect(t.maps()[0]!.flags & C.VM_LOCKED_MASK).toBe(C.VM_LOCKED);
    expect(t.translate(a + 3 * PAGE)).not.toBeNull(); // populated now
  });

  it('checks in do_mlock() order: EINVAL flags, EPERM zero limit, ENOMEM limit (re-locking not double counted), ENOMEM hole', async () => {
    const k = await bootTest(backend, { memlock: 4 * PAGE });
    const t = k.spawn();
    const a = anon(t, 8);
    expectCode(k, () => t.mlock2(a, PAGE, 2), 'EINVAL');
    const z = k.spawn({ memlock: 0 });
    const za = anon(z, 1);
    expectCode(k, () => z.mlock2(za, PAGE, 2), 'EINVAL'); // flags before can_do_mlock()
    expectCode(k, () => z.mlock(za, PAGE), 'EPERM');
    expect(codeOf(() => z.munlock(za, PAGE))).toBeUndefined(); // munlock never EPERMs
    t.mlock(a, 4 * PAGE);
    expectCode(k, () => t.mlock(a + 4 * PAGE, PAGE), 'ENOMEM');
    t.mlock(a, 4 * PAGE); // at the limit, but already locked: passes
    t.mlock(a + PAGE, 2 * PAGE);
    expect(t.mm.locked_vm).toBe(4);
    t.munlock(a, 8 * PAGE);
    t.munmap(a + 2 * PAGE, PAGE);
    // A hole: the VMA before it is locked, then ENOMEM (as in Linux).
    expect(codeOf(() => t.mlock(a, 4 * PAGE))).toBe('ENOMEM');
    expect(t.mm.locked_vm).toBe(2);
    expect(lockedPages(t)).toBe(2);
    expect(codeOf(() => t.munlock(a, 4 * PAGE))).toBe('ENOMEM');
    expect(t.mm.locked_vm).toBe(0);
    // CAP_IPC_LOCK ignores the limit, and a zero one.
    const root = k.spawn({ uid: 0, memlock: 0 });
    const r = anon(root, 16);
    root.mlock(r, 16 * PAGE);
    expect(root.mm.locked_vm).toBe(16);
  });

  it('the ENOMEM names the counter, the request, the limit and the ulimit -l that would pass', async () => {
    const k = await bootTest(backend, { memlock: '64KiB' });
    const t = k.spawn({ memlock: { soft: '64KiB', hard: '1MiB' } });
    const a = anon(t, 32);
    t.mlock(a, 10 * PAGE);
    let err: unknown;
    try {
      t.mlock(a + 8 * PAGE, 12 * PAGE); // 2 pages already locked
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ENOMEM', syscall: 'mlock', detail: { counter: 'mm.locked_vm', current: 10, requested: 10, limit: 16, minUlimitKiB: 80 } });
    expect((err as Error).message).toContain('ulimit -l 80');
    // ... and that limit does let it pass.
    t.setrlimit('RLIMIT_MEMLOCK', { soft: 80 * 1024 - 1, hard: MIB });
    expectCode(k, () => t.mlock(a + 8 * PAGE, 12 * PAGE), 'ENOMEM'); // 19 pages
    t.setrlimit('RLIMIT_MEMLOCK', { soft: 80 * 1024, hard: MIB });
    t.mlock(a + 8 * PAGE, 12 * PAGE);
    expect(t.mm.locked_vm).toBe(20);
  });

  it('populate errors after the lock: SIGBUS past EOF is ENOMEM, out of memory EAGAIN; the range stays locked', async () => {
    const k = await bootTest(backend, { memory: '16MiB', memlock: Infinity, thp: 'never' });
    const t = k.spawn();
    const fd = t.open(k.createFile({ fs: 'ext4', size: PAGE }));
    const f = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    expect(codeOf(() => t.mlock(f, 2 * PAGE))).toBe('ENOMEM');
    expect(t.mm.locked_vm).toBe(2); // __mm_populate() runs after apply_vma_lock_flags()
    expect(t.translate(f)).not.toBeNull();
    const z = k.spawn({ memlock: 0 });
    const za = anon(z, 2);
    let err: unknown;
    try {
      z.mlock(za, 2 * PAGE);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EPERM', detail: { counter: 'mm.locked_vm', current: 0, requested: 2, limit: 0, minUlimitKiB: 8 } });
    const big = t.mmap({ length: 32 * MIB, prot: RW, flags: ANON_PRIVATE | C.MAP_NORESERVE });
    expect(codeOf(() => t.mlock(big, 32 * MIB))).toBe('EAGAIN');
    expect(t.mm.locked_vm).toBe(2 + (32 * MIB) / PAGE);
  });

  it('rounding: the offset in the page counts; a negative length wraps (size_t)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.mlock(a + PAGE - 1, 2); // touches pages 0 and 1
    expect(t.mm.locked_vm).toBe(2);
    t.mlock(a, -1); // PAGE_ALIGN(2^64 - 1) wraps to 0: nothing to do
    expect(t.mm.locked_vm).toBe(2);
    expectCode(k, () => t.mlock(a + PAGE, -2 * PAGE), 'EINVAL');
    t.mlock(a, 0);
    expect(t.mm.locked_vm).toBe(2);
  });

  it('locked_vm stays exact through mprotect splits, munmap of parts, MAP_FIXED over a locked range and exit', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 16);
    t.mlock(a, 16 * PAGE);
    t.mprotect(a + 4 * PAGE, 4 * PAGE, C.PROT_READ);
    expect(t.maps()).toHaveLength(3);
    expect(t.maps().every((v) => v.flags & C.VM_LOCKED)).toBe(true);
    expect(t.mm.locked_vm).toBe(16);
    t.munmap(a + 6 * PAGE, 4 * PAGE);
    expect(t.mm.locked_vm).toBe(12);
    expect(lockedPages(t)).toBe(12);
    t.mmap({ addr: a, length: 2 * PAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_FIXED });
    expect(t.mm.locked_vm).toBe(10);
    expect(lockedPages(t)).toBe(10);
    expect(k.meminfo().Mlocked).toBe(40);
    t.exit();
    expect(t.mm.locked_vm).toBe(0);
    expect(k.meminfo().Mlocked).toBe(0);
  });

  it('mprotect making a locked private read-only range writable breaks COW at once (mprotect_fixup())', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = t.mmap({ length: 2 * PAGE, prot: C.PROT_READ, flags: ANON_PRIVATE });
    t.mlock(a, 2 * PAGE);
    expect(t.translate(a)).toBe(0); // read-populated: the zero page
    t.mprotect(a, PAGE, RW);
    expect(t.translate(a)).not.toBe(0); // a private copy, mlocked
    expect(mlocked(k, t, a)).toBe(true);
    expect(t.translate(a + PAGE)).toBe(0);
    expect(t.mm.locked_vm).toBe(2);
  });

  it('hugetlb, VM_IO-like and fsdax VMAs are silently neither locked nor counted', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 2 }, pmem: '8MiB' });
    const t = k.spawn();
    const h = t.mmap({ length: 2 * MIB, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.mlock(h, 2 * MIB);
    expect(t.mm.locked_vm).toBe(0);
    expect(t.maps()[0]!.flags & C.VM_LOCKED).toBe(0);
    const f = k.createFile({ fs: 'fsdax', size: 4 * PAGE });
    const fd = t.open(f);
    const d = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.mlock(d, 4 * PAGE);
    expect(t.mm.locked_vm).toBe(0);
    t.mlockall(C.MCL_CURRENT);
    expect(t.mm.locked_vm).toBe(0);
    const m = t.mmap({ length: 2 * MIB, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB | C.MAP_LOCKED });
    expect(t.maps().find((v) => v.start === m)!.flags & C.VM_LOCKED).toBe(0);
    expect(t.mm.locked_vm).toBe(0);
  });

  it('fork: the child inherits neither the locks nor MCL_FUTURE nor the counters, but uid, caps and rlimits', async () => {
    const k = await bootTest(backend);
    const t = k.spawn({ uid: 1234, caps: ['CAP_IPC_LOCK'], memlock: { soft: '1MiB', hard: '2MiB' } });
    const a = anon(t, 4);
    t.mlock(a, 4 * PAGE);
    t.mlockall(C.MCL_FUTURE);
    const c = t.fork();
    expect(c.mm.locked_vm).toBe(0);
    expect(c.mm.def_flags).toBe(0);
    expect(c.maps()[0]!.flags & C.VM_LOCKED_MASK).toBe(0);
    expect(c.uid).toBe(1234);
    expect(c.capable('CAP_IPC_LOCK')).toBe(true);
    expect(c.getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: MIB, hard: 2 * MIB });
    c.setrlimit('RLIMIT_MEMLOCK', { soft: 0, hard: MIB }); // the copy is the child's own
    expect(t.getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: MIB, hard: 2 * MIB });
    const b = anon(c, 1);
    expect(c.maps().find((v) => v.start === b)!.flags & C.VM_LOCKED).toBe(0);
  });

  it('MAP_LOCKED: EPERM for a zero limit, EAGAIN past it (mlock_future_ok), else locked, counted and populated', async () => {
    const k = await bootTest(backend, { memlock: 8 * PAGE, thp: 'never' });
    const t = k.spawn();
    const flags = ANON_PRIVATE | C.MAP_LOCKED;
    const a = t.mmap({ length: 6 * PAGE, prot: RW, flags });
    expect(t.mm.locked_vm).toBe(6);
    expect(t.translate(a + 5 * PAGE)).not.toBeNull();
    expect(mlocked(k, t, a)).toBe(true);
    expectCode(k, () => t.mmap({ length: 3 * PAGE, prot: RW, flags }), 'EAGAIN');
    const z = k.spawn({ memlock: 0 });
    expectCode(k, () => z.mmap({ length: PAGE, prot: RW, flags }), 'EPERM');
    expect(codeOf(() => z.mmap({ length: PAGE, prot: RW, flags: ANON_PRIVATE }))).toBeUndefined();
  });

  it('mlockall: EINVAL flags, EPERM zero limit, ENOMEM when total_vm exceeds the limit; MCL_FUTURE locks new mappings', async () => {
    const k = await bootTest(backend, { memlock: 8 * PAGE, thp: 'never' });
    const t = k.spawn();
    for (const f of [0, 8, C.MCL_ONFAULT]) expectCode(k, () => t.mlockall(f), 'EINVAL');
    const z = k.spawn({ memlock: 0 });
    expectCode(k, () => z.mlockall(8), 'EINVAL'); // flags before can_do_mlock()
    expectCode(k, () => z.mlockall(C.MCL_FUTURE), 'EPERM');
    const a = anon(t, 10);
    let err: unknown;
    try {
      t.mlockall(C.MCL_CURRENT);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ENOMEM', detail: { counter: 'mm.total_vm', current: 10, limit: 8, minUlimitKiB: 40 } });
    t.mlockall(C.MCL_FUTURE); // never fails the check
    expect(t.mm.locked_vm).toBe(0);
    const b = anon(t, 4);
    expect(t.mm.locked_vm).toBe(4);
    expect(t.translate(b + 3 * PAGE)).not.toBeNull();
    expectCode(k, () => anon(t, 5), 'EAGAIN');
    t.munmap(a, 10 * PAGE);
    t.mlockall(C.MCL_CURRENT | C.MCL_FUTURE | C.MCL_ONFAULT);
    expect(t.mm.def_flags).toBe(C.VM_LOCKED_MASK);
    const c = anon(t, 2);
    expect(t.translate(c)).toBeNull(); // ONFAULT: not populated
    expect(t.mm.locked_vm).toBe(6);
    t.munlockall();
    expect(t.mm.locked_vm).toBe(0);
    expect(t.mm.def_flags).toBe(0);
    expect(lockedPages(t)).toBe(0);
  });

  it('an mlocked page is not pinned and stays migratable; the copy stays mlocked', async () => {
    const k = await bootTest(backend, { movable: '16MiB', thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 1);
    t.mlock(a, PAGE);
    const before = pageAt(k, t, a);
    expect(before.refcount).toBe(1);
    expect(before.maybeDmaPinned).toBe(false);
    expect(before.zone).toBe('Movable');
    expect(k.migrate_folio(before.pfn)).toBe(0);
    const after = pageAt(k, t, a);
    expect(after.pfn).not.toBe(before.pfn);
    expect(after.flags).toContain('mlocked');
    expect(k.meminfo().Mlocked).toBe(4);
    // FOLL_LONGTERM migrates one out of ZONE_MOVABLE before pinning, mlocked still.
    const b = anon(t, 1);
    t.mlock(b, PAGE);
    const old = pageAt(k, t, b);
    expect(old.zone).toBe('Movable');
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, b, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(1);
    expect(pa.get(0)).not.toBe(old.pfn);
    expect(k.page(pa.get(0)!)).toMatchObject({ zone: 'Normal', maybeDmaPinned: true });
    expect(k.page(pa.get(0)!).flags).toContain('mlocked');
    k.unpin_user_pages(pa, 1);
  });

  // A written page shared with a forked child (COW on both sides).
  async function forkedPage() {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 5);
    const c = t.fork();
    return { k, t, c, a, shared: pageAt(k, t, a).pfn };
  }

  it('mlock of a private writable range breaks COW (a write populate); the child page is not mlocked', async () => {
    const { k, t, c, a, shared } = await forkedPage();
    t.mlock(a, PAGE);
    expect(pageAt(k, t, a).pfn).not.toBe(shared);
    expect(mlocked(k, t, a)).toBe(true);
    expect(mlocked(k, c, a)).toBe(false);
  });

  it('a COW fault in a locked VMA mlocks the new page and munlocks the replaced one', async () => {
    const { k, t, c, a, shared } = await forkedPage();
    t.mlock2(a, PAGE, C.MLOCK_ONFAULT); // no populate: the shared page stays mapped
    expect(k.page(shared).flags).toContain('mlocked');
    t.write(a, 6); // COW: t gets a copy
    expect(pageAt(k, t, a).pfn).not.toBe(shared);
    expect(mlocked(k, t, a)).toBe(true);
    expect(k.page(shared).flags).not.toContain('mlocked');
    expect(c.read(a)).toBe(5);
    expect(k.meminfo().Mlocked).toBe(4);
  });
});
