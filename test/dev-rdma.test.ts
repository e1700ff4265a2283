// The RDMA NIC with pinned MRs: ibv_reg_mr's check order, the pinned_vm
// charge, release on dereg, close and exit, fork, the libibverbs
// MADV_DONTFORK emulation, the stale MR, and the scatterlist.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE, expectCode, codeOf } from './helpers';
import { cleanFileMapping } from './rdma-helpers';

const LW = C.IB_ACCESS_LOCAL_WRITE;
const RWR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const HPAGE = 2 * 1024 * 1024;

// A task with `pages` written anonymous pages and a PD on a new NIC.
function setup(k: Kernel, pages: number, spawn: Parameters<Kernel['spawn']>[0] = {}, nicOpts = {}) {
  const t = k.spawn(spawn);
  const a = anon(t, pages);
  t.touch(a, pages * PAGE, { write: true });
  const nic = k.rdma(nicOpts);
  const pd = nic.alloc_pd(t);
  return { t, a, nic, pd };
}

function errOf(fn: () => unknown): { code: string; detail?: unknown } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; detail?: unknown };
  }
  throw new Error('no error');
}

// The oracle of the scatterlist: maximal runs of consecutive pfns in VA order, capped.
function expectedSg(t: Task, addr: number, pages: number, maxPages: number) {
  const out: { pfn: number; pages: number }[] = [];
  for (let i = 0; i < pages; i++) {
    const pfn = t.translate(addr + i * PAGE)!;
    const last = out.at(-1);
    if (last && last.pfn + last.pages === pfn && last.pages < maxPages) last.pages++;
    else out.push({ pfn, pages: 1 });
  }
  return out;
}

