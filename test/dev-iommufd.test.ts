// iommufd: IOAS_MAP's checks in order, pinning only once a domain is
// attached, the accounting modes (USER, MM, NONE) with pinned_vm always,
// IOAS_UNMAP's ENOENT rules, IOMMU_OPTION_RLIMIT_MODE, and release.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Iommufd, Kernel } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode, codeOf } from './helpers';

const RW = C.IOMMU_IOAS_MAP_READABLE | C.IOMMU_IOAS_MAP_WRITEABLE;
const FIXED = C.IOMMU_IOAS_MAP_FIXED_IOVA;
const BDF = '03:00.0';

function setup(k: Kernel, n: number, spawn = {}, compat = false) {
  const t = k.spawn(spawn);
  const a = anon(t, n);
  t.touch(a, n * PAGE, { write: true });
  const fd = t.iommufd({ compat });
  const ioas = fd.ioas_alloc();
  return { t, a, fd, ioas };
}

const pinned = (k: Kernel, pfn: number) => k.folio_maybe_dma_pinned(pfn);

describe.each(BACKENDS)('iommufd (%s core)', (backend) => {
  it('maps pin nothing until a device is attached; then USER mode charges user->locked_vm and pinned_vm', async () => {
    const k = await bootTest(backend);
    const { t, a, fd, ioas } = setup(k, 8);
    expect(fd.path).toBe('/dev/iommu');
    const iova = fd.ioas_map({ ioas, user_va: a, length: 8 * PAGE, flags: RW });
    expect(iova).toBe(0); // the lowest hole, aligned to the length (32 KiB) and to user_va
    expect(pinned(k, t.translate(a)!)).toBe(false);
    expect(k.user(t.uid).locked_vm).toBe(0);
    expect(t.mm.pinned_vm).toBe(0);
    fd.attach({ ioas, bdf: BDF });
    expect(pinned(k, t.translate(a + 7 * PAGE)!)).toBe(true);
    expect(k.user(t.uid).locked_vm).toBe(8);
    expect(t.mm.pinned_vm).toBe(8);
    expect(t.mm.locked_vm).toBe(0);
    expect(t.status().VmPin).toBe(32);
    expect(fd.charges().map((c) => [c.counter, c.pages])).toEqual([['user.locked_vm', 8], ['mm.pinned_vm', 8]]);
    expect(fd.areas(ioas)).toEqual([{ iova: 0, length: 8 * PAGE, user_va: a, mode: 'USER', pinned: true, pid: t.pid }]);
    expect(fd.dma_write(BDF, 3 * PAGE, 99)).toBe(true);
    expect(t.read(a + 3 * PAGE)).toBe(99);
    // a later map is pinned and charged at once, and mapped into the domain
    const iova2 = fd.ioas_map({ ioas, user_va: a, length: 2 * PAGE, flags: C.IOMMU_IOAS_MAP_READABLE });
    expect(iova2).toBe(8 * PAGE);
    expect(k.user(t.uid).locked_vm).toBe(10); // the same memory again: a second pages object, charged again
    expect(fd.dma_read(BDF, iova2 + PAGE)).toBe(t.read(a + PAGE));
    expect(fd.dma_write(BDF, iova2, 1)).toBe(false); // read-only
    expect(fd.ioas_unmap({ ioas, iova: 0, length: 0 })).toBe(10 * PAGE);
    expect(k.user(t.uid).locked_vm).toBe(0);
    expect(t.mm.pinned_vm).toBe(0);
    expect(pinned(k, t.translate(a)!)).toBe(false);
    expect(fd.dma_read(BDF, 0)).toBeNull();
    expect(k.dmesg().at(-1)).toMatch(/^DMAR: \[DMA Read NO_PASID\] Request device \[03:00.0\] fault addr 0x0 /);
  });

  it('two devices on one IOAS share the pinned pages: charged once', async () => {
    const k = await bootTest(backend);
    const { t, a, fd, ioas } = setup(k, 4);
    fd.attach({ ioas, bdf: BDF });
    fd.attach({ ioas, bdf: '04:00.0' });
    expectCode(k, () => fd.attach({ ioas, bdf: BDF }), 'EBUSY');
    expectCode(k, () => fd.attach({ ioas: 99, bdf: '05:00.0' }), 'ENOENT');
    const iova = fd.ioas_map({ ioas, user_va: a, length: 4 * PAGE, flags: RW });
    expect(t.mm.pinned_vm).toBe(4);
    expect(k.page(t.translate(a)!).refcount).toBe(1 + C.GUP_PIN_COUNTING_BIAS); // the mapping's reference and one pin
    fd.dma_write('04:00.0', iova, 5);
    expect(fd.dma_read(BDF, iova)).toBe(5);
  });

  it('modes: CAP_IPC_LOCK at map time is NONE (pinned_vm only); compat /dev/vfio/vfio is MM with a pr_info_once', async () => {
    const k = await bootTest(backend);
    const cap = setup(k, 4, { caps: ['CAP_IPC_LOCK'], memlock: 0 });
    cap.fd.attach({ ioas: cap.ioas, bdf: BDF });
    cap.fd.ioas_map({ ioas: cap.ioas, user_va: cap.a, length: 4 * PAGE, flags: RW });
    expect(cap.fd.areas(cap.ioas)[0].mode).toBe('NONE');
    expect(k.user(cap.t.uid).locked_vm).toBe(0);
    expect(cap.t.mm.locked_vm).toBe(0);
    expect(cap.t.mm.pinned_vm).toBe(4);
    const m = setup(k, 4, { uid: 1001 }, true);
    expect(m.fd.path).toBe('/dev/vfio/vfio');
    m.t.iommufd({ compat: true });
    expect(k.dmesg().filter((l) => l === 'IOMMUFD is providing /dev/vfio/vfio, not VFIO.')).toHaveLength(1);
    m.fd.attach({ ioas: m.ioas, bdf: '04:00.0' });
    m.fd.ioas_map({ ioas: m.ioas, user_va: m.a, length: 4 * PAGE, flags: RW });
    expect(m.fd.areas(m.ioas)[0].mode).toBe('MM');
    expect(m.t.mm.locked_vm).toBe(4);
    expect(m.t.mm.pinned_vm).toBe(4);
    expect(k.user(1001).locked_vm).toBe(0);
    expect(m.fd.option_rlimit_mode(C.IOMMU_OPTION_OP_GET)).toBe(1);
  });

  it('over RLIMIT_MEMLOCK: ENOMEM after pinning, everything unpinned again (USER and MM)', async () => {
    const k = await bootTest(backend);
    for (const compat of [false, true]) {
      const { t, a, fd, ioas } = setup(k, 8, { memlock: 4 * PAGE, uid: compat ? 2000 : 2001 }, compat);
      fd.attach({ ioas, bdf: compat ? '05:00.0' : '06:00.0' });
      fd.ioas_map({ ioas, user_va: a, length: 3 * PAGE, flags: RW });
      const acquired = k.vmstat().nr_foll_pin_acquired;
      let err: unknown;
      try {
        fd.ioas_map({ ioas, user_va: a + 3 * PAGE, length: 2 * PAGE, flags: RW });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'ENOMEM', detail: { counter: compat ? 'mm.locked_vm' : 'user.locked_vm', current: 3, requested: 2, limit: 4 } });
      expect(k.vmstat().nr_foll_pin_acquired).toBe(acquired + 2); // pinned first, then refused
      expect(pinned(k, t.translate(a + 3 * PAGE)!)).toBe(false);
      expect(t.mm.pinned_vm).toBe(3);
      expect(fd.areas(ioas)).toHaveLength(1);
      fd.ioas_map({ ioas, user_va: a + 3 * PAGE, length: PAGE, flags: RW }); // exactly to the limit
      expect(t.mm.pinned_vm).toBe(4);
    }
  });

  it('IOAS_MAP checks in order, each shadowing the next', async () => {
    const k = await bootTest(backend);
    const { a, fd, ioas } = setup(k, 4);
    const m = (o: Partial<{ ioas: number; user_va: number; length: number; iova: number; flags: number }>) =>
      () => fd.ioas_map({ ioas, user_va: a, length: PAGE, iova: 0x10000, flags: RW | FIXED, ...o });
    expectCode(k, m({ flags: 8, length: 2 ** 64 }), 'EOPNOTSUPP');
    expectCode(k, m({ length: 2 ** 64, flags: FIXED }), 'EOVERFLOW'); // ULONG_MAX
    expectCode(k, m({ flags: FIXED, ioas: 77 }), 'EINVAL'); // neither READABLE nor WRITEABLE
    expectCode(k, m({ ioas: 77, length: 0 }), 'ENOENT');
    expectCode(k, m({ length: 0 }), 'EINVAL');
    expectCode(k, m({ length: PAGE + 1 }), 'EINVAL');
    expectCode(k, m({ iova: 0x10001 }), 'EINVAL');
    expectCode(k, m({ iova: 2 ** 64 - PAGE, length: 2 * PAGE }), 'EOVERFLOW');
    expectCode(k, m({ iova: 0xfee00000 }), 'EINVAL'); // reserved (MSI window)
    fd.ioas_map({ ioas, user_va: a, length: 2 * PAGE, iova: 0x10000, flags: RW | FIXED });
    expectCode(k, m({ iova: 0x11000 }), 'EEXIST');
    // no hole: fill the 48-bit space above the MSI window (nothing is pinned without a domain)
    fd.ioas_map({ ioas, user_va: 0, length: 2 ** 47, iova: 2 ** 47, flags: RW | FIXED });
    expectCode(k, () => fd.ioas_map({ ioas, user_va: 0, length: 2 ** 47, flags: RW }), 'ENOSPC');
    expect(fd.ioas_map({ ioas, user_va: 0, length: 2 ** 40, flags: RW })).toBe(2 ** 40); // aligned to its length
    expect(() => fd.ioas_map({ ioas, user_va: -1, length: PAGE, flags: RW })).toThrow(RangeError);
  });

  it('IOAS_UNMAP: ENOENT for an empty range and for a partly covered area (what went before stays unmapped)', async () => {
    const k = await bootTest(backend);
    const { t, a, fd, ioas } = setup(k, 8);
    fd.attach({ ioas, bdf: BDF });
    fd.ioas_map({ ioas, user_va: a, length: 2 * PAGE, iova: 0x100000, flags: RW | FIXED });
    fd.ioas_map({ ioas, user_va: a + 2 * PAGE, length: 4 * PAGE, iova: 0x102000, flags: RW | FIXED });
    expectCode(k, () => fd.ioas_unmap({ ioas, iova: 0x200000, length: PAGE }), 'ENOENT');
    expectCode(k, () => fd.ioas_unmap({ ioas, iova: 0x100000, length: 0 }), 'EINVAL');
    expectCode(k, () => fd.ioas_unmap({ ioas, iova: 2 ** 64 - PAGE, length: 2 * PAGE }), 'EOVERFLOW');
    expectCode(k, () => fd.ioas_unmap({ ioas: 9, iova: 0, length: 0 }), 'ENOENT');
    expect(codeOf(() => fd.ioas_unmap({ ioas, iova: 0x100000, length: 4 * PAGE }))).toBe('ENOENT');
    expect(fd.areas(ioas).map((x) => x.iova)).toEqual([0x102000]); // the first area went
    expect(t.mm.pinned_vm).toBe(4);
    expect(fd.ioas_unmap({ ioas, iova: 0x102000, length: 4 * PAGE })).toBe(4 * PAGE);
    expect(fd.ioas_unmap({ ioas, iova: 0, length: 0 })).toBe(0); // an empty IOAS: success
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
  });

  it('IOMMU_OPTION_RLIMIT_MODE: GET, then SET needs CAP_SYS_RESOURCE (EPERM) and an empty ctx (EBUSY); 0/1 only', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const fd = t.iommufd();
    expect(fd.option_rlimit_mode(C.IOMMU_OPTION_OP_GET)).toBe(0);
    expectCode(k, () => fd.option_rlimit_mode(C.IOMMU_OPTION_OP_SET, 1), 'EPERM');
    expectCode(k, () => fd.option_rlimit_mode(2), 'EOPNOTSUPP');
    const root = k.spawn({ uid: 0 });
    const a = anon(root, 2);
    root.touch(a, 2 * PAGE, { write: true });
    const rfd = root.iommufd();
    expectCode(k, () => rfd.option_rlimit_mode(C.IOMMU_OPTION_OP_SET, 2), 'EINVAL');
    rfd.option_rlimit_mode(C.IOMMU_OPTION_OP_SET, 1);
    expect(rfd.option_rlimit_mode(C.IOMMU_OPTION_OP_GET)).toBe(1);
    const ioas = rfd.ioas_alloc();
    expectCode(k, () => rfd.option_rlimit_mode(C.IOMMU_OPTION_OP_SET, 0), 'EBUSY');
    expectCode(k, () => rfd.option_rlimit_mode(C.IOMMU_OPTION_OP_SET, 2), 'EBUSY'); // EBUSY shadows EINVAL
    rfd.attach({ ioas, bdf: BDF });
    rfd.ioas_map({ ioas, user_va: a, length: 2 * PAGE, flags: RW });
    expect(rfd.areas(ioas)[0].mode).toBe('NONE'); // root has CAP_IPC_LOCK: MM mode never applies
    expect(root.mm.pinned_vm).toBe(2);
  });

  it('release on close and exit: USER mode uncharges the dead mm\'s pinned_vm; MM mode cannot reach a dead mm', async () => {
    const k = await bootTest(backend);
    for (const compat of [false, true]) {
      const { t, a, fd, ioas } = setup(k, 4, { uid: compat ? 3000 : 3001 }, compat);
      fd.attach({ ioas, bdf: compat ? '07:00.0' : '08:00.0' });
      fd.ioas_map({ ioas, user_va: a, length: 4 * PAGE, flags: RW });
      const pfn = t.translate(a)!;
      const other = k.spawn();
      other.installFd(fd);
      t.exit();
      expect(fd.closed).toBe(false);
      expect(pinned(k, pfn)).toBe(true);
      other.exit();
      expect(fd.closed).toBe(true);
      expect(k.page(pfn).refcount).toBe(0);
      expect(k.user(t.uid).locked_vm).toBe(0);
      expect(t.mm.pinned_vm).toBe(compat ? 4 : 0);
      expect(t.mm.locked_vm).toBe(compat ? 4 : 0);
      expectCode(k, () => fd.dma_read('07:00.0', 0), 'EBADF');
    }
    const { t, a, fd, ioas } = setup(k, 2, { uid: 3002 });
    fd.attach({ ioas, bdf: '09:00.0' });
    fd.ioas_map({ ioas, user_va: a, length: 2 * PAGE, flags: RW });
    t.close(3);
    expect(t.mm.pinned_vm).toBe(0);
    expect(pinned(k, t.translate(a)!)).toBe(false);
  });

  it('property: random map/unmap/attach/close keep counters = ledger = live pinned areas, pins balanced', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k, 32, { memlock: 24 * PAGE }); // (its ctx stays idle)
    const op = fc.oneof(
      fc.record({ kind: fc.constant('map' as const), c: fc.nat(1), off: fc.nat(31), n: fc.integer({ min: 1, max: 8 }), w: fc.boolean() }),
      fc.record({ kind: fc.constant('unmap' as const), c: fc.nat(1), iova: fc.nat(15), n: fc.integer({ min: 0, max: 16 }) }),
      fc.record({ kind: fc.constant('attach' as const), c: fc.nat(1), bdf: fc.nat(2) }),
      fc.record({ kind: fc.constant('close' as const), c: fc.nat(1) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const fds: Iommufd[] = [t.iommufd(), t.iommufd({ compat: true })];
      const ioas = fds.map((fd) => fd.ioas_alloc());
      for (const o of ops) {
        const fd = fds[o.c];
        if (o.kind === 'map') {
          const n = Math.min(o.n, 32 - o.off);
          codeOf(() => fd.ioas_map({ ioas: ioas[o.c], user_va: a + o.off * PAGE, length: n * PAGE, flags: o.w ? RW : C.IOMMU_IOAS_MAP_READABLE }));
        } else if (o.kind === 'unmap') {
          codeOf(() => fd.ioas_unmap({ ioas: ioas[o.c], iova: o.n ? o.iova * 4 * PAGE : 0, length: o.n * PAGE }));
        } else if (o.kind === 'attach') {
          codeOf(() => fd.attach({ ioas: ioas[o.c], bdf: `1${o.c}:00.${o.bdf}` }));
        } else if (!fd.closed) {
          t.close([...t.fds].find(([, f]) => f === fd)![0]);
        }
        const live = fds.flatMap((fd, i) => (fd.closed ? [] : fd.areas(ioas[i]).filter((x) => x.pinned).map((x) => ({ ...x, mm: i === 1 }))));
        const sum = (xs: typeof live) => xs.reduce((s, x) => s + x.length / PAGE, 0);
        expect(t.mm.pinned_vm).toBe(sum(live));
        expect(t.mm.locked_vm).toBe(sum(live.filter((x) => x.mode === 'MM')));
        expect(k.user(t.uid).locked_vm).toBe(sum(live.filter((x) => x.mode === 'USER')));
        expect(k.memlockLedger().reduce((s, x) => s + x.pages, 0)).toBe(2 * sum(live));
        for (let i = 0; i < 32; i++) {
          const holders = live.filter((x) => a + i * PAGE >= x.user_va && a + i * PAGE < x.user_va + x.length).length;
          expect(Math.floor(k.page(t.translate(a + i * PAGE)!).refcount / C.GUP_PIN_COUNTING_BIAS)).toBe(holders);
        }
      }
      for (const fd of fds) if (!fd.closed) t.close([...t.fds].find(([, f]) => f === fd)![0]);
      expect(t.mm.pinned_vm).toBe(0);
      expect(k.memlockLedger()).toEqual([]);
    }), { numRuns: 40 });
  });
});

