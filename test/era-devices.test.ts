// Kernel eras and the device models (src/devices/): which references each
// era's drivers took (pinApi, odirectPin), RDMA's FOLL_FORCE on R/O MRs
// (rdmaRoNoForce), io_uring's own file-VMA check (ioUringFileCheck), when
// iommufd exists; scenarios S12 and S14 of kernel-history.md §6.3.
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, codeOf } from './helpers';

const RO_MR = C.IB_ACCESS_REMOTE_READ;
const RW_MR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE;

function pinsAcquired(k: Kernel): number { return k.vmstat().nr_foll_pin_acquired ?? 0; } // no such line before 5.7

// A task with `pages` written anon pages and an RDMA NIC's PD.
function rdmaSetup(k: Kernel, pages = 1) {
  const t = k.spawn();
  const a = anon(t, pages);
  for (let i = 0; i < pages; i++) t.write(a + i * PAGE, 0x41 + i);
  const nic = k.rdma();
  return { t, a, nic, pd: nic.alloc_pd(t) };
}

describe.each(BACKENDS)('pinApi: the 5.5 drivers take plain references (%s core)', (backend) => {
  it('O_DIRECT on 6.4 (odirectPin false): FOLL_GET references while in flight, +1 each, not maybe-pinned; latest pins', async () => {
    for (const [kernel, pinned] of [['6.4', false], ['latest', true], ['5.5', false]] as const) {
      const k = await bootTest(backend, { kernel });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: 2 * PAGE, name: 'disk' });
      f.store.set(0, 7);
      const buf = anon(t, 1);
      t.write(buf, 1);
      const pfn = t.translate(buf)!;
      const rc = k.page(pfn).refcount;
      const acq = pinsAcquired(k);
      const req = t.preadv(t.open(f, { direct: true }), [{ base: buf, len: PAGE }], 0, { async: true });
      expect(k.page(pfn).refcount - rc).toBe(pinned ? 1024 : 1);
      expect(k.folio_maybe_dma_pinned(pfn)).toBe(pinned);
      expect(k.blockDevice().pins()[0].gup_flags & (C.FOLL_PIN | C.FOLL_GET)).toBe(pinned ? C.FOLL_PIN : C.FOLL_GET);
      k.settle();
      expect(typeof req === 'object' && req.res).toBe(PAGE);
      expect(t.read(buf)).toBe(7);
      expect(k.page(pfn).refcount).toBe(rc);
      expect(pinsAcquired(k) - acq).toBe(pinned ? 1 : 0);
    }
  });

  it('odirectPin override, bisect-style: latest with FOLL_GET, 6.4 with FOLL_PIN', async () => {
    for (const [kernel, odirectPin] of [['latest', false], ['6.4', true]] as const) {
      const k = await bootTest(backend, { kernel, rules: { odirectPin } });
      const t = k.spawn();
      const f = k.createFile({ fs: 'xfs', size: PAGE, name: 'disk' });
      const buf = anon(t, 1);
      t.write(buf, 1);
      t.preadv(t.open(f, { direct: true }), [{ base: buf, len: PAGE }], 0, { async: true });
      expect(k.folio_maybe_dma_pinned(t.translate(buf)!)).toBe(odirectPin);
      k.settle();
    }
  });

  it('RDMA MR, io_uring buffer, AF_XDP UMEM and VFIO MAP_DMA on 5.5: +1 per page, no pin counted; released to the same count', async () => {
    for (const [kernel, bias] of [['5.5', 1], ['latest', 1024]] as const) {
      const k = await bootTest(backend, { kernel });
      const { t, a, nic, pd } = rdmaSetup(k, 4);
      const pfns = [0, 1, 2, 3].map((i) => t.translate(a + i * PAGE)!);
      const rc = pfns.map((p) => k.page(p).refcount);
      const delta = (): number[] => pfns.map((p, i) => k.page(p).refcount - rc[i]);
      const mr = nic.reg_mr(pd, a, PAGE, RW_MR);
      const ring = t.io_uring_setup(4);
      ring.register_buffers([{ iov_base: a + PAGE, iov_len: PAGE }]);
      const xsk = t.xdp_umem_reg({ addr: a + 2 * PAGE, len: PAGE, chunk_size: 2048 });
      const c = t.vfio({ iommu: 'type1v2' });
      c.map_dma({ vaddr: a + 3 * PAGE, iova: 0x100000, size: PAGE, flags: RW });
      expect(delta()).toEqual([bias, bias, bias, bias]);
      expect(pfns.map((p) => k.folio_maybe_dma_pinned(p))).toEqual(Array(4).fill(bias > 1));
      expect(pinsAcquired(k)).toBe(bias > 1 ? 4 : 0);
      expect(nic.pins()[0].gup_flags & (C.FOLL_PIN | C.FOLL_GET)).toBe(bias > 1 ? C.FOLL_PIN : C.FOLL_GET);
      nic.dereg_mr(mr);
      ring.unregister_buffers();
      xsk.close();
      c.unmap_dma({ iova: 0x100000, size: PAGE });
      expect(delta()).toEqual([0, 0, 0, 0]);
      expect(k.dmesg().filter((l) => l.startsWith('WARNING'))).toEqual([]);
    }
  });

  // Found by the fuzz: ib_umem_release() unpinned 5.6's +1 pins as FOLL_PIN (refused: a page leaked).
  it('5.6: an MR\'s pins are plain references and its release drops them all (R/O and R/W MRs)', async () => {
    const k = await bootTest(backend, { kernel: '5.6' });
    const free = k.meminfo().MemFree;
    const { t, a, nic, pd } = rdmaSetup(k, 2);
    const rc = k.page(t.translate(a)!).refcount;
    const mrs = [nic.reg_mr(pd, a, PAGE, RO_MR), nic.reg_mr(pd, a + PAGE, PAGE, RW_MR)];
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    for (const mr of mrs) nic.dereg_mr(mr);
    expect(k.page(t.translate(a)!).refcount).toBe(rc);
    t.exit();
    expect(k.meminfo().MemFree).toBe(free);
  });

  it('pinApi override: 5.8 without the pin API gets its devices to take references', async () => {
    const k = await bootTest(backend, { kernel: '5.8', rules: { pinApi: false } });
    const { t, a, nic, pd } = rdmaSetup(k);
    const rc = k.page(t.translate(a)!).refcount;
    const mr = nic.reg_mr(pd, a, PAGE, RW_MR);
    expect(k.page(t.translate(a)!).refcount - rc).toBe(1);
    nic.dereg_mr(mr);
    expect(k.page(t.translate(a)!).refcount).toBe(rc);
  });
});

