// O_DIRECT block I/O (src/devices/block.ts, src/fs/read_write.ts): the
// syscalls' errnos in order, the short-term FOLL_PIN pins held exactly while
// a request is in flight, no memlock charge, completion on the clock, and
// Jan Kara's race (a direct read into a MAP_SHARED ext4 page across
// writeback dirties it behind the filesystem's back).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeviceFile, type Kernel, type Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, expectCode, codeOf } from './helpers';

class NullDev extends DeviceFile {
  readonly path = 'anon_inode:[null]';
  pins() { return []; }
  protected release(): void {}
}

function pinsHeld(k: Kernel): number {
  const v = k.vmstat();
  return v.nr_foll_pin_acquired - v.nr_foll_pin_released;
}

// An ext4 file of `pages` pages, page i holding word 100 + i on disk.
function diskFile(k: Kernel, pages: number, fs: 'ext4' | 'xfs' | 'btrfs' = 'ext4') {
  const f = k.createFile({ fs, size: pages * PAGE, name: `${fs}-data` });
  for (let i = 0; i < pages; i++) f.store.set(i, 100 + i);
  return f;
}

async function setup(backend: 'wasm' | 'ts', pages = 4) {
  const k = await bootTest(backend);
  const t = k.spawn();
  const f = diskFile(k, pages);
  const fd = t.open(f, { direct: true });
  const buf = anon(t, pages);
  return { k, t, f, fd, buf };
}

