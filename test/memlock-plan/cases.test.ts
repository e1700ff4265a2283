// The planner's answers against hand-computed cases from
// devices-and-accounting.md (§6 io_uring, §7 VFIO, §11.6 mlock + VFIO, §1
// the three counters), liburing #365 and kubevirt's VFIO sizing, on both cores.
import { describe, expect, it } from 'vitest';
import { planMemlock, parsePlan, type Counter } from '../../src/memlock-plan/index';
import type { ReportCall, ReportRun } from '../../src/memlock-plan/index';
import { BACKENDS } from '../helpers';

const MiB = 1024; // in KiB, the unit of `ulimit -l`

// The pages a call charged to one counter (summed over chargers and devices).
function charged(c: ReportCall, counter: Counter, by?: string): number {
  return c.charges.filter((ch) => ch.counter === counter && (by === undefined || ch.by === by)).reduce((n, ch) => n + ch.pages, 0);
}

function failure(r: ReportRun) {
  return r.calls.find((c) => c.error)?.error;
}

describe.each(BACKENDS)('memlock planner, %s core', (backend) => {
  const plan = (raw: object, opts: { maxMachine?: number } = {}) => planMemlock(parsePlan(raw), { backend, wasm: 'debug', ...opts });

  it('liburing #365: 16 unaligned 2 KiB io_uring buffers need 96 KiB, not 64 (1, 2, 1, 2 … pages each); CAP_IPC_LOCK skips user->locked_vm', async () => {
    const r = await plan({ ulimit: '64KiB', thp: 'never', calls: [{ kind: 'io_uring', count: 16, size: '2KiB', unaligned: true }] });
    expect(r.run.passed).toBe(false);
    // After 11 buffers user->locked_vm is 16 (the limit: allowed); the 12th needs 2 more.
    expect(failure(r.run)).toMatchObject({ code: 'ENOMEM', syscall: 'io_uring_register', counter: 'user.locked_vm', value: 16, requested: 2, limit: 16 });
    expect(r.run.calls[0]!.charges).toEqual([]); // all or nothing
    expect(r.smallest).toMatchObject({ ulimitKiB: 96, proven: true }); // 8 × 1 + 8 × 2 = 24 pages
    expect(r.smallest.below).toMatchObject({ ulimitKiB: 92, passed: false });
    expect(charged(r.smallest.pass!.calls[0]!, 'user.locked_vm')).toBe(24);
    expect(charged(r.smallest.pass!.calls[0]!, 'mm.pinned_vm')).toBe(24);
    expect(r.capIpcLock.run.passed).toBe(true);
    expect(r.capIpcLock.counters).toEqual([
      { counter: 'mm.locked_vm', without: 0, with: 0, verdict: 'unused' },
      { counter: 'mm.pinned_vm', without: 24, with: 24, verdict: 'charged, not checked' },
      { counter: 'user.locked_vm', without: 24, with: 0, verdict: 'not charged' },
    ]);
  });

  it('a huge page is charged whole, once per ring: two 4 KiB buffers in one THP 512 pages, in hugetlb too; 4 KiB pages 2', async () => {
    const thp = await plan({ thp: 'always', calls: [{ kind: 'io_uring', count: 2, size: '4KiB', hugepages: 'thp' }] });
    expect(charged(thp.smallest.pass!.calls[0]!, 'user.locked_vm')).toBe(512);
    expect(thp.smallest.ulimitKiB).toBe(2 * MiB);
    const hugetlb = await plan({ calls: [{ kind: 'io_uring', count: 2, size: '4KiB', hugepages: '2MiB' }] });
    expect(hugetlb.smallest.ulimitKiB).toBe(2 * MiB);
    const small = await plan({ thp: 'never', calls: [{ kind: 'io_uring', count: 2, size: '4KiB' }] });
    expect(small.smallest.ulimitKiB).toBe(8);
  });

  it("kubevirt's VFIO sizing: guest RAM + overhead covers one container, not two (vIOMMU: each device maps all guest RAM)", async () => {
    // kubevirt sets RLIMIT_MEMLOCK to guest RAM + its overhead estimate (AdjustQemuProcessMemoryLimits),
    // which covers one container; with a vIOMMU each device maps all guest RAM again (kubevirt #17805).
    // Scaled down: 64 MiB of guest RAM and 16 MiB of overhead (the overhead is smaller than the guest RAM,
    // as for a real 8 GiB guest with about 1 GiB of VFIO overhead, kubevirt #3178).
    const calls = (n: number) => [{ kind: 'vfio', count: n, size: '64MiB' }];
    const one = await plan({ ulimit: '80MiB', calls: calls(1) });
    expect(one.run.passed).toBe(true);
    expect(charged(one.run.calls[0]!, 'mm.locked_vm', 'vfio_lock_acct')).toBe(16384);
    expect(one.smallest.ulimitKiB).toBe(64 * MiB);
    const two = await plan({ ulimit: '80MiB', calls: calls(2) });
    expect(two.run.passed).toBe(false);
    const f = failure(two.run)!;
    expect(f).toMatchObject({ code: 'ENOMEM', syscall: 'VFIO_IOMMU_MAP_DMA', counter: 'mm.locked_vm', limit: 20480 });
    expect(f.value).toBeGreaterThanOrEqual(16384); // the first container's whole guest RAM is in
    expect(two.smallest.ulimitKiB).toBe(2 * 64 * MiB); // N × guest RAM
    expect(charged(two.smallest.pass!.calls[0]!, 'mm.locked_vm')).toBe(32768);
    // libvirt's N × guest + 1 GiB (kubevirt #17805 matches it) passes.
    expect((await plan({ ulimit: `${2 * 64 + 1024}MiB`, calls: calls(2) })).run.passed).toBe(true);
  });

  it('mlock + VFIO count the same guest RAM twice in mm->locked_vm (QEMU -overcommit mem-lock=on)', async () => {
    const r = await plan({ ulimit: '64MiB', calls: [{ kind: 'mlockall' }, { kind: 'vfio', size: '64MiB' }] });
    expect(r.run.passed).toBe(false);
    expect(failure(r.run)).toMatchObject({ syscall: 'VFIO_IOMMU_MAP_DMA', counter: 'mm.locked_vm', limit: 16384 });
    const vfio = r.smallest.pass!.calls[1]!;
    expect(charged(vfio, 'mm.locked_vm', 'mlock')).toBe(16384); // MCL_FUTURE locks the new mapping
    expect(charged(vfio, 'mm.locked_vm', 'vfio_lock_acct')).toBe(16384);
    expect(r.smallest.ulimitKiB).toBe(2 * 64 * MiB);
    expect(r.capIpcLock.counters[0]).toEqual({ counter: 'mm.locked_vm', without: 32768, with: 32768, verdict: 'charged, not checked' });
  });

  it("RDMA's pinned_vm and mlock's locked_vm are checked separately: both fill the limit, neither fails", async () => {
    const r = await plan({ ulimit: '64MiB', calls: [{ kind: 'rdma', size: '64MiB' }, { kind: 'mlock', size: '64MiB' }] });
    expect(r.run.passed).toBe(true);
    expect(r.run.calls[1]!.counters).toMatchObject({ 'mm.locked_vm': 16384, 'mm.pinned_vm': 16384 });
    expect(charged(r.run.calls[0]!, 'mm.pinned_vm', 'ib_umem_get')).toBe(16384);
    expect(r.smallest.ulimitKiB).toBe(64 * MiB); // not 128 MiB
  });

  it('CAP_IPC_LOCK: every check passes; io_uring and AF_XDP skip user->locked_vm, pinned_vm and locked_vm still count', async () => {
    const calls = [{ kind: 'io_uring', size: '1MiB' }, { kind: 'xdp', size: '1MiB' }, { kind: 'rdma', size: '1MiB' }, { kind: 'vfio', size: '1MiB' }];
    const r = await plan({ ulimit: '64KiB', capIpcLock: true, calls });
    expect(r.run).toMatchObject({ passed: true, cap: true });
    expect(r.run.calls[3]!.counters).toMatchObject({ 'user.locked_vm': 0, 'mm.pinned_vm': 512, 'mm.locked_vm': 256 });
    expect(r.capIpcLock.counters.map((c) => [c.counter, c.without, c.verdict])).toEqual([
      ['mm.locked_vm', 256, 'charged, not checked'],
      ['mm.pinned_vm', 512, 'charged, not checked'],
      ['user.locked_vm', 512, 'not charged'],
    ]);
    // Without it: user->locked_vm reaches 512 (io_uring 256 + the UMEM's 256), and RDMA checks 256 + 256 in pinned_vm.
    expect(r.smallest.ulimitKiB).toBe(2048);
  });

  it('mlock of hugetlb memory counts nothing in locked_vm, yet do_mlock() checks its pages against the limit', async () => {
    const r = await plan({ ulimit: '1MiB', calls: [{ kind: 'mlock', size: '2MiB', hugepages: '2MiB' }] });
    expect(failure(r.run)).toMatchObject({ code: 'ENOMEM', syscall: 'mlock', counter: 'mm.locked_vm', value: 0, requested: 512, limit: 256 });
    expect(r.smallest).toMatchObject({ ulimitKiB: 2048, proven: true }); // above every counter's peak (0)
    expect(r.smallest.pass!.calls[0]!.charges).toEqual([]);
    expect(r.smallest.pass!.calls[0]!.counters['mm.locked_vm']).toBe(0);
  });

  it('a limit of 0 is EPERM (can_do_mlock); a misaligned VFIO map fails under any limit (no ulimit helps)', async () => {
    const zero = await plan({ ulimit: 0, calls: [{ kind: 'rdma', size: '1MiB' }] });
    expect(failure(zero.run)).toMatchObject({ code: 'EPERM', syscall: 'ibv_reg_mr' });
    expect(zero.smallest.ulimitKiB).toBe(1024);
    const bad = await plan({ calls: [{ kind: 'vfio', size: '1MiB', unaligned: true }] });
    expect(bad.smallest.ulimitKiB).toBeNull();
    expect(failure(bad.smallest.blocker!)).toMatchObject({ code: 'EINVAL', syscall: 'VFIO_IOMMU_MAP_DMA' });
  });

  it('a plan bigger than the largest machine runs scaled: exact for aligned buffers, an upper bound otherwise', async () => {
    const aligned = await plan({ calls: [{ kind: 'vfio', size: '1GiB' }] }, { maxMachine: 256 * 2 ** 20 });
    expect(aligned.machine).toMatchObject({ scale: 8, exact: true });
    expect(aligned.smallest.ulimitKiB).toBe(1024 * MiB);
    const unaligned = await plan({ calls: [{ kind: 'rdma', size: '1GiB', unaligned: true }] }, { maxMachine: 256 * 2 ** 20 });
    expect(unaligned.machine).toMatchObject({ scale: 8, exact: false });
    // Unscaled: 262145 pages. Scaled: 128 MiB + 1 KiB spans 32769 pages, × 8.
    expect(unaligned.smallest.ulimitKiB).toBe(32769 * 8 * 4);
    // io_uring's 1 GiB per-buffer cap holds for the real size, not the scaled one.
    const capped = await plan({ calls: [{ kind: 'io_uring', size: '2GiB' }] }, { maxMachine: 256 * 2 ** 20 });
    expect(capped.smallest.ulimitKiB).toBeNull();
    expect(failure(capped.smallest.blocker!)).toMatchObject({ code: 'EFAULT', syscall: 'io_uring_register' });
  });
});