describe.each(BACKENDS)('rdmaRoNoForce: R/O MRs and FOLL_FORCE|FOLL_WRITE (%s core)', (backend) => {
  it('flags per preset: FOLL_WRITE|FOLL_FORCE on R/O MRs through 6.1, none from 6.2; a R/W MR is FOLL_WRITE in every era', async () => {
    for (const [kernel, force] of [['5.10', true], ['6.1', true], ['6.4', false], ['latest', false]] as const) {
      const k = await bootTest(backend, { kernel });
      const { a, nic, pd } = rdmaSetup(k);
      nic.reg_mr(pd, a, PAGE, RO_MR);
      nic.reg_mr(pd, a, PAGE, RW_MR);
      const base = C.FOLL_PIN | C.FOLL_LONGTERM;
      expect(nic.pins().map((p) => p.gup_flags)).toEqual([force ? base | C.FOLL_WRITE | C.FOLL_FORCE : base, base | C.FOLL_WRITE]);
    }
  });

  it('override, bisect-style: 6.1 with b40656aa7d55, latest without it', async () => {
    for (const [kernel, rdmaRoNoForce] of [['6.1', true], ['latest', false]] as const) {
      const k = await bootTest(backend, { kernel, rules: { rdmaRoNoForce } });
      const { a, nic, pd } = rdmaSetup(k);
      nic.reg_mr(pd, a, PAGE, RO_MR);
      expect(nic.pins()[0].gup_flags & C.FOLL_FORCE).toBe(rdmaRoNoForce ? 0 : C.FOLL_FORCE);
      expect(k.rules.rdmaRoNoForce).toMatchObject({ value: rdmaRoNoForce, overridden: true });
    }
  });

  it('a R/O MR of a read-only MAP_SHARED mapping: EFAULT through 6.1 (a forced write of a shared mapping), registered from 6.2', async () => {
    for (const [kernel, ok] of [['6.1', false], ['latest', true]] as const) {
      const k = await bootTest(backend, { kernel });
      const t = k.spawn();
      const f = k.createFile({ fs: 'tmpfs', size: PAGE, name: 'ro' });
      const m = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd: t.open(f) });
      t.read(m);
      const nic = k.rdma();
      const pd = nic.alloc_pd(t);
      expect(codeOf(() => nic.reg_mr(pd, m, PAGE, RO_MR))).toBe(ok ? undefined : 'EFAULT');
    }
  });

  // The §6.3 RDMA row: a R/O MR on a page the parent shares with a child
  // after fork. Through 6.1 the forced write breaks COW at registration by
  // a write fault: the parent gets a private copy mapped writable. From
  // 6.2 no write is asked for; the R/O long-term pin still unshares a
  // shared anon page (a7f226604170, 5.19), so the parent also gets a copy,
  // mapped read-only: its next write faults and reuses it.
  it('R/O MR on a COW-shared anon page: 5.10 copies by a write fault, latest by unsharing (its next write faults once)', async () => {
    for (const [kernel, faults] of [['5.10', 0], ['latest', 1]] as const) {
      const k = await bootTest(backend, { kernel });
      const { t, a, nic, pd } = rdmaSetup(k);
      const child = t.fork();
      const shared = t.translate(a);
      const copies = k.v.stats[C.COW_COPIES];
      nic.reg_mr(pd, a, PAGE, RO_MR);
      expect(k.v.stats[C.COW_COPIES] - copies).toBe(1);
      expect(t.translate(a)).not.toBe(shared);
      expect(child.translate(a)).toBe(shared);
      const pf = k.vmstat().pgfault;
      t.write(a, 0x42);
      expect(k.vmstat().pgfault - pf).toBe(faults);
      expect([t.read(a), child.read(a)]).toEqual([0x42, 0x41]);
      expect(nic.mrs()[0].umem && (nic.mrs()[0].umem as { pfnAt(va: number): number }).pfnAt(a)).toBe(t.translate(a));
    }
  });
});