describe.each(BACKENDS)('O_DIRECT: open and the errnos (%s core)', (backend) => {
  it('open: hugetlbfs refuses O_DIRECT (EINVAL); tmpfs, fsdax and disk filesystems accept it', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 1 }, pmem: '4MiB' });
    const t = k.spawn();
    expectCode(k, () => t.open(k.createFile({ fs: 'hugetlbfs', size: '2MiB' }), { direct: true }), 'EINVAL');
    expect(t.fds.size).toBe(0);
    for (const fs of ['tmpfs', 'fsdax', 'ext4', 'xfs', 'btrfs'] as const) {
      expect(t.open(k.createFile({ fs, size: PAGE }), { direct: true })).toBeGreaterThan(2);
    }
    expect(() => t.open(k.createFile({ fs: 'ext4', size: PAGE }), { direct: 1 as unknown as boolean })).toThrow(TypeError);
  });

  it('preadv/pwritev check the offset, then the fd, then the iovecs, changing nothing', async () => {
    const { k, t, fd, buf } = await setup(backend);
    const dev = new NullDev(k, 'null');
    const devFd = t.installFd(dev);
    const iov = [{ base: buf, len: PAGE }];
    expectCode(k, () => t.preadv(99, iov, -512), 'EINVAL'); // pos < 0 before fdget
    expectCode(k, () => t.preadv(99, iov, 0), 'EBADF');
    expectCode(k, () => t.pwritev(99, iov, 0), 'EBADF');
    expectCode(k, () => t.preadv(devFd, iov, 0), 'EINVAL');
    expectCode(k, () => t.preadv(fd, Array.from({ length: C.UIO_MAXIOV + 1 }, () => ({ base: buf, len: 0 })), 0), 'EINVAL');
    expect(t.preadv(fd, Array.from({ length: C.UIO_MAXIOV }, () => ({ base: buf, len: 0 })), 0)).toBe(0);
    expectCode(k, () => t.preadv(fd, [{ base: buf, len: -1 }], 0), 'EINVAL');
    expectCode(k, () => t.preadv(fd, [{ base: 2 ** 47 - PAGE, len: 2 * PAGE }], 0), 'EFAULT'); // access_ok
    expect(() => t.preadv(fd, [{ base: 'x', len: 1 }] as never, 0)).toThrow(TypeError);
    expect(() => t.preadv(fd, {} as never, 0)).toThrow(TypeError);
    expect(() => t.preadv(fd, iov, 0.5)).toThrow(RangeError);
    expect(() => t.preadv(fd, iov, 0, { latencyNs: -1 })).toThrow(RangeError);
    t.close(fd);
    expectCode(k, () => t.preadv(fd, iov, 0), 'EBADF');
    expect(pinsHeld(k)).toBe(0);
  });

  it('the order between the later checks: iovecs, then EFBIG, then alignment, then the pin', async () => {
    const { k, t, f, fd, buf } = await setup(backend);
    const bad = [{ base: buf, len: -1 }];
    expectCode(k, () => t.preadv(99, bad, 0), 'EBADF'); // fdget before import_iovec
    const h = t.open(k.createFile({ fs: 'hugetlbfs', size: 0 }));
    expectCode(k, () => t.pwritev(h, bad, 0), 'EINVAL'); // no write_iter, before the iovecs
    expectCode(k, () => t.pwritev(h, [{ base: -PAGE, len: PAGE }], 0), 'EINVAL');
    expectCode(k, () => t.pwritev(fd, [{ base: -PAGE, len: PAGE }], f.maxBytes), 'EFAULT'); // import_iovec first
    expectCode(k, () => t.pwritev(fd, [{ base: buf + 1, len: 3 }], f.maxBytes), 'EFBIG'); // generic_write_checks before alignment
    t.munmap(buf, PAGE);
    expectCode(k, () => t.preadv(fd, [{ base: buf + 1, len: PAGE }], 0), 'EINVAL'); // alignment before the pin
    expect(codeOf(() => t.preadv(fd, [{ base: buf, len: PAGE }], 0))).toBe('EFAULT');
  });

  it('alignment: offset, length and each segment against the logical block size, addresses against dma_alignment (EINVAL)', async () => {
    const { k, t, fd, buf } = await setup(backend);
    for (const [iov, pos] of [
      [[{ base: buf, len: PAGE }], 256], // offset
      [[{ base: buf, len: 1000 }], 0], // total length
      [[{ base: buf + 256, len: 512 }], 0], // address
      [[{ base: buf, len: 256 }, { base: buf + PAGE, len: 256 }], 0], // segment lengths (total 512)
    ] as const) {
      expectCode(k, () => t.preadv(fd, [...iov], pos), 'EINVAL');
      expectCode(k, () => t.pwritev(fd, [...iov], pos), 'EINVAL');
    }
    expect(t.preadv(fd, [{ base: buf + 512, len: 512 }], 1024)).toBe(512); // 512-byte alignment is enough
    k.blockDevice().configure({ logicalBlockSize: 4096 });
    expectCode(k, () => t.preadv(fd, [{ base: buf, len: PAGE }], 512), 'EINVAL');
    expectCode(k, () => t.preadv(fd, [{ base: buf, len: 512 }], 0), 'EINVAL');
    // The address only needs dma_alignment (511), even with 4 KiB blocks.
    expect(t.preadv(fd, [{ base: buf + 512, len: PAGE }], 0)).toBe(PAGE);
    expect(pinsHeld(k)).toBe(0);
  });

  it('a read at or past EOF returns 0 before the alignment check; a short read stops at i_size', async () => {
    const { k, t, f, fd, buf } = await setup(backend, 2);
    expect(t.preadv(fd, [{ base: buf, len: 7 }], 3 * PAGE)).toBe(0);
    k.truncate(f, PAGE + 512);
    expect(t.preadv(fd, [{ base: buf, len: 2 * PAGE }], 0)).toBe(PAGE + 512);
    expect(t.read(buf + PAGE)).toBe(101);
  });

  it('a file truncated below a read in flight: the read returns 0 and moves nothing', async () => {
    const { k, t, f, fd, buf } = await setup(backend, 2);
    t.write(buf, 9);
    const r = t.preadv(fd, [{ base: buf, len: 512 }], PAGE + 512, { async: true });
    k.truncate(f, PAGE + 100);
    k.settle();
    expect([r.done, r.res, t.read(buf)]).toEqual([true, 0, 9]);
    expect(pinsHeld(k)).toBe(0);
  });

  it('an unmapped buffer: EFAULT for a direct read or write (nothing pinned stays), EFAULT or a short count buffered', async () => {
    const { k, t, f, fd, buf } = await setup(backend);
    t.munmap(buf + 2 * PAGE, 2 * PAGE);
    expect(codeOf(() => t.preadv(fd, [{ base: buf, len: 4 * PAGE }], 0))).toBe('EFAULT');
    expect(codeOf(() => t.pwritev(fd, [{ base: buf + 2 * PAGE, len: PAGE }], 0))).toBe('EFAULT');
    expect(pinsHeld(k)).toBe(0);
    expect(t.read(buf)).toBe(0); // nothing landed
    const bfd = t.open(f);
    expect(t.preadv(bfd, [{ base: buf, len: 4 * PAGE }], 0)).toBe(2 * PAGE); // copy_to_user's short count
    expect(t.read(buf + PAGE)).toBe(101);
    expectCode(k, () => t.preadv(bfd, [{ base: buf + 2 * PAGE, len: PAGE }], 0), 'EFAULT');
    expectCode(k, () => t.pwritev(bfd, [{ base: buf + 3 * PAGE, len: PAGE }], 0), 'EFAULT');
    const ro = anon(t, 1, C.PROT_READ);
    expectCode(k, () => t.preadv(bfd, [{ base: ro, len: PAGE }], 0), 'EFAULT'); // a read into read-only memory
    expect(codeOf(() => t.preadv(fd, [{ base: ro, len: PAGE }], 0))).toBe('EFAULT'); // FOLL_WRITE pin refused
  });

  it('pwritev: EFBIG at s_maxbytes, EINVAL on hugetlbfs, EFBIG growing fsdax; pwrite/pread unchanged', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 1 }, pmem: '4MiB' });
    const t = k.spawn();
    const buf = anon(t, 1);
    const e = k.createFile({ fs: 'ext4', size: 0 });
    const fd = t.open(e, { direct: true });
    expectCode(k, () => t.pwritev(fd, [{ base: buf, len: 512 }], e.maxBytes), 'EFBIG');
    expect(t.pwritev(fd, [{ base: buf, len: 0 }], e.maxBytes)).toBe(0); // a zero-length write is not checked
    const h = t.open(k.createFile({ fs: 'hugetlbfs', size: '2MiB' }));
    expectCode(k, () => t.pwritev(h, [{ base: buf, len: 512 }], 0), 'EINVAL');
    expect(t.preadv(h, [{ base: buf, len: PAGE }], 0)).toBe(PAGE);
    const d = t.open(k.createFile({ fs: 'fsdax', size: PAGE }), { direct: true });
    t.write(buf, 77);
    expect(t.pwritev(d, [{ base: buf, len: PAGE }], 0)).toBe(PAGE);
    expect(t.pread(d, 0)).toBe(77);
    expectCode(k, () => t.pwritev(d, [{ base: buf, len: PAGE }], PAGE), 'EFBIG');
    t.pwrite(fd, 5 * PAGE + 3, 9);
    expect(e.size).toBe(6 * PAGE);
    expect(t.pread(fd, 5 * PAGE)).toBe(9);
  });
});