describe('iommufd: both cores agree', () => {
  it('the same maps, attaches, DMA, unmaps and exit leave the same machine', async () => {
    const run = async (backend: 'wasm' | 'ts') => {
      const k = await bootTest(backend, { memlock: 40 * PAGE });
      const { t, a, fd, ioas } = setup(k, 32, {}, true);
      fd.ioas_map({ ioas, user_va: a, length: 16 * PAGE, flags: RW });
      fd.attach({ ioas, bdf: BDF });
      const iova = fd.ioas_map({ ioas, user_va: a + 16 * PAGE, length: 16 * PAGE, flags: RW });
      for (let i = 0; i < 16; i++) fd.dma_write(BDF, iova + i * PAGE, i + 3);
      codeOf(() => fd.ioas_map({ ioas, user_va: a, length: 32 * PAGE, flags: RW }));
      t.munmap(a, 8 * PAGE);
      const reads = Array.from({ length: 32 }, (_, i) => fd.dma_read(BDF, i * PAGE));
      fd.ioas_unmap({ ioas, iova: 0, length: 16 * PAGE });
      t.exit();
      return { digest: k.digest(), dmesg: k.dmesg().slice(1), reads, locked: t.mm.locked_vm, pinned: t.mm.pinned_vm };
    };
    expect(await run('ts')).toEqual(await run('wasm'));
  });
});
