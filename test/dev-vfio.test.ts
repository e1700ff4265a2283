// VFIO type1: MAP_DMA's checks in order, pinning in runs charged to
// mm->locked_vm only, the RLIMIT_MEMLOCK warning, v1/v2 unmap rules,
// DMA through the IOMMU, and release on close and exit.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IOMMU_READ, IOMMU_WRITE, type Kernel, type Task, type VfioContainer } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode, codeOf } from './helpers';

const R = C.VFIO_DMA_MAP_FLAG_READ;
const W = C.VFIO_DMA_MAP_FLAG_WRITE;
const RW = R | W;
const IOVA = 0x100000;
const IOMMU_RW = IOMMU_READ | IOMMU_WRITE;

// FOLL_PIN references on a small page (its refcount counts them by GUP_PIN_COUNTING_BIAS).
const pins = (k: Kernel, pfn: number) => Math.floor(k.page(pfn).refcount / C.GUP_PIN_COUNTING_BIAS);

// A map that fails after pinning: the pins are given back and nothing stays
// charged or mapped (the pin counters in /proc/vmstat moved, as in Linux).
function expectUndone(k: Kernel, c: VfioContainer, fn: () => unknown, code: string): void {
  const ledger = JSON.stringify(k.memlockLedger());
  const maps = JSON.stringify(c.mappings());
  const extents = c.domain.extents().length;
  expect(codeOf(fn)).toBe(code);
  expect(JSON.stringify(k.memlockLedger())).toBe(ledger);
  expect(JSON.stringify(c.mappings())).toBe(maps);
  expect(c.domain.extents().length).toBe(extents);
  expect(k.vmstat().nr_foll_pin_acquired).toBe(k.vmstat().nr_foll_pin_released + c.pins().reduce((s, p) => s + p.pages, 0));
}

// A task with n written pages and a v2 container.
function setup(k: Kernel, n: number, opts: Parameters<Task['vfio']>[0] = { iommu: 'type1v2' }, spawn = {}) {
  const t = k.spawn(spawn);
  const a = anon(t, n);
  t.touch(a, n * PAGE, { write: true });
  return { t, a, c: t.vfio(opts) };
}