describe.each(BACKENDS)('O_DIRECT: data, pins and the clock (%s core)', (backend) => {
  it('direct and buffered reads and writes see the same data, on ext4, xfs and btrfs', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const buf = anon(t, 4);
    for (const fs of ['ext4', 'xfs', 'btrfs'] as const) {
      const f = diskFile(k, 4, fs);
      const d = t.open(f, { direct: true });
      const b = t.open(f);
      t.pwrite(b, PAGE, 555); // dirty in the cache: a direct read flushes it first
      expect(t.preadv(d, [{ base: buf, len: 2 * PAGE }, { base: buf + 3 * PAGE, len: PAGE }], 0)).toBe(3 * PAGE);
      expect([t.read(buf), t.read(buf + PAGE), t.read(buf + 3 * PAGE)]).toEqual([100, 555, 102]);
      t.write(buf, 7);
      expect(t.pwritev(d, [{ base: buf, len: PAGE }], 3 * PAGE)).toBe(PAGE);
      expect(t.pread(b, 3 * PAGE)).toBe(7); // the cached copy follows the disk
      expect(f.store.get(3)).toBe(7);
      expect(t.pwritev(d, [{ base: buf, len: PAGE }], 4 * PAGE)).toBe(PAGE); // extends the file
      expect(f.size).toBe(5 * PAGE);
      t.write(buf + PAGE, 0);
      expect(t.preadv(b, [{ base: buf + PAGE, len: PAGE }], 4 * PAGE)).toBe(PAGE);
      expect(t.read(buf + PAGE)).toBe(7);
    }
    expect(pinsHeld(k)).toBe(0);
  });

  it('btrfs serves O_DIRECT buffered unless aligned to its 4 KiB sectors; ext4 refuses a misaligned request', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const buf = anon(t, 2);
    const b = t.open(diskFile(k, 2, 'btrfs'), { direct: true });
    const pins = k.vmstat().nr_foll_pin_acquired;
    expect(t.preadv(b, [{ base: buf + 100, len: 1000 }], 3)).toBe(1000);
    expect(t.read(buf)).toBe(100);
    expect(t.preadv(b, [{ base: buf + 512, len: 512 }], PAGE)).toBe(512); // sector-aligned, not 4 KiB-aligned
    expect(t.read(buf)).toBe(101);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(pins); // no pin: the page cache copied it
    expect(t.preadv(b, [{ base: buf + PAGE, len: PAGE }], 0)).toBe(PAGE);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(pins + 1); // direct
    expectCode(k, () => t.preadv(t.open(diskFile(k, 2), { direct: true }), [{ base: buf + 100, len: 1000 }], 3), 'EINVAL');
  });

  it('tmpfs and fsdax take O_DIRECT without pinning anything', async () => {
    const k = await bootTest(backend, { pmem: '4MiB' });
    const t = k.spawn();
    const buf = anon(t, 1);
    t.write(buf, 3);
    for (const fs of ['tmpfs', 'fsdax'] as const) {
      const fd = t.open(k.createFile({ fs, size: PAGE }), { direct: true });
      const before = k.vmstat().nr_foll_pin_acquired;
      expect(t.pwritev(fd, [{ base: buf + 1, len: 10 }], 5)).toBe(10); // no alignment rule either
      expect(t.pread(fd, 0)).toBe(3);
      expect(k.vmstat().nr_foll_pin_acquired).toBe(before);
    }
  });

  it('pins are held exactly while a request is in flight, short-term and uncharged; completion follows the clock', async () => {
    const { k, t, f, fd, buf } = await setup(backend);
    const bd = k.blockDevice();
    expect(bd.latencyNs).toBe(10_000);
    const r1 = t.preadv(fd, [{ base: buf, len: 2 * PAGE }], 0, { async: true });
    const r2 = t.preadv(fd, [{ base: buf + 2 * PAGE, len: PAGE }], 2 * PAGE, { async: true, latencyNs: 4000 });
    t.write(buf + 3 * PAGE, 66);
    const r3 = t.pwritev(fd, [{ base: buf + 3 * PAGE, len: PAGE }], 3 * PAGE, { async: true });
    expect([r1.done, r1.res, r2.done, r3.done]).toEqual([false, null, false, false]);
    expect(pinsHeld(k)).toBe(4);
    for (const a of [buf, buf + 2 * PAGE, buf + 3 * PAGE]) expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(true);
    expect(bd.pins()).toEqual([
      { device: 'nvme0n1', object: 'dio 1', pid: t.pid, addr: buf, length: 2 * PAGE, pages: 2, gup_flags: C.FOLL_PIN | C.FOLL_WRITE },
      { device: 'nvme0n1', object: 'dio 2', pid: t.pid, addr: buf + 2 * PAGE, length: PAGE, pages: 1, gup_flags: C.FOLL_PIN | C.FOLL_WRITE },
      { device: 'nvme0n1', object: 'dio 3', pid: t.pid, addr: buf + 3 * PAGE, length: PAGE, pages: 1, gup_flags: C.FOLL_PIN },
    ]);
    expect(k.devices()).toEqual([bd]);
    expect([t.mm.pinned_vm, t.mm.locked_vm, k.memlockLedger().length, bd.charges().length]).toEqual([0, 0, 0, 0]);
    expect(t.read(buf)).toBe(0); // the data lands at completion
    expect(k.advance(4000)).toBe(1);
    expect([r1.done, r2.done, r2.res, r3.done]).toEqual([false, true, PAGE, false]);
    expect(t.read(buf + 2 * PAGE)).toBe(102);
    expect(pinsHeld(k)).toBe(3);
    expect(k.advance(6000)).toBe(2); // both at 10 µs, in submission order
    expect([r1.res, r3.res, r1.completesAt, r3.submittedAt]).toEqual([2 * PAGE, PAGE, 10_000, 0]);
    expect([t.read(buf), t.read(buf + PAGE), f.store.get(3)]).toEqual([100, 101, 66]);
    expect(pinsHeld(k)).toBe(0);
    expect(k.folio_maybe_dma_pinned(t.translate(buf)!)).toBe(false);
    expect(bd.pins()).toEqual([]);
    // A buffered fd's async request is done at submission.
    const b = t.preadv(t.open(f), [{ base: buf, len: PAGE }], PAGE, { async: true });
    expect([b.done, b.res, b.direct]).toEqual([true, PAGE, false]);
  });

  it('a write in flight sends what the buffer holds at completion (no stable pages for O_DIRECT)', async () => {
    const { k, t, f, fd, buf } = await setup(backend);
    t.write(buf, 1);
    t.pwritev(fd, [{ base: buf, len: PAGE }], 0, { async: true });
    t.write(buf, 2);
    k.settle();
    expect(f.store.get(0)).toBe(2);
  });

  it('fork while a read is in flight gives the child a copy of the pinned page; the data lands in the parent\'s', async () => {
    const { k, t, fd, buf } = await setup(backend);
    t.write(buf, 5);
    const pfn = t.translate(buf)!;
    const r = t.preadv(fd, [{ base: buf, len: PAGE }], 0, { async: true });
    const child = t.fork();
    expect(child.translate(buf)).not.toBe(pfn); // copied early: the page is maybe-DMA-pinned
    expect(t.translate(buf)).toBe(pfn);
    expect(child.fdFlags.get(fd)).toBe(C.O_DIRECT);
    k.settle();
    expect(r.res).toBe(PAGE);
    expect(t.read(buf)).toBe(100);
    expect(child.read(buf)).toBe(5);
    const pins = k.vmstat().nr_foll_pin_acquired;
    expect(child.preadv(fd, [{ base: buf, len: PAGE }], PAGE)).toBe(PAGE); // the child's fd is O_DIRECT too
    expect(k.vmstat().nr_foll_pin_acquired).toBe(pins + 1);
  });

  it('migration of a page under an in-flight request fails, and succeeds after completion', async () => {
    const k = await bootTest(backend, { movable: '16MiB' });
    const t = k.spawn();
    const f = diskFile(k, 1);
    const fd = t.open(f, { direct: true });
    const buf = anon(t, 1);
    t.write(buf, 1);
    const pfn = t.translate(buf)!;
    t.preadv(fd, [{ base: buf, len: PAGE }], 0, { async: true });
    expect(k.migrate_folio(pfn)).toBe(-C.EAGAIN);
    k.settle();
    expect(k.migrate_folio(pfn)).toBe(0);
    expect(t.read(buf)).toBe(100);
  });

  it('exit with a request in flight: the pins keep the frames until completion, which then frees them', async () => {
    const k = await bootTest(backend);
    const free0 = k.meminfo().MemFree;
    const t = k.spawn();
    const f = diskFile(k, 2);
    const fd = t.open(f, { direct: true });
    const buf = anon(t, 2);
    t.write(buf + PAGE, 42);
    const r = t.preadv(fd, [{ base: buf, len: PAGE }], 0, { async: true });
    const w = t.pwritev(fd, [{ base: buf + PAGE, len: PAGE }], PAGE, { async: true });
    t.exit();
    expect(pinsHeld(k)).toBe(2);
    expect(k.meminfo().MemFree).toBeLessThan(free0);
    expect(k.blockDevice().pins().map((p) => p.pid)).toEqual([t.pid, t.pid]);
    k.settle();
    expect([r.res, w.res]).toEqual([PAGE, PAGE]);
    expect(f.store.get(1)).toBe(42); // the orphaned buffer still reached the disk
    expect(pinsHeld(k)).toBe(0);
    expect(k.meminfo().MemFree).toBe(free0 - k.meminfo().Cached);
  });
});