describe.each(BACKENDS)('RDMA pinned MRs (%s core)', (backend) => {
  it('ibv_reg_mr checks in the kernel order, each failure shadowing the next, and changes nothing', async () => {
    const k = await bootTest(backend);
    const zero = setup(k, 4, { memlock: 0 });
    const { pd } = zero;
    const nic = zero.nic;
    // ib_check_mr_access: REMOTE_WRITE without LOCAL_WRITE, before the bad-bit test and everything after.
    expect(errOf(() => nic.reg_mr(pd, 0, 0, C.IB_ACCESS_REMOTE_WRITE | (1 << 15) | C.IB_ACCESS_ON_DEMAND)).code).toBe('EINVAL');
    expect(errOf(() => nic.reg_mr(pd, 0, 0, C.IB_ACCESS_REMOTE_WRITE)).code).toBe('EINVAL');
    // Bits outside IB_ACCESS_SUPPORTED, before ON_DEMAND's EOPNOTSUPP.
    expect(errOf(() => nic.reg_mr(pd, zero.a, PAGE, (1 << 15) | C.IB_ACCESS_ON_DEMAND)).code).toBe('EINVAL');
    // ON_DEMAND without ODP: ib_check_mr_access runs in uverbs before ib_umem_get's EPERM (the kernel's order).
    expectCode(k, () => nic.reg_mr(pd, zero.a, 0, C.IB_ACCESS_ON_DEMAND), 'EOPNOTSUPP');
    expectCode(k, () => nic.reg_mr(pd, zero.a, PAGE, C.IB_ACCESS_FLUSH_GLOBAL | LW), 'EOPNOTSUPP');
    // The optional range (RELAXED_ORDERING) is accepted by the check; here EPERM follows.
    // ib_umem_get: overflow before can_do_mlock.
    expectCode(k, () => nic.reg_mr(pd, PAGE, 2 ** 64, LW), 'EINVAL');
    // can_do_mlock() with a zero limit: EPERM before the empty-range EINVAL.
    const eperm = errOf(() => nic.reg_mr(pd, zero.a, 0, LW | C.IB_ACCESS_RELAXED_ORDERING));
    expect(eperm.code).toBe('EPERM');
    expect(eperm.detail).toMatchObject({ counter: 'mm.pinned_vm', limit: 0 });

    const { t, a, pd: pd2 } = setup(k, 4, { memlock: 3 * PAGE });
    const nic2 = pd2.context.nic;
    // npages == 0 before the limit; the limit before the pin (the range is not even mapped).
    expectCode(k, () => nic2.reg_mr(pd2, a, 0, LW), 'EINVAL');
    const over = errOf(() => nic2.reg_mr(pd2, 0x10000000, 4 * PAGE, LW));
    expect(over.code).toBe('ENOMEM');
    expect(over.detail).toEqual({ counter: 'mm.pinned_vm', current: 0, requested: 4, limit: 3, minUlimitKiB: 16 });
    expect(t.mm.pinned_vm).toBe(0);
    // Within the limit, an unmapped range: the pin's EFAULT, charge undone.
    expectCode(k, () => nic2.reg_mr(pd2, 0x10000000, 2 * PAGE, LW), 'EFAULT');
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(nic2.mrs()).toEqual([]);
  });

  it('a pin failing after two batches unpins every page (undirtied) and uncharges', async () => {
    const k = await bootTest(backend);
    const t = k.spawn({ memlock: Infinity });
    const a = t.mmap({ length: 1100 * PAGE, prot: RW, flags: ANON_PRIVATE });
    t.touch(a, 1100 * PAGE, { write: true });
    t.munmap(a + 1050 * PAGE, PAGE);
    const nic = k.rdma();
    const pd = nic.alloc_pd(t);
    const acquired = k.vmstat().nr_foll_pin_acquired;
    const released = k.vmstat().nr_foll_pin_released;
    // (not all-or-nothing for vmstat: the pin counters moved, as in the kernel)
    expect(codeOf(() => nic.reg_mr(pd, a, 1100 * PAGE, LW))).toBe('EFAULT');
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(k.page(t.translate(a + 1049 * PAGE)!).flags).not.toContain('dirty');
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    // The first two batches of 512 and the 26 before the hole were pinned, then let go.
    expect(k.vmstat().nr_foll_pin_acquired - acquired).toBe(1050);
    expect(k.vmstat().nr_foll_pin_released - released).toBe(1050);
  });

  it('charges the pages the range spans, before pinning, exact limit passing; CAP_IPC_LOCK bypasses', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 8, { memlock: 4 * PAGE });
    const mr = nic.reg_mr(pd, a + 100, 2 * PAGE, LW); // spans 3 pages
    expect(t.mm.pinned_vm).toBe(3);
    expect(t.status().VmPin).toBe(12);
    expect(t.procStatus()).toContain('VmPin:\t      12 kB');
    expect(mr.umem).toMatchObject({ npages: 3, offset: 100 });
    const one = nic.reg_mr(pd, a + 100, 1, LW); // the same page again: charged again, total = limit
    expect(t.mm.pinned_vm).toBe(4);
    const again = errOf(() => nic.reg_mr(pd, a, 1, LW));
    expect(again).toMatchObject({ code: 'ENOMEM', detail: { current: 4, requested: 1, limit: 4 } });
    expect(k.memlockLedger()).toEqual([{ counter: 'mm.pinned_vm', pages: 4, pid: t.pid, uid: t.uid, by: 'ib_umem_get', device: nic.name }]);
    expect(nic.charges()).toHaveLength(1);
    nic.dereg_mr(one);
    nic.dereg_mr(mr);
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);

    const root = setup(k, 8, { caps: ['CAP_IPC_LOCK'], memlock: 0 });
    const big = root.nic.reg_mr(root.pd, root.a, 8 * PAGE, LW); // limit 0: can_do_mlock passes on the capability
    expect(root.t.mm.pinned_vm).toBe(8);
    expect(root.nic.pins()).toEqual([expect.objectContaining({ pages: 8, pid: root.t.pid, gup_flags: C.FOLL_PIN | C.FOLL_LONGTERM | C.FOLL_WRITE })]);
    root.nic.dereg_mr(big);
    expect(codeOf(() => root.nic.dereg_mr(big))).toBe('EINVAL');
  });

  it('GUP flags: FOLL_LONGTERM, FOLL_WRITE only when writable; the pre-6.2 FOLL_FORCE for read-only MRs as an option', async () => {
    const k = await bootTest(backend);
    const { a, nic, pd } = setup(k, 2);
    nic.reg_mr(pd, a, PAGE, C.IB_ACCESS_REMOTE_READ);
    nic.reg_mr(pd, a, PAGE, C.IB_ACCESS_MW_BIND);
    const old = k.rdma({ follForce: true });
    const opd = old.alloc_pd(pd.context.task);
    old.reg_mr(opd, a, PAGE, C.IB_ACCESS_REMOTE_READ);
    expect(nic.pins().map((p) => p.gup_flags)).toEqual([C.FOLL_PIN | C.FOLL_LONGTERM, C.FOLL_PIN | C.FOLL_LONGTERM | C.FOLL_WRITE]);
    expect(old.pins()[0].gup_flags).toBe(C.FOLL_PIN | C.FOLL_LONGTERM | C.FOLL_WRITE | C.FOLL_FORCE);
  });

  it('dereg unpins (dirtying writable MRs), uncharges, and kills the key', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    const pfn = t.translate(a)!;
    const ref = k.page(pfn).refcount;
    const mr = nic.reg_mr(pd, a, 4 * PAGE, RWR);
    expect(k.page(pfn).maybeDmaPinned).toBe(true);
    expect(nic.remote_write(mr.rkey, a + 8, 5)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: false });
    nic.dereg_mr(mr);
    expect(k.page(pfn).refcount).toBe(ref);
    expect(k.page(pfn).maybeDmaPinned).toBe(false);
    expect(t.read(a)).toBe(5);
    expect(nic.remote_write(mr.rkey, a, 6).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(nic.remote_read(mr.rkey, a)).toEqual({ status: 'IBV_WC_REM_ACCESS_ERR', faulted: false, word: null });
    expect(t.read(a)).toBe(5);
  });

  it('release dirties the pages of a writable MR (set_page_dirty_lock), not of a read-only one; writable file MRs are refused', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = cleanFileMapping(k, t, 2);
    const nic = k.rdma();
    const pd = nic.alloc_pd(t);
    // GUP refuses FOLL_LONGTERM|FOLL_WRITE on a file that writes back (v6.5+): EFAULT, nothing kept.
    expect(codeOf(() => nic.reg_mr(pd, a, PAGE, RWR))).toBe('EFAULT');
    expect(t.mm.pinned_vm).toBe(0);
    const r = nic.reg_mr(pd, a + PAGE, PAGE, C.IB_ACCESS_REMOTE_READ);
    const b = anon(t, 1);
    t.write(b, 1);
    const pfn = t.translate(b)!;
    const clean = k.page(pfn).flags.includes('dirty');
    const w = nic.reg_mr(pd, b, PAGE, RWR);
    nic.dereg_mr(w);
    nic.dereg_mr(r);
    expect(k.page(t.translate(a + PAGE)!).flags).not.toContain('dirty');
    expect([clean, k.page(pfn).flags.includes('dirty')]).toEqual([false, true]);
  });

  it('remote access: the key, the range and REMOTE_WRITE/READ are checked; an error completion touches nothing', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    const ro = nic.reg_mr(pd, a, 2 * PAGE, C.IB_ACCESS_REMOTE_READ);
    const wo = nic.reg_mr(pd, a + 2 * PAGE, 2 * PAGE, LW | C.IB_ACCESS_REMOTE_WRITE);
    t.write(a, 11);
    const before = k.digest();
    expect(nic.remote_write(ro.rkey, a, 1).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(nic.remote_read(wo.rkey, a + 2 * PAGE).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(nic.remote_write(wo.rkey, a + 4 * PAGE, 1).status).toBe('IBV_WC_REM_ACCESS_ERR'); // past the end
    expect(nic.remote_write(wo.rkey, a + 2 * PAGE - 1, 1).status).toBe('IBV_WC_REM_ACCESS_ERR'); // before the start
    expect(nic.remote_write(0x1234, a, 1).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(k.digest()).toBe(before);
    expect(nic.remote_read(ro.rkey, a + 100)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: false, word: 11 });
    expect(nic.remote_write(wo.rkey, a + 3 * PAGE + 4, 9).status).toBe('IBV_WC_SUCCESS');
    expect(t.read(a + 3 * PAGE)).toBe(9);
    expect(() => nic.remote_write(wo.rkey, a, -1)).toThrow(RangeError);
    expect(() => nic.reg_mr({} as never, a, 1, 0)).toThrow(TypeError);
  });

  it('closing the uverbs fd, or the exit of the last holder, destroys the MRs; the uncharge reaches an exited task\'s mm', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    expect(t.fds.get(pd.fd)).toBe(pd.context);
    expect(pd.context.path).toBe('/dev/infiniband/uverbs0');
    nic.reg_mr(pd, a, 2 * PAGE, LW);
    t.close(pd.fd);
    expect(nic.mrs()).toEqual([]);
    expect(t.mm.pinned_vm).toBe(0);
    expect(codeOf(() => nic.reg_mr(pd, a, PAGE, LW))).toBe('EBADF');

    const pd2 = nic.alloc_pd(t);
    nic.reg_mr(pd2, a, 4 * PAGE, LW);
    const pfn = t.translate(a)!;
    const child = t.fork(); // shares the fd
    t.exit();
    expect(nic.mrs()).toHaveLength(1);
    expect(t.mm.pinned_vm).toBe(4); // the exited task's mm keeps the charge
    expect(k.page(pfn).maybeDmaPinned).toBe(true);
    child.exit();
    expect(nic.mrs()).toEqual([]);
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(k.page(pfn).refcount).toBe(0);
    expect(k.meminfo().MemFree).toBe((await bootTest(backend)).meminfo().MemFree);
  });

  it('removing the NIC destroys every MR; its methods then fail with EBADF', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    const mr = nic.reg_mr(pd, a, 4 * PAGE, RWR);
    nic.close();
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.devices().filter((d) => d === nic)).toEqual([]);
    expect(codeOf(() => nic.reg_mr(pd, a, PAGE, LW))).toBe('EBADF');
    expect(codeOf(() => nic.remote_write(mr.rkey, a, 1))).toBe('EBADF');
    expect(codeOf(() => nic.alloc_pd(t))).toBe('EBADF');
    t.close(pd.fd); // the context's own release finds nothing left
    expect(k.memlockLedger()).toEqual([]);
  });

  it('fork with an MR: the child gets a copy at fork, the parent keeps the pinned page and the DMA', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 2);
    t.write(a, 1);
    const mr = nic.reg_mr(pd, a, 2 * PAGE, RWR);
    const pfn = t.translate(a)!;
    const child = t.fork();
    expect(t.translate(a)).toBe(pfn);
    expect(child.translate(a)).not.toBe(pfn);
    expect(child.read(a)).toBe(1);
    nic.remote_write(mr.rkey, a, 2);
    t.write(a + 4, 3); // no COW: the parent's page stays writable and pinned
    expect(t.translate(a)).toBe(pfn);
    expect(t.read(a)).toBe(3);
    expect(nic.remote_read(mr.rkey, a).word).toBe(3);
    expect(child.read(a)).toBe(1);
    expect(child.mm.pinned_vm).toBe(0);
  });

  it('copy-on-fork kernels: ibv_fork_init is unneeded and marks nothing', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 2);
    expect(k.rdma_sys()).toEqual({ netns: 'shared', copy_on_fork: true });
    nic.reg_mr(pd, a, PAGE, LW);
    expect(t.ibv_is_fork_initialized()).toBe(C.IBV_FORK_UNNEEDED);
    expect(t.ibv_fork_init()).toBe(0);
    expect(t.maps().some((m) => m.flags & C.VM_DONTCOPY)).toBe(false);
    expect(() => k.rdma({ copyOnFork: false })).toThrow(RangeError);
  });

  it('without copy-on-fork: ibv_fork_init makes reg_mr MADV_DONTFORK the page-rounded range; the child loses it; too late after a registration', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4, {}, { copyOnFork: false });
    expect(k.rdma_sys().copy_on_fork).toBe(false);
    expect(t.ibv_is_fork_initialized()).toBe(C.IBV_FORK_DISABLED);
    expect(t.ibv_fork_init()).toBe(0);
    expect(t.ibv_is_fork_initialized()).toBe(C.IBV_FORK_ENABLED);
    t.write(a, 7); // malloc data sharing the MR's first page
    // A failed registration takes its MADV_DONTFORK back.
    expect(codeOf(() => nic.reg_mr(pd, a, PAGE, C.IB_ACCESS_REMOTE_WRITE))).toBe('EINVAL');
    expect(t.maps().some((m) => m.flags & C.VM_DONTCOPY)).toBe(false);
    const mr = nic.reg_mr(pd, a + 100, 200, RWR);
    const mr2 = nic.reg_mr(pd, a + 50, 100, LW);
    expect(t.maps().filter((m) => m.flags & C.VM_DONTCOPY).map((m) => [m.start, m.end])).toEqual([[a, a + PAGE]]);
    const child = t.fork();
    expect(codeOf(() => child.read(a))).toBe('SIGSEGV');
    expect(child.read(a + PAGE)).toBe(0);
    nic.dereg_mr(mr);
    expect(t.maps().some((m) => m.flags & C.VM_DONTCOPY)).toBe(true); // mr2 still covers the page
    nic.dereg_mr(mr2);
    expect(t.maps().some((m) => m.flags & C.VM_DONTCOPY)).toBe(false);
    expect(t.fork().read(a)).toBe(7);

    const late = k.spawn();
    const b = anon(late, 1);
    const lpd = nic.alloc_pd(late);
    nic.reg_mr(lpd, b, PAGE, LW);
    expect(codeOf(() => late.ibv_fork_init())).toBe('EINVAL');
    expect(late.ibv_is_fork_initialized()).toBe(C.IBV_FORK_DISABLED);
  });

  it('the stale MR: after munmap and a new mmap at the same address the NIC still reaches the old frame, freed only at dereg', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 2);
    const mr = nic.reg_mr(pd, a, 2 * PAGE, RWR);
    const old = t.translate(a)!;
    t.munmap(a, 2 * PAGE);
    expect(k.page(old).refcount).toBeGreaterThan(0); // the pin holds the frame, mapped nowhere
    expect(k.page(old).mapcount).toBe(0);
    const b = t.mmap({ addr: a, length: 2 * PAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_FIXED });
    expect(b).toBe(a);
    t.write(a, 1);
    expect(nic.remote_write(mr.rkey, a, 42).status).toBe('IBV_WC_SUCCESS');
    expect(t.read(a)).toBe(1); // the CPU does not see it
    expect(k.dma_read(old)).toBe(42); // the old frame does
    expect(nic.remote_read(mr.rkey, a).word).toBe(42);
    expect(t.mm.pinned_vm).toBe(2);
    const free1 = k.meminfo().MemFree;
    nic.dereg_mr(mr);
    expect(k.meminfo().MemFree).toBe(free1 + 2 * PAGE / 1024);
    expect(k.page(old).refcount).toBe(0);
  });

  it('the scatterlist: runs of consecutive pfns in VA order, capped at maxSegment; a THP gives one entry', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn({ memlock: Infinity });
    const base = t.mmap({ length: 3 * HPAGE, prot: RW, flags: ANON_PRIVATE });
    const a = Math.ceil(base / HPAGE) * HPAGE;
    t.touch(a, HPAGE, { write: true });
    expect(k.page(t.translate(a)!).order).toBe(9);
    const nic = k.rdma();
    const small = k.rdma({ maxSegment: 64 * 1024 + 100 }); // rounded down to pages
    const pd = nic.alloc_pd(t);
    const spd = small.alloc_pd(t);
    const mr = nic.reg_mr(pd, a, HPAGE, LW);
    expect(mr.sg).toEqual([{ pfn: t.translate(a), pages: 512 }]);
    const capped = small.reg_mr(spd, a + 100, HPAGE - 100, LW);
    expect(capped.sg).toHaveLength(32);
    expect(capped.sg).toEqual(expectedSg(t, a, 512, 16));
    expect((capped.umem as { nents: number }).nents).toBe(32);
    // 4 KiB pages (THP off for this range): whatever the allocator gave, the runs of the oracle.
    const b = t.mmap({ length: 700 * PAGE, prot: RW, flags: ANON_PRIVATE });
    t.madvise(b, 700 * PAGE, C.MADV_NOHUGEPAGE);
    for (let i = 699; i >= 0; i -= 3) t.write(b + i * PAGE, i); // scrambled order
    t.touch(b, 700 * PAGE, { write: true });
    const mixed = small.reg_mr(spd, b, 700 * PAGE, LW);
    expect(mixed.sg).toEqual(expectedSg(t, b, 700, 16));
    expect(mixed.sg.reduce((s, e) => s + e.pages, 0)).toBe(700);
  });

  it('FOLL_LONGTERM inside the pin batches migrates CMA pages first: the MR holds the new frames, which the CPU maps too', async () => {
    const k = await bootTest(backend, { memory: '128MiB', cma: '96MiB', thp: 'never' });
    const { t, a, nic, pd } = setup(k, 600, { memlock: Infinity });
    expect(k.page(t.translate(a)!).migratetype).toBe('CMA');
    t.write(a + 599 * PAGE, 77);
    const mr = nic.reg_mr(pd, a, 600 * PAGE, RWR);
    expect(k.vmstat().pgmigrate_success).toBe(600);
    expect(k.page(t.translate(a)!).migratetype).not.toBe('CMA');
    expect(mr.sg).toEqual(expectedSg(t, a, 600, 2 ** 31 / PAGE));
    expect(nic.remote_read(mr.rkey, a + 599 * PAGE).word).toBe(77);
    nic.remote_write(mr.rkey, a, 5);
    expect(t.read(a)).toBe(5);
  });

  it('property: random reg/dereg/close/fork/exit keep pinned_vm = ledger = live MRs\' pages, and pins balanced', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.record({
      op: fc.constantFrom('reg', 'reg', 'reg', 'dereg', 'close', 'fork', 'exit', 'munmap'),
      task: fc.nat(2), off: fc.nat(4 * PAGE), len: fc.integer({ min: 0, max: 6 * PAGE }), pick: fc.nat(),
    }), { maxLength: 25 }), async (ops) => {
      const k = await bootTest(backend);
      const nic = k.rdma();
      const free0 = k.meminfo().MemFree;
      const tasks = [0, 1, 2].map(() => k.spawn({ memlock: 12 * PAGE }));
      const areas = tasks.map((t) => { const a = anon(t, 10); t.touch(a, 10 * PAGE, { write: true }); return a; });
      const pds = tasks.map((t) => nic.alloc_pd(t));
      const all: Task[] = [...tasks];
      for (const o of ops) {
        const i = o.task;
        const t = tasks[i];
        try {
          if (o.op === 'reg') nic.reg_mr(pds[i], areas[i] + o.off, o.len, LW | C.IB_ACCESS_REMOTE_READ);
          else if (o.op === 'dereg' && nic.mrs().length) nic.dereg_mr(nic.mrs()[o.pick % nic.mrs().length]);
          else if (o.op === 'close') t.close(pds[i].fd);
          else if (o.op === 'fork') all.push(t.fork());
          else if (o.op === 'exit') t.exit();
          else if (o.op === 'munmap') t.munmap(areas[i] + Math.floor(o.off / PAGE) * PAGE, PAGE);
        } catch (e) {
          if (!(e as { code?: string }).code) throw e;
        }
        const live = nic.mrs();
        for (const tj of tasks) {
          const mine = live.filter((m) => m.pd.context.task === tj).reduce((s, m) => s + (m.umem as { npages: number }).npages, 0);
          expect(tj.mm.pinned_vm).toBe(mine);
          const led = k.memlockLedger().filter((c) => c.pid === tj.pid && c.counter === 'mm.pinned_vm').reduce((s, c) => s + c.pages, 0);
          expect(led).toBe(mine);
        }
        expect(nic.pins().reduce((s, p) => s + p.pages, 0)).toBe(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released);
      }
      for (const t of all) if (!t.exited) t.exit();
      expect(nic.mrs()).toEqual([]);
      expect(k.memlockLedger()).toEqual([]);
      expect(k.vmstat().nr_foll_pin_acquired).toBe(k.vmstat().nr_foll_pin_released);
      expect(k.meminfo().MemFree).toBe(free0);
    }), { numRuns: 25 });
  });
});