// A written MAP_SHARED mapping of a new file of fs.
function sharedMap(k: Kernel, t: Task, fs: 'ext4' | 'tmpfs' | 'hugetlbfs'): number {
  const huge = fs === 'hugetlbfs';
  const f = k.createFile({ fs, size: huge ? '2MiB' : PAGE, name: fs });
  const m = t.mmap({ length: huge ? 2 ** 21 : PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
  t.write(m, 1);
  return m;
}

// An io_uring ring of t and a buffer at addr: the errno of registering it, or undefined.
function registerCode(t: Task, addr: number): string | undefined {
  const ring = t.io_uring_setup(4);
  return codeOf(() => ring.register_buffers([{ iov_base: addr, iov_len: PAGE }]));
}

describe.each(BACKENDS)('ioUringFileCheck: io_uring\'s own file-VMA check before 6.5 (%s core)', (backend) => {
  // S12: io_uring fixed buffer on a MAP_PRIVATE ext4 mapping.
  it('S12: MAP_PRIVATE ext4 is EOPNOTSUPP on 6.4 (the pins dropped again), registered on latest (the pin COWs to anon)', async () => {
    for (const [kernel, code] of [['6.4', 'EOPNOTSUPP'], ['5.10', 'EOPNOTSUPP'], ['latest', undefined]] as const) {
      const k = await bootTest(backend, { kernel });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: PAGE, name: 'data' });
      const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd: t.open(f) });
      t.read(m);
      expect(registerCode(t, m)).toBe(code);
      const v = k.vmstat();
      expect(v.nr_foll_pin_acquired - v.nr_foll_pin_released).toBe(code ? 0 : 1);
      if (code) expect(k.folio_maybe_dma_pinned(t.translate(m)!)).toBe(false);
      else expect(k.page(t.translate(m)!).flags).toContain('anon');
    }
  });

  it('shared ext4 on latest: GUP refuses the long-term write pin (EFAULT); shmem, hugetlbfs and anon are fine on 6.4 and latest', async () => {
    for (const kernel of ['6.4', 'latest'] as const) {
      const k = await bootTest(backend, { kernel, hugepages: { '2MiB': 1 } });
      const t = k.spawn();
      if (kernel === 'latest') expect(registerCode(t, sharedMap(k, t, 'ext4'))).toBe('EFAULT');
      expect(registerCode(t, sharedMap(k, t, 'tmpfs'))).toBeUndefined();
      expect(registerCode(t, sharedMap(k, t, 'hugetlbfs'))).toBeUndefined();
      expect(registerCode(t, anon(t, 1))).toBeUndefined();
    }
  });

  it('shared ext4 on 6.4: GUP lets the long-term write pin through, io_uring refuses the VMA after pinning (EOPNOTSUPP)', async () => {
    const k = await bootTest(backend, { kernel: '6.4' });
    const t = k.spawn();
    expect(registerCode(t, sharedMap(k, t, 'ext4'))).toBe('EOPNOTSUPP');
    const v = k.vmstat();
    expect(v.nr_foll_pin_acquired - v.nr_foll_pin_released).toBe(0);
  });

  it('ioUringShmem: before 5.14 io_uring took only hugetlbfs among file VMAs (shmem and shared anon EOPNOTSUPP); 5.18 takes shmem; the override brings 40dad765c045 to 5.10', async () => {
    for (const [kernel, rules, code] of [['5.10', {}, 'EOPNOTSUPP'], ['5.18', {}, undefined], ['5.10', { ioUringShmem: true }, undefined]] as const) {
      const k = await bootTest(backend, { kernel, rules, hugepages: { '2MiB': 1 } });
      const t = k.spawn();
      const shanon = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
      t.write(shanon, 1);
      expect([registerCode(t, sharedMap(k, t, 'tmpfs')), registerCode(t, shanon)]).toEqual([code, code]);
      expect(registerCode(t, sharedMap(k, t, 'hugetlbfs'))).toBeUndefined();
      const v = k.vmstat();
      expect(v.nr_foll_pin_acquired - v.nr_foll_pin_released).toBe(code ? 1 : 3);
    }
  });

  it('override, bisect-style: latest with the old check refuses MAP_PRIVATE ext4; 6.4 without it registers', async () => {
    for (const [kernel, ioUringFileCheck] of [['latest', true], ['6.4', false]] as const) {
      const k = await bootTest(backend, { kernel, rules: { ioUringFileCheck } });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: PAGE, name: 'data' });
      const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_PRIVATE, fd: t.open(f) });
      expect(registerCode(t, m)).toBe(ioUringFileCheck ? 'EOPNOTSUPP' : undefined);
    }
  });
});