// Jan Kara's race: a direct read into a MAP_SHARED page of an ext4 file,
// writeback of that file while the read is in flight, then completion.
async function raceSetup(backend: 'wasm' | 'ts') {
  const k = await bootTest(backend);
  const t = k.spawn();
  const src = diskFile(k, 1);
  const fd = t.open(src, { direct: true });
  const db = k.createFile({ fs: 'ext4', size: PAGE, name: 'db' });
  const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(db) });
  return { k, t, fd, db, m };
}

describe.each(BACKENDS)('O_DIRECT: Jan Kara\'s race (%s core)', (backend) => {
  // The page is pinned (6.5+) while writeback cleans it, so it keeps its
  // buffers (6.4+, d824ec2a1546): the re-dirtied page is written normally.
  // Before 6.5 (GET) it lost them: test/era-writeback.test.ts.
  it('writeback between submission and completion: the page is re-dirtied at completion and, having kept its buffers while pinned, written normally', async () => {
    const { k, t, fd, db, m } = await raceSetup(backend);
    const r = t.preadv(fd, [{ base: m, len: PAGE }], 0, { async: true });
    expect(k.page(t.translate(m)!).flags).toContain('dirty'); // bio_set_pages_dirty()
    expect(k.writeback(db)).toEqual({ written: 1, hazards: [] }); // cleans the page the device is about to fill
    k.settle();
    expect(r.res).toBe(PAGE);
    expect(k.dmesg().some((l) => l.includes('DMA write into clean page-cache folio'))).toBe(true);
    expect(t.read(m)).toBe(100);
    expect(k.page(t.translate(m)!).flags).toEqual(expect.arrayContaining(['dirty', 'private']));
    expect(k.writeback(db)).toEqual({ written: 1, hazards: [] });
    expect(db.store.get(0)).toBe(100);
  });

  it('controls: a synchronous read, or writeback after completion, report no hazard', async () => {
    for (const mode of ['sync', 'after'] as const) {
      const { k, t, fd, db, m } = await raceSetup(backend);
      if (mode === 'sync') expect(t.preadv(fd, [{ base: m, len: PAGE }], 0)).toBe(PAGE);
      else {
        t.preadv(fd, [{ base: m, len: PAGE }], 0, { async: true });
        k.settle();
      }
      expect(k.writeback(db)).toEqual({ written: 1, hazards: [] });
      expect(db.store.get(0)).toBe(100);
      expect(k.dmesg().some((l) => l.includes('DMA write into clean'))).toBe(false);
    }
  });
});

