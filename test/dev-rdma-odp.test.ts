// RDMA ODP MRs: no pin, no charge; device page faults through
// hmm_range_fault(), invalidations from every mm change, implicit ODP, and
// the kernel-level ib_umem_odp_* calls a user's own driver would use.
import { describe, expect, it } from 'vitest';
import type { IbUmemOdp, Kernel } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE, codeOf, expectCode } from './helpers';
import { cleanFileMapping } from './rdma-helpers';

const ODP = C.IB_ACCESS_ON_DEMAND | C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;

function setup(k: Kernel, pages: number, spawn: Parameters<Kernel['spawn']>[0] = {}) {
  const t = k.spawn(spawn);
  const a = anon(t, pages);
  const nic = k.rdma({ odp: true, faultLatencyNs: 5000 });
  const pd = nic.alloc_pd(t);
  return { t, a, nic, pd };
}

// A 2-page ODP MR the NIC has written word 1 into (page 0 faulted in).
function writtenMr(k: Kernel) {
  const s = setup(k, 2);
  const mr = s.nic.reg_mr(s.pd, s.a, 2 * PAGE, ODP);
  s.nic.remote_write(mr.rkey, s.a, 1);
  return { ...s, mr };
}

describe.each(BACKENDS)('RDMA ODP MRs (%s core)', (backend) => {
  it('registration pins nothing, charges nothing, and skips can_do_mlock (a zero limit is fine)', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4, { memlock: 0 });
    t.touch(a, 4 * PAGE, { write: true });
    const refs = [0, 1, 2, 3].map((i) => k.page(t.translate(a + i * PAGE)!).refcount);
    const mr = nic.reg_mr(pd, a + 10, 4 * PAGE - 20, ODP);
    expect(mr.odp).toBe(true);
    expect(mr.sg).toEqual([]);
    for (let i = 0; i < 4; i++) expect(nic.remote_write(mr.rkey, a + i * PAGE + 10, i + 1).status).toBe('IBV_WC_SUCCESS');
    expect([0, 1, 2, 3].map((i) => k.page(t.translate(a + i * PAGE)!).refcount)).toEqual(refs);
    expect([0, 1, 2, 3].map((i) => t.read(a + i * PAGE))).toEqual([1, 2, 3, 4]);
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(nic.pins()).toEqual([]);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(0);
    expect((mr.umem as IbUmemOdp).start).toBe(a);
    expect((mr.umem as IbUmemOdp).end).toBe(a + 4 * PAGE);
  });

  it('a miss faults (on the clock), a hit does not; an invalidation drops the mapping and the next access faults again', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    const mr = nic.reg_mr(pd, a, 4 * PAGE, ODP);
    expect(nic.remote_write(mr.rkey, a + PAGE, 7)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: true });
    expect(k.now()).toBe(5000);
    expect(t.read(a + PAGE)).toBe(7); // faulted in for the device: the CPU sees the same page
    expect(nic.remote_write(mr.rkey, a + PAGE + 8, 8)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: false });
    expect(k.now()).toBe(5000);
    expect(mr.odpStats()).toEqual({ faults: 1, invalidations: 0 });
    t.madvise(a, 4 * PAGE, C.MADV_DONTNEED); // CLEAR
    expect(mr.odpStats()).toEqual({ faults: 1, invalidations: 1 });
    expect((mr.umem as IbUmemOdp).pfnFor(a + PAGE, false)).toBe(-1);
    expect(nic.remote_read(mr.rkey, a + PAGE)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: true, word: 0 });
    expect(mr.odpStats()).toEqual({ faults: 2, invalidations: 1 });
    // A read fault maps the page read-only (the zero page); a write then faults again for write.
    // Its COW from the zero page fires CLEAR over the page the device had mapped: one more invalidation.
    expect(nic.remote_write(mr.rkey, a + PAGE, 9).faulted).toBe(true);
    expect(t.read(a + PAGE)).toBe(9);
    expect(mr.odpStats()).toEqual({ faults: 3, invalidations: 2 });
    // An invalidation of a range the device has not mapped counts nothing.
    t.madvise(a + 3 * PAGE, PAGE, C.MADV_DONTNEED);
    expect(mr.odpStats().invalidations).toBe(2);
  });

  it('invalidation dirties the pages the device mapped writable', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = cleanFileMapping(k, t, 2);
    const nic = k.rdma({ odp: true });
    const mr = nic.reg_mr(nic.alloc_pd(t), a, 2 * PAGE, ODP);
    expect(nic.remote_read(mr.rkey, a).status).toBe('IBV_WC_SUCCESS');
    expect(nic.remote_write(mr.rkey, a + PAGE, 5).status).toBe('IBV_WC_SUCCESS');
    const p0 = t.translate(a)!;
    const p1 = t.translate(a + PAGE)!;
    t.madvise(a, 2 * PAGE, C.MADV_DONTNEED);
    expect(k.page(p0).flags).not.toContain('dirty');
    expect(k.page(p1).flags).toContain('dirty');
  });

  it('munmap invalidates: remote access to the hole is an error completion; a new mapping there is what the device then sees', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4);
    const mr = nic.reg_mr(pd, a, 4 * PAGE, ODP);
    nic.remote_write(mr.rkey, a, 1);
    t.munmap(a, 2 * PAGE);
    expect(mr.odpStats().invalidations).toBe(1);
    const before = k.digest();
    expect(nic.remote_write(mr.rkey, a, 2)).toEqual({ status: 'IBV_WC_REM_ACCESS_ERR', faulted: false });
    expect(k.digest()).toBe(before);
    expect(mr.odpStats().faults).toBe(2);
    t.mmap({ addr: a, length: 2 * PAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_FIXED });
    expect(nic.remote_write(mr.rkey, a, 3).status).toBe('IBV_WC_SUCCESS');
    expect(t.read(a)).toBe(3); // coherent: no stale frame
    // A read-only mapping: a remote write's fault is EPERM in hmm_range_fault, an error completion.
    t.mprotect(a, PAGE, C.PROT_READ);
    expect(nic.remote_write(mr.rkey, a + 4, 4).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(nic.remote_read(mr.rkey, a).word).toBe(3);
  });

  it('fork invalidates (PROTECTION_PAGE); the device keeps reaching the parent\'s pages', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, mr } = writtenMr(k);
    const child = t.fork();
    expect(mr.odpStats().invalidations).toBe(1);
    expect(nic.remote_write(mr.rkey, a, 2).faulted).toBe(true); // write fault: COW break in the parent
    expect(t.read(a)).toBe(2);
    expect(child.read(a)).toBe(1);
  });

  it('exit: the RELEASE invalidation clears the device page list; faults then fail until the context closes', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd, mr } = writtenMr(k);
    const keeper = k.spawn();
    keeper.installFd(pd.context);
    t.exit();
    expect((mr.umem as IbUmemOdp).pfnFor(a, false)).toBe(-1);
    expect(nic.remote_read(mr.rkey, a).status).toBe('IBV_WC_REM_ACCESS_ERR');
    keeper.exit();
    expect(nic.mrs()).toEqual([]);
  });

  it('ODP needs the capability; explicit ranges are checked; implicit ODP covers the address space with lazily made children', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 4, { memlock: 0 });
    const plain = k.rdma();
    expectCode(k, () => plain.reg_mr(plain.alloc_pd(t), a, PAGE, ODP), 'EOPNOTSUPP');
    expectCode(k, () => nic.reg_mr(pd, a, 2 ** 64, ODP), 'EOVERFLOW');
    expectCode(k, () => nic.reg_mr(pd, a, 0, ODP), 'EINVAL');
    const imp = nic.reg_mr(pd, 0, 2 ** 64, ODP);
    expect((imp.umem as IbUmemOdp).is_implicit_odp).toBe(true);
    expect(imp.children.size).toBe(0);
    const b = anon(t, 1);
    expect(nic.remote_write(imp.rkey, a + PAGE, 5)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: true });
    expect(nic.remote_write(imp.rkey, b, 6).status).toBe('IBV_WC_SUCCESS');
    expect([t.read(a + PAGE), t.read(b)]).toEqual([5, 6]);
    expect(imp.children.size).toBe(Math.floor(a / 2 ** 30) === Math.floor(b / 2 ** 30) ? 1 : 2);
    expect(nic.remote_write(imp.rkey, 0x10000, 1).status).toBe('IBV_WC_REM_ACCESS_ERR'); // nothing mapped there
    t.munmap(a, 4 * PAGE);
    expect(nic.remote_read(imp.rkey, a + PAGE).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(t.mm.pinned_vm).toBe(0);
    nic.dereg_mr(imp);
    expect(t.mm.notifierSubscriptions?.invalidating).toBe(false);
  });

  it('ibv_advise_mr prefetches (PREFETCH_WRITE: later writes do not fault); NO_FAULT maps only what is present', async () => {
    const k = await bootTest(backend);
    const { t, a, nic, pd } = setup(k, 8);
    const mr = nic.reg_mr(pd, a, 8 * PAGE, ODP);
    nic.advise_mr(mr, C.IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE, a, 4 * PAGE);
    expect(nic.remote_write(mr.rkey, a + 3 * PAGE, 1).faulted).toBe(false);
    t.write(a + 6 * PAGE, 2);
    nic.advise_mr(mr, C.IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT, a + 4 * PAGE, 4 * PAGE);
    expect(t.translate(a + 5 * PAGE)).toBeNull(); // not faulted in
    expect(nic.remote_read(mr.rkey, a + 6 * PAGE)).toEqual({ status: 'IBV_WC_SUCCESS', faulted: false, word: 2 });
    expect(nic.remote_read(mr.rkey, a + 5 * PAGE).faulted).toBe(true);
    expect(codeOf(() => nic.advise_mr(mr, 7, a, PAGE))).toBe('EOPNOTSUPP');
    expect(codeOf(() => nic.advise_mr(mr, 0, a, 9 * PAGE))).toBe('EFAULT');
    expect(mr.odpStats().faults).toBe(1); // prefetches are not device faults
  });

  it('kernel level: ib_umem_odp_map_dma_and_lock returns with umem_mutex held; its errors; a driver\'s own notifier ops', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const dev = { name: 'mydev', max_seg_size: 65536 };
    const seen: number[] = [];
    const odp = k.ib_umem_odp_get(t, dev, a, 4 * PAGE, ODP, {
      invalidate(o, range, seq) {
        k.mmu_interval_set_seq(o.notifier!, seq);
        seen.push(k.ib_umem_odp_unmap_dma_pages(o, range.start, range.end));
        return true;
      },
    }) as IbUmemOdp;
    expect(k.ib_umem_odp_get(t, dev, a, PAGE, C.IB_ACCESS_LOCAL_WRITE, { invalidate: () => true })).toBe(-C.EINVAL);
    expect(k.dmesg().at(-1)).toContain('ib_umem_odp_get: !(access & IB_ACCESS_ON_DEMAND)');
    expect(k.ib_umem_odp_map_dma_and_lock(odp, a, PAGE, 0, true)).toBe(-C.EINVAL);
    expect(k.ib_umem_odp_map_dma_and_lock(odp, a, 5 * PAGE, C.ODP_READ_ALLOWED_BIT, true)).toBe(-C.EFAULT);
    expect(k.ib_umem_odp_map_dma_and_lock(odp, a + PAGE, 2 * PAGE, C.ODP_READ_ALLOWED_BIT | C.ODP_WRITE_ALLOWED_BIT, true)).toBe(2);
    expect(odp.umem_mutex.held).toBe(true);
    // A second fault while the mutex is held: its hmm_range_fault() runs (page 0 mapped), then the lock would wait.
    expect(codeOf(() => k.ib_umem_odp_map_dma_and_lock(odp, a, PAGE, 1, true))).toBe('EDEADLK');
    odp.umem_mutex.unlock();
    expect(odp.pfnFor(a + PAGE, true)).toBe(t.translate(a + PAGE));
    t.munmap(a, 4 * PAGE);
    expect(seen).toEqual([3]);
    k.ib_umem_odp_release(odp);
    expect(() => k.ib_umem_odp_release(odp)).toThrow(TypeError);
    const umem = k.ib_umem_get(t, dev, a, PAGE, C.IB_ACCESS_ON_DEMAND);
    expect(umem).toBe(-C.EOPNOTSUPP);
  });
});