describe('RDMA: the two cores agree', () => {
  it('the same registrations, remote accesses, ODP faults and invalidations give the same scatterlists, words and digest', async () => {
    const run = async (backend: 'wasm' | 'ts') => {
      const k = await bootTest(backend, { thp: 'always' });
      const { t, a, nic, pd } = setup(k, 1024, { memlock: Infinity }, { odp: true, maxSegment: 256 * 1024 });
      const mr = nic.reg_mr(pd, a + 5, 900 * PAGE, RWR);
      const odp = nic.reg_mr(pd, a, 1024 * PAGE, RWR | C.IB_ACCESS_ON_DEMAND);
      const words = [0, 17, 511, 899].map((i) => [nic.remote_write(mr.rkey, a + i * PAGE, i).status, nic.remote_read(odp.rkey, a + i * PAGE).word]);
      t.madvise(a, 512 * PAGE, C.MADV_DONTNEED);
      words.push([nic.remote_write(odp.rkey, a + 3 * PAGE, 3).status, nic.remote_read(mr.rkey, a + 3 * PAGE).word]);
      const out = { sg: mr.sg, words, stats: odp.odpStats(), digest: k.digest() };
      t.exit();
      return { ...out, after: k.digest() };
    };
    expect(await run('wasm')).toEqual(await run('ts'));
  });
});