// Random mixed buffered and direct reads and writes of one ext4 file: its
// contents always equal a model of one word per page, and both cores end
// in the same state.
type Op = { direct: boolean; write: boolean; page: number; n: number; async: boolean; word: number };

const opArb = fc.record({
  direct: fc.boolean(), write: fc.boolean(), page: fc.nat(5), n: fc.integer({ min: 1, max: 3 }), async: fc.boolean(),
  word: fc.integer({ min: 1, max: 1000 }),
});

function runOps(k: Kernel, t: Task, ops: Op[]): number[] {
  const f = k.createFile({ fs: 'ext4', size: 4 * PAGE, name: 'prop' });
  const fds = [t.open(f), t.open(f, { direct: true })];
  const buf = anon(t, 3);
  const model = new Array<number>(8).fill(0);
  for (const op of ops) {
    const fd = fds[op.direct ? 1 : 0];
    const iov = [{ base: buf, len: op.n * PAGE }];
    const async = op.async && op.direct;
    if (op.write) {
      for (let j = 0; j < op.n; j++) t.write(buf + j * PAGE, op.word + j);
      const r = async ? t.pwritev(fd, iov, op.page * PAGE, { async }).res : t.pwritev(fd, iov, op.page * PAGE);
      expect(r).toBe(async ? null : op.n * PAGE);
      k.settle();
      for (let j = 0; j < op.n; j++) model[op.page + j] = op.word + j;
    } else {
      for (let j = 0; j < op.n; j++) t.write(buf + j * PAGE, 0xdead);
      const req = async ? t.preadv(fd, iov, op.page * PAGE, { async }) : null;
      const r = req ? null : t.preadv(fd, iov, op.page * PAGE);
      k.settle();
      const got = req ? req.res : r;
      expect(got).toBe(Math.max(0, Math.min(op.n * PAGE, f.size - op.page * PAGE)));
      for (let j = 0; j < op.n; j++) expect(t.read(buf + j * PAGE)).toBe(op.page + j < f.pages ? model[op.page + j] : 0xdead);
    }
    if (op.page % 2) k.writeback(f);
  }
  expect(pinsHeld(k)).toBe(0);
  expect(Array.from({ length: f.pages }, (_, i) => t.pread(fds[0], i * PAGE))).toEqual(model.slice(0, f.pages));
  return model;
}

describe('O_DIRECT: property over random mixed I/O', () => {
  it('file contents = the model, reads see it, pins balanced, and both cores agree on the digest', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
      const digests: number[] = [];
      for (const backend of BACKENDS) {
        const k = await bootTest(backend);
        runOps(k, k.spawn(), ops);
        digests.push(k.digest());
      }
      expect(digests[0]).toBe(digests[1]);
    }), { numRuns: 15 });
  });
});