describe.each(BACKENDS)('VFIO type1 (%s core)', (backend) => {
  it('MAP_DMA pins long-term, charges locked_vm only, and the device DMAs through the IOMMU', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 8);
    expect(c.path).toBe('/dev/vfio/vfio');
    c.map_dma({ vaddr: a, iova: IOVA, size: 8 * PAGE, flags: RW });
    expect(t.mm.locked_vm).toBe(8);
    expect(t.mm.pinned_vm).toBe(0);
    expect(t.status().VmLck).toBe(32);
    expect(t.status().VmPin).toBe(0);
    expect(k.folio_maybe_dma_pinned(t.translate(a + 7 * PAGE)!)).toBe(true);
    expect(c.charges()).toEqual([expect.objectContaining({ counter: 'mm.locked_vm', pages: 8, by: 'vfio_lock_acct', device: 'vfio-01:00.0' })]);
    expect(c.pins()).toEqual([{ device: c.name, object: 'iova 0x100000', pid: t.pid, addr: a, length: 8 * PAGE, pages: 8, gup_flags: C.FOLL_LONGTERM | C.FOLL_WRITE }]);
    expect(c.dma_write(IOVA + 3 * PAGE + 8, 0xabc)).toBe(true);
    expect(t.read(a + 3 * PAGE)).toBe(0xabc);
    t.write(a + 5 * PAGE, 77);
    expect(c.dma_read(IOVA + 5 * PAGE)).toBe(77);
    expect(c.domain.iova_to_pfn(IOVA)).toBe(t.translate(a));
    expect(c.unmap_dma({ iova: IOVA, size: 8 * PAGE })).toBe(8 * PAGE);
    expect(t.mm.locked_vm).toBe(0);
    expect(c.charges()).toEqual([]);
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
  });

  it('MAP_DMA checks in order, each shadowing the next, and changes nothing on failure', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 4, { iommu: 'type1v2', dmaEntryLimit: 1 });
    const m = (o: Partial<{ vaddr: number; iova: number; size: number; flags: number }>) =>
      () => c.map_dma({ vaddr: a, iova: IOVA, size: PAGE, flags: RW, ...o });
    // unknown flag (VADDR is not modelled) beats a missing prot
    expectCode(k, m({ flags: 8 }), 'EINVAL');
    expectCode(k, m({ flags: C.VFIO_DMA_MAP_FLAG_VADDR | R }), 'EINVAL');
    expectCode(k, m({ flags: 0, size: 0 }), 'EINVAL');
    expectCode(k, m({ size: 0 }), 'EINVAL');
    expectCode(k, m({ iova: IOVA + 1 }), 'EINVAL');
    expectCode(k, m({ vaddr: a + 8 }), 'EINVAL');
    expectCode(k, m({ iova: 2 ** 64 - PAGE, size: 2 * PAGE }), 'EINVAL'); // iova wraps
    c.map_dma({ vaddr: a, iova: IOVA, size: 2 * PAGE, flags: R });
    // overlap (EEXIST) beats dma_avail exhausted (ENOSPC), which beats an IOVA outside the aperture (EINVAL)
    expectCode(k, m({ iova: IOVA + PAGE }), 'EEXIST');
    expectCode(k, m({ iova: IOVA - PAGE, size: 4 * PAGE }), 'EEXIST');
    expectCode(k, m({ iova: 2 ** 48 }), 'ENOSPC');
    c.unmap_dma({ iova: IOVA, size: 2 * PAGE });
    expectCode(k, m({ iova: 2 ** 48 }), 'EINVAL'); // outside the 48-bit aperture
    expectCode(k, m({ iova: 0xfee00000 }), 'EINVAL'); // the MSI window is reserved
    expectCode(k, m({ iova: 0xfedff000, size: 2 * PAGE }), 'EINVAL');
    c.map_dma({ vaddr: a, iova: 0xfedff000, size: PAGE, flags: R });
    // JS misuse throws before anything
    expect(() => c.map_dma({ vaddr: a, iova: -1, size: PAGE, flags: R })).toThrow(RangeError);
    expect(() => c.map_dma({ vaddr: a, iova: '0' as unknown as number, size: PAGE, flags: R })).toThrow(TypeError);
    expect(() => c.map_dma(null as unknown as { vaddr: number; iova: number; size: number; flags: number })).toThrow(TypeError);
    expect(t.mm.locked_vm).toBe(1);
  });

  it('the 65,536th mapping is ENOSPC (dma_entry_limit 65535) and unmapping one gives a slot back', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 1, { iommu: 'type1v2' }, { caps: ['CAP_IPC_LOCK'] });
    for (let i = 0; i < C.VFIO_DMA_ENTRY_LIMIT; i++) c.map_dma({ vaddr: a, iova: i * PAGE, size: PAGE, flags: R });
    expect(t.mm.locked_vm).toBe(C.VFIO_DMA_ENTRY_LIMIT); // the same page, charged per mapping
    expectCode(k, () => c.map_dma({ vaddr: a, iova: 2 ** 40, size: PAGE, flags: R }), 'ENOSPC');
    expect(c.unmap_dma({ iova: 5 * PAGE, size: PAGE })).toBe(PAGE);
    c.map_dma({ vaddr: a, iova: 2 ** 40, size: PAGE, flags: R });
    expect(c.unmap_dma({ iova: 0, size: 0, flags: C.VFIO_DMA_UNMAP_FLAG_ALL })).toBe(C.VFIO_DMA_ENTRY_LIMIT * PAGE);
    expect(t.mm.locked_vm).toBe(0);
    expect(pins(k, t.translate(a)!)).toBe(0);
  });

  it('over RLIMIT_MEMLOCK: the pr_warn line with the limit in bytes, ENOMEM, everything of this map undone', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 20, { iommu: 'type1v2' }, { memlock: 65535 }); // 15 pages
    c.map_dma({ vaddr: a, iova: IOVA, size: 10 * PAGE, flags: RW });
    let err: unknown;
    expectUndone(k, c, () => {
      try {
        c.map_dma({ vaddr: a + 10 * PAGE, iova: 2 * IOVA, size: 6 * PAGE, flags: RW });
      } catch (e) {
        err = e;
        throw e;
      }
    }, 'ENOMEM');
    expect(err).toMatchObject({ code: 'ENOMEM', detail: { counter: 'mm.locked_vm', current: 10, requested: 6, limit: 15 } });
    expect(k.dmesg()).toContain('vfio_pin_pages_remote: RLIMIT_MEMLOCK (61440) exceeded');
    expect(t.mm.locked_vm).toBe(10);
    expect(c.mappings()).toHaveLength(1);
    expect(k.folio_maybe_dma_pinned(t.translate(a + 10 * PAGE)!)).toBe(false);
    // exactly to the limit passes ("new total > limit" fails)
    c.map_dma({ vaddr: a + 10 * PAGE, iova: 2 * IOVA, size: 5 * PAGE, flags: RW });
    expect(t.mm.locked_vm).toBe(15);
  });

  it('a page that does not pin fails the map with its errno and unwinds the pages pinned before it', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 4);
    t.munmap(a + 2 * PAGE, PAGE);
    expectUndone(k, c, () => c.map_dma({ vaddr: a, iova: IOVA, size: 4 * PAGE, flags: RW }), 'EFAULT');
    expect(t.mm.locked_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(c.mappings()).toEqual([]);
    // …but a breached limit before that page is ENOMEM (the first error in address order)
    t.setrlimit('RLIMIT_MEMLOCK', { soft: PAGE, hard: PAGE });
    expectUndone(k, c, () => c.map_dma({ vaddr: a, iova: IOVA, size: 4 * PAGE, flags: RW }), 'ENOMEM');
  });

  it('lock_cap, task and mm are captured per map: CAP_IPC_LOCK bypasses the limit for its own maps only', async () => {
    const k = await bootTest(backend);
    const admin = k.spawn({ caps: ['CAP_IPC_LOCK'], memlock: 2 * PAGE });
    const a = anon(admin, 8);
    admin.touch(a, 8 * PAGE, { write: true });
    const c = admin.vfio({ iommu: 'type1v2' });
    c.map_dma({ vaddr: a, iova: IOVA, size: 8 * PAGE, flags: RW });
    expect(admin.mm.locked_vm).toBe(8); // charged, over the limit, no check
    const user = k.spawn({ memlock: 2 * PAGE });
    const b = anon(user, 4);
    user.installFd(c); // the fd passed over a unix socket
    expectUndone(k, c, () => c.map_dma({ vaddr: b, iova: 2 * IOVA, size: 3 * PAGE, flags: RW }, user), 'ENOMEM');
    c.map_dma({ vaddr: b, iova: 2 * IOVA, size: 2 * PAGE, flags: RW }, user);
    expect(user.mm.locked_vm).toBe(2); // the caller's mm, not the opener's
    expect(admin.mm.locked_vm).toBe(8);
    expect(c.mappings().map((m) => [m.pid, m.locked_vm])).toEqual([[admin.pid, 8], [user.pid, 2]]);
    // a task without the fd is refused
    const stranger = k.spawn();
    expectCode(k, () => c.map_dma({ vaddr: b, iova: 3 * IOVA, size: PAGE, flags: R }, stranger), 'EBADF');
  });

  it('UNMAP_DMA v2: no bisection (EINVAL), several whole mappings at once, 0 for an empty range; checks in order', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 8);
    c.map_dma({ vaddr: a, iova: IOVA, size: 2 * PAGE, flags: RW });
    c.map_dma({ vaddr: a + 2 * PAGE, iova: IOVA + 2 * PAGE, size: 2 * PAGE, flags: RW });
    c.map_dma({ vaddr: a + 4 * PAGE, iova: IOVA + 8 * PAGE, size: 4 * PAGE, flags: R });
    const u = (o: Partial<{ iova: number; size: number; flags: number }>) => () => c.unmap_dma({ iova: IOVA, size: 4 * PAGE, ...o });
    expectCode(k, u({ flags: C.VFIO_DMA_UNMAP_FLAG_VADDR }), 'EINVAL');
    expectCode(k, u({ flags: C.VFIO_DMA_UNMAP_FLAG_ALL | C.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP }), 'EINVAL');
    expectCode(k, u({ iova: IOVA + 1 }), 'EINVAL');
    expectCode(k, u({ flags: C.VFIO_DMA_UNMAP_FLAG_ALL }), 'EINVAL'); // ALL needs iova = size = 0
    expectCode(k, u({ size: 0 }), 'EINVAL');
    expectCode(k, u({ size: PAGE + 1 }), 'EINVAL');
    expectCode(k, u({ iova: 2 ** 64 - PAGE, size: 2 * PAGE }), 'EINVAL');
    expectCode(k, u({ flags: C.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP }), 'EINVAL'); // no dirty tracking
    expectCode(k, u({ iova: IOVA + PAGE, size: PAGE }), 'EINVAL'); // starts inside
    expectCode(k, u({ size: 3 * PAGE }), 'EINVAL'); // ends inside the second
    expectCode(k, u({ iova: IOVA + 8 * PAGE, size: 2 * PAGE }), 'EINVAL');
    expect(c.unmap_dma({ iova: IOVA + 4 * PAGE, size: 4 * PAGE })).toBe(0); // the hole between
    expect(c.unmap_dma({ iova: 0, size: IOVA + 4 * PAGE })).toBe(4 * PAGE); // two whole mappings
    expect(t.mm.locked_vm).toBe(4);
    expect(c.unmap_dma({ iova: 0, size: 0, flags: C.VFIO_DMA_UNMAP_FLAG_ALL })).toBe(4 * PAGE);
    expect(c.unmap_dma({ iova: 0, size: 0, flags: C.VFIO_DMA_UNMAP_FLAG_ALL })).toBe(0);
    expect(t.mm.locked_vm).toBe(0);
  });

  it('UNMAP_DMA v1: an offset request unmaps 0 bytes, one covering the first iova removes the whole mapping', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 8, { iommu: 'type1' });
    c.map_dma({ vaddr: a, iova: IOVA, size: 4 * PAGE, flags: RW });
    c.map_dma({ vaddr: a + 4 * PAGE, iova: IOVA + 4 * PAGE, size: 4 * PAGE, flags: RW });
    expect(c.unmap_dma({ iova: IOVA + PAGE, size: 4 * PAGE })).toBe(0); // starts inside: stops there
    expect(c.mappings()).toHaveLength(2);
    expect(c.unmap_dma({ iova: IOVA, size: PAGE })).toBe(4 * PAGE); // covers the first iova: all of it
    expect(t.mm.locked_vm).toBe(4);
    expect(c.unmap_dma({ iova: IOVA + 2 * PAGE, size: 3 * PAGE })).toBe(4 * PAGE);
    expect(t.mm.locked_vm).toBe(0);
  });

  it('DMA after unmap faults with a DMAR line and touches nothing; read-only maps refuse device writes', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 2);
    c.map_dma({ vaddr: a, iova: IOVA, size: PAGE, flags: R });
    expect(c.dma_write(IOVA, 5)).toBe(false);
    expect(k.dmesg().at(-1)).toBe('DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x100000 [fault reason 0x05] PTE Write access is not set');
    c.map_dma({ vaddr: a + PAGE, iova: 2 * IOVA, size: PAGE, flags: W });
    expect(c.pins()[1].gup_flags).toBe(C.FOLL_LONGTERM | C.FOLL_WRITE);
    c.unmap_dma({ iova: 2 * IOVA, size: PAGE });
    const before = k.digest();
    expect(c.dma_write(2 * IOVA, 9)).toBe(false);
    expect(c.dma_read(2 * IOVA)).toBeNull();
    expect(k.digest()).toBe(before);
    expect(k.dmesg().at(-1)).toBe('DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x200000 [fault reason 0x06] PTE Read access is not set');
    expect(t.read(a + PAGE)).toBe(0);
  });

  it('after munmap the device still reaches the pinned frames (a stale mapping); a remap gets new frames', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 2);
    t.write(a, 1);
    c.map_dma({ vaddr: a, iova: IOVA, size: 2 * PAGE, flags: RW });
    const pfn = t.translate(a)!;
    t.munmap(a, 2 * PAGE);
    expect(t.mm.locked_vm).toBe(2); // nothing told VFIO
    expect(c.dma_write(IOVA, 42)).toBe(true);
    expect(k.dma_read(pfn)).toBe(42);
    expect(pins(k, pfn)).toBe(1);
    const b = t.mmap({ addr: a, length: 2 * PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED });
    expect(b).toBe(a);
    expect(t.read(a)).toBe(0); // CPU and device diverge
    expect(c.dma_read(IOVA)).toBe(42);
    const free = k.meminfo().MemFree;
    c.unmap_dma({ iova: IOVA, size: 2 * PAGE });
    expect(k.meminfo().MemFree).toBe(free + 8); // the frames are freed by the unpin
    expect(t.mm.locked_vm).toBe(0);
  });

  it('mlock + VFIO on the same memory counts twice in locked_vm (QEMU mem-lock=on); N containers N times', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 16);
    t.mlockall(C.MCL_CURRENT);
    expect(t.mm.locked_vm).toBe(16);
    c.map_dma({ vaddr: a, iova: IOVA, size: 16 * PAGE, flags: RW });
    expect(t.mm.locked_vm).toBe(32);
    const c2 = t.vfio({ iommu: 'type1v2', bdf: '02:00.0' });
    c2.map_dma({ vaddr: a, iova: IOVA, size: 16 * PAGE, flags: RW });
    expect(t.mm.locked_vm).toBe(48);
    expect(pins(k, t.translate(a)!)).toBe(2);
    expect(k.memlockLedger().filter((x) => x.counter === 'mm.locked_vm').reduce((s, x) => s + x.pages, 0)).toBe(48);
    t.close(3); // the first container's fd: its mappings go
    expect(c.closed).toBe(true);
    expect(t.mm.locked_vm).toBe(32);
    t.munlockall();
    expect(t.mm.locked_vm).toBe(16);
  });

  it('release: last close and exit unpin; the uncharge is skipped for an mm whose task exited', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 4);
    c.map_dma({ vaddr: a, iova: IOVA, size: 4 * PAGE, flags: RW });
    const child = t.fork();
    expect(child.mm.locked_vm).toBe(0); // fork starts the child's counters at 0; the pins stay the parent's
    const pfn = t.translate(a)!;
    t.exit();
    expect(c.closed).toBe(false); // the child's fd keeps the container
    expect(c.dma_read(IOVA)).toBe(0);
    expect(pins(k, pfn)).toBe(1);
    child.exit();
    expect(c.closed).toBe(true);
    expect(k.page(pfn).refcount).toBe(0); // unpinned and freed
    expect(t.mm.locked_vm).toBe(4); // vfio_lock_acct(async): mmget_not_zero() failed, nothing uncharged
    expectCode(k, () => c.dma_read(IOVA), 'EBADF');
    expect(codeOf(() => c.map_dma({ vaddr: a, iova: IOVA, size: PAGE, flags: R }, child))).toBe('EBADF');
  });

  it('exit of the only holder releases too; a container closed while its mapper lives uncharges it', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 4);
    const other = k.spawn();
    other.installFd(c);
    c.map_dma({ vaddr: a, iova: IOVA, size: 4 * PAGE, flags: RW });
    t.close(3);
    expect(c.closed).toBe(false);
    other.exit();
    expect(c.closed).toBe(true);
    expect(t.mm.locked_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
  });

  it('mdev: MAP_DMA pins nothing; pin_pages pins and charges per page, once per page however often pinned', async () => {
    const k = await bootTest(backend);
    const { t, a, c } = setup(k, 8, { iommu: 'type1v2', mdev: true }, { name: 'qemu', memlock: 3 * PAGE });
    c.map_dma({ vaddr: a, iova: IOVA, size: 8 * PAGE, flags: RW });
    c.map_dma({ vaddr: a, iova: 2 * IOVA, size: PAGE, flags: R });
    expect(t.mm.locked_vm).toBe(0);
    expect(pins(k, t.translate(a)!)).toBe(0);
    const pa = k.pageArray(4);
    expect(c.pin_pages(IOVA, 2, IOMMU_RW, pa)).toBe(2);
    expect(pa.get(1)).toBe(t.translate(a + PAGE));
    expect(c.pin_pages(IOVA + PAGE, 2, IOMMU_RW, pa)).toBe(2); // one page again: another reference, no charge
    expect(t.mm.locked_vm).toBe(3);
    expect(pins(k, t.translate(a + PAGE)!)).toBe(1);
    expect(c.pins()[0].pages).toBe(3);
    // errors, in order: a v1 container (tested below), no mapping, prot the mapping lacks, the limit
    expect(c.pin_pages(3 * IOVA, 1, IOMMU_READ, pa)).toBe(-C.EINVAL);
    expect(c.pin_pages(2 * IOVA, 1, IOMMU_RW, pa)).toBe(-C.EPERM);
    expect(c.pin_pages(IOVA + 2 * PAGE, 2, IOMMU_RW, pa)).toBe(-C.ENOMEM); // page 2 is pinned, page 3 would be the 4th charged
    expect(k.dmesg()).toContain(`vfio_pin_page_external: Task qemu (${t.pid}) RLIMIT_MEMLOCK (${3 * PAGE}) exceeded`);
    expect(pins(k, t.translate(a + 3 * PAGE)!)).toBe(0);
    expect(c.pins()[0].pages).toBe(3); // the failed call gave back what it took
    c.unpin_pages(IOVA + PAGE, 1);
    expect(t.mm.locked_vm).toBe(3); // one reference left
    c.unpin_pages(IOVA + PAGE, 1);
    expect(t.mm.locked_vm).toBe(2);
    expect(pins(k, t.translate(a + PAGE)!)).toBe(0);
    c.close();
    expect(t.mm.locked_vm).toBe(0);
    expect(pins(k, t.translate(a)!)).toBe(0);
    pa.free();
  });

  it('mdev: UNMAP_DMA calls the driver\'s dma_unmap, which must unpin; a v1 container refuses pin_pages (EACCES)', async () => {
    const k = await bootTest(backend);
    const calls: [number, number][] = [];
    let c!: VfioContainer;
    const driver = { dma_unmap(iova: number, length: number) { calls.push([iova, length]); c.unpin_pages(iova, length / PAGE); } };
    const s = setup(k, 4, { iommu: 'type1v2', mdev: driver });
    c = s.c;
    c.map_dma({ vaddr: s.a, iova: IOVA, size: 4 * PAGE, flags: RW });
    const pa = k.pageArray(4);
    expect(c.pin_pages(IOVA, 4, IOMMU_WRITE, pa)).toBe(4);
    expect(c.unmap_dma({ iova: IOVA, size: 4 * PAGE })).toBe(4 * PAGE);
    expect(calls).toEqual([[IOVA, 4 * PAGE]]);
    expect(s.t.mm.locked_vm).toBe(0);
    expect(pins(k, pa.get(0)!)).toBe(0);
    const lazy = setup(k, 1, { iommu: 'type1v2', mdev: { dma_unmap() {} }, bdf: '02:00.0' });
    lazy.c.map_dma({ vaddr: lazy.a, iova: 0, size: PAGE, flags: R });
    expect(lazy.c.pin_pages(0, 1, IOMMU_READ, pa)).toBe(1);
    expect(() => lazy.c.unmap_dma({ iova: 0, size: PAGE })).toThrow(/left 1 pages pinned/);
    expect(k.dmesg().at(-1)).toMatch(/^kernel BUG at drivers\/vfio\/vfio_iommu_type1.c/);
    const v1 = setup(k, 1, { iommu: 'type1', mdev: true, bdf: '03:00.0' });
    v1.c.map_dma({ vaddr: v1.a, iova: 0, size: PAGE, flags: R });
    expect(v1.c.pin_pages(0, 1, IOMMU_READ, pa)).toBe(-C.EACCES);
    pa.free();
  });

  it('the core run walk: contiguous pfns of one reserved-ness form a run; the zero page is reserved', async () => {
    const k = await bootTest(backend);
    const pa = k.pageArray(6);
    pa.pfns.set([100, 101, 102, 0, 0, 200]);
    expect(k.core.vfio_pfn_run(pa.offset, 6)).toBe(3);
    expect(!!k.core.vfio_run_reserved()).toBe(false);
    expect(k.core.vfio_pfn_run(pa.offset + 3, 3)).toBe(1); // 0, then 0 is not 0 + 1
    expect(!!k.core.vfio_run_reserved()).toBe(true);
    expect(k.core.vfio_pfn_run(pa.offset + 5, 1)).toBe(1);
    pa.free();
  });

  it('property: random map/unmap/close keep locked_vm = ledger = live mappings\' charges, pins balanced', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k, 32, { iommu: 'type1v2' }, { memlock: 24 * PAGE }); // (its container stays idle)
    const op = fc.oneof(
      fc.record({ kind: fc.constant('map' as const), c: fc.nat(1), off: fc.nat(31), n: fc.integer({ min: 1, max: 8 }), slot: fc.nat(15), w: fc.boolean() }),
      fc.record({ kind: fc.constant('unmap' as const), c: fc.nat(1), slot: fc.nat(15), n: fc.integer({ min: 1, max: 16 }) }),
      fc.record({ kind: fc.constant('close' as const), c: fc.nat(1) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const cs: VfioContainer[] = [t.vfio({ iommu: 'type1v2' }), t.vfio({ iommu: 'type1', bdf: '02:00.0' })];
      for (const o of ops) {
        const c = cs[o.c];
        if (o.kind === 'map') {
          const n = Math.min(o.n, 32 - o.off);
          codeOf(() => c.map_dma({ vaddr: a + o.off * PAGE, iova: o.slot * 4 * PAGE, size: n * PAGE, flags: o.w ? RW : R }));
        } else if (o.kind === 'unmap') {
          codeOf(() => c.unmap_dma({ iova: o.slot * 4 * PAGE, size: o.n * PAGE }));
        } else if (!c.closed) {
          t.close([...t.fds].find(([, f]) => f === c)![0]);
        }
        const live = cs.flatMap((x) => (x.closed ? [] : x.mappings()));
        const charged = live.reduce((s, m) => s + m.locked_vm, 0);
        expect(t.mm.locked_vm).toBe(charged);
        expect(k.memlockLedger().reduce((s, x) => s + x.pages, 0)).toBe(charged);
        expect(t.mm.locked_vm).toBeLessThanOrEqual(24);
        for (let i = 0; i < 32; i++) {
          const pfn = t.translate(a + i * PAGE)!;
          const holders = live.filter((m) => a + i * PAGE >= m.vaddr && a + i * PAGE < m.vaddr + m.size).length;
          expect(pins(k, pfn)).toBe(holders);
        }
      }
      for (const c of cs) c.close();
      for (const [fd, f] of [...t.fds]) if (cs.includes(f as VfioContainer)) t.close(fd);
      expect(t.mm.locked_vm).toBe(0);
    }), { numRuns: 40 });
  });
});