describe.each(BACKENDS)('iommufd exists from 6.2 (%s core)', (backend) => {
  it('opening /dev/iommu is ENOENT before 6.2; the override brings it to 5.18', async () => {
    for (const [kernel, rules, code] of [['6.1', {}, 'ENOENT'], ['5.5', {}, 'ENOENT'], ['6.4', {}, undefined], ['5.18', { iommufd: true }, undefined]] as const) {
      const k = await bootTest(backend, { kernel, rules });
      const t = k.spawn();
      expect(codeOf(() => t.iommufd())).toBe(code);
      expect(t.fds.size).toBe(code ? 0 : 1);
    }
    expect((await bootTest(backend, { kernel: '6.4' })).rules.iommufd).toMatchObject({ value: true, commit: '2ff4bed7fee7', since: '6.2' });
  });
});

// S14: an O_DIRECT read into an anon buffer, fork while it is in flight,
// the parent writes the buffer, the I/O completes.
async function s14(backend: 'wasm' | 'ts', kernel: '6.4' | 'latest', rules = {}) {
  const k = await bootTest(backend, { kernel, rules });
  const t = k.spawn();
  const f = k.createFile({ fs: 'ext4', size: PAGE, name: 'disk' });
  f.store.set(0, 0xd15c);
  const buf = anon(t, 1);
  t.write(buf, 1);
  const dmaPage = t.translate(buf);
  t.preadv(t.open(f, { direct: true }), [{ base: buf, len: PAGE }], 0, { async: true });
  const child = t.fork();
  t.write(buf, 0xb);
  k.settle();
  return { k, t, child, buf, dmaPage };
}