describe('VFIO type1: both cores agree', () => {
  it('the same maps, DMA, munmap, fork, unmap and exit leave the same machine', async () => {
    const run = async (backend: 'wasm' | 'ts') => {
      const k = await bootTest(backend, { memlock: 64 * PAGE });
      const { t, a, c } = setup(k, 32);
      c.map_dma({ vaddr: a, iova: IOVA, size: 16 * PAGE, flags: RW });
      c.map_dma({ vaddr: a + 8 * PAGE, iova: 2 * IOVA, size: 24 * PAGE, flags: R });
      for (let i = 0; i < 16; i++) c.dma_write(IOVA + i * PAGE, i * 7 + 1);
      t.munmap(a + 4 * PAGE, 4 * PAGE);
      const child = t.fork();
      const reads = Array.from({ length: 24 }, (_, i) => c.dma_read(2 * IOVA + i * PAGE));
      codeOf(() => c.map_dma({ vaddr: a, iova: 3 * IOVA, size: 32 * PAGE, flags: RW }));
      c.unmap_dma({ iova: IOVA, size: 16 * PAGE });
      t.exit();
      child.exit();
      return { digest: k.digest(), dmesg: k.dmesg().slice(1), reads, locked: t.mm.locked_vm };
    };
    expect(await run('ts')).toEqual(await run('wasm'));
  });
});