describe.each(BACKENDS)('S14: O_DIRECT + fork (%s core)', (backend) => {
  it('6.4: fork shares the GET-referenced buffer, the parent\'s write COWs away from it and the DMA data lands in the child\'s page', async () => {
    const { t, child, buf, dmaPage } = await s14(backend, '6.4');
    expect(t.read(buf)).toBe(0xb); // the parent lost the read's data
    expect(t.translate(buf)).not.toBe(dmaPage);
    expect(child.translate(buf)).toBe(dmaPage);
    expect(child.read(buf)).toBe(0xd15c);
  });

  it('latest: fork copies the pinned buffer for the child; the parent keeps the page the device fills', async () => {
    const { t, child, buf, dmaPage } = await s14(backend, 'latest');
    expect(t.translate(buf)).toBe(dmaPage);
    expect(t.read(buf)).toBe(0xd15c);
    expect(child.translate(buf)).not.toBe(dmaPage);
    expect(child.read(buf)).toBe(1);
  });

  it('the outcome follows odirectPin alone: 6.4 with FOLL_PIN keeps the data, latest with FOLL_GET loses it', async () => {
    const fixed = await s14(backend, '6.4', { odirectPin: true });
    expect(fixed.t.read(fixed.buf)).toBe(0xd15c);
    const broken = await s14(backend, 'latest', { odirectPin: false });
    expect(broken.t.read(broken.buf)).toBe(0xb);
  });
});

describe.each(BACKENDS)('rdmaCopyOnForkAttr: rdma-core learns of copy-on-fork from 5.13 (%s core)', (backend) => {
  it('per preset: no attribute through 5.10, so ibv_fork_init() is needed and marks an MR DONTFORK; UNNEEDED from 5.18', async () => {
    for (const [kernel, cof] of [['5.5', false], ['5.8', false], ['5.10', false], ['5.18', true], ['6.4', true], ['latest', true]] as const) {
      const k = await bootTest(backend, { kernel });
      expect(k.rdma_sys().copy_on_fork).toBe(cof);
      const t = k.spawn();
      expect(t.ibv_is_fork_initialized()).toBe(cof ? C.IBV_FORK_UNNEEDED : C.IBV_FORK_DISABLED);
      expect(t.ibv_fork_init()).toBe(0);
      const nic = k.rdma();
      const a = anon(t, 1);
      nic.reg_mr(nic.alloc_pd(t), a, PAGE, C.IB_ACCESS_LOCAL_WRITE);
      expect(!!(t.maps().find((v) => v.start === a)!.flags & C.VM_DONTCOPY)).toBe(!cof);
    }
  });

  it('override, bisect-style: 5.10 with 6cc9e215eb27, latest without it; a NIC option still fixes it per machine', async () => {
    expect((await bootTest(backend, { kernel: '5.10', rules: { rdmaCopyOnForkAttr: true } })).rdma_sys().copy_on_fork).toBe(true);
    const k = await bootTest(backend, { rules: { rdmaCopyOnForkAttr: false } });
    expect(k.spawn().ibv_is_fork_initialized()).toBe(C.IBV_FORK_DISABLED);
    expect(k.rules.rdmaCopyOnForkAttr).toMatchObject({ value: false, overridden: true });
    const k2 = await bootTest(backend, { kernel: '5.10' });
    k2.rdma({ copyOnFork: true });
    expect(k2.rdma_sys().copy_on_fork).toBe(true);
  });
});
