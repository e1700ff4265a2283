// io_uring fixed buffers: setup, IORING_(UN)REGISTER_BUFFERS and _UPDATE
// with the kernel's check order, pin-then-charge of whole folios once per
// ring, coalescing, release on close and exit, and READ_FIXED/WRITE_FIXED
// moving data by DMA with CQEs on the clock.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Capability, Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, expectCode, codeOf } from './helpers';

const HPAGE = 2 * 2 ** 20;
const KiB = 1024;

// A PMD-aligned address inside a fresh anonymous mapping of n huge pages, written (THPs under thp: always).
function thp(t: Task, n: number): number {
  const base = t.mmap({ length: (n + 1) * HPAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  const a = Math.ceil(base / HPAGE) * HPAGE;
  t.touch(a, n * HPAGE, { write: true });
  return a;
}

function counters(k: Kernel, t: Task) {
  return { user: k.user(t.uid).locked_vm, pinned: t.mm.pinned_vm, locked: t.mm.locked_vm };
}

function setCaps(t: Task, caps: Capability[]): void {
  const s = t.caps as Set<Capability>; // capset(2) is not modelled: the test changes the set in place
  s.clear();
  for (const c of caps) s.add(c);
}

describe.each(BACKENDS)('io_uring fixed buffers (%s core)', (backend) => {
  it('io_uring_setup: EINVAL for 0 or more than IORING_MAX_ENTRIES; entries round up; the ring is an fd', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    expectCode(k, () => t.io_uring_setup(0), 'EINVAL');
    expectCode(k, () => t.io_uring_setup(C.IORING_MAX_ENTRIES + 1), 'EINVAL');
    expect(() => t.io_uring_setup(1.5)).toThrow(RangeError);
    const ring = t.io_uring_setup(5);
    expect([ring.sq_entries, ring.cq_entries]).toEqual([8, 16]);
    expect(t.io_uring_setup(C.IORING_MAX_ENTRIES).sq_entries).toBe(32768);
    expect(t.fds.get(ring.fd)).toBe(ring);
    expect(ring.path).toBe('anon_inode:[io_uring]');
    expect(k.devices().map((d) => d.name)).toEqual(['io_uring', 'io_uring-2']);
    expectCode(k, () => t.pread(ring.fd, 0), 'EINVAL');
  });

  it('register_buffers: EBUSY before EINVAL, then nr, then each iovec in turn (EFAULT, the 1 GiB cap, EOVERFLOW)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const ring = t.io_uring_setup(4);
    expectCode(k, () => ring.register_buffers([]), 'EINVAL');
    expectCode(k, () => ring.register_buffers(Array.from({ length: C.IORING_MAX_REG_BUFFERS + 1 }, () => ({ iov_base: 0, iov_len: 0 }))), 'EINVAL');
    expectCode(k, () => ring.register_buffers([{ iov_base: 0, iov_len: PAGE }]), 'EFAULT'); // NULL base with a length
    expectCode(k, () => ring.register_buffers([{ iov_base: a, iov_len: 0 }]), 'EFAULT');
    const top = 2 ** 64 - 8192; // a u64 base: exact as a double
    expectCode(k, () => ring.register_buffers([{ iov_base: top, iov_len: 2 ** 30 + 1 }]), 'EFAULT'); // the cap comes first
    expectCode(k, () => ring.register_buffers([{ iov_base: top, iov_len: 8192 }]), 'EOVERFLOW');
    expectCode(k, () => ring.register_buffers([{ iov_base: 2 ** 60, iov_len: PAGE }]), 'EFAULT'); // past TASK_SIZE
    const nocap = t.io_uring_setup(4, { bufferCap: false }); // the May 2026 patch
    expectCode(k, () => nocap.register_buffers([{ iov_base: top, iov_len: 2 ** 30 + 1 }]), 'EOVERFLOW');
    // A sparse slot (NULL base, length 0) is allowed; the table then exists.
    ring.register_buffers([{ iov_base: 0, iov_len: 0 }, { iov_base: a, iov_len: PAGE }]);
    expect(ring.buffers()).toEqual([{ index: 1, addr: a, length: PAGE, bvecs: 1, folio_shift: 12, acct_pages: 1 }]);
    expectCode(k, () => ring.register_buffers([]), 'EBUSY');
    expect(() => ring.register_buffers([{ iov_base: -1, iov_len: 1 }])).toThrow(RangeError);
    expect(() => ring.register_buffers([{ iov_base: a } as never])).toThrow(TypeError);
  });

  it('all or nothing: a bad iovec after good ones unpins and uncharges them; a partial pin is EFAULT', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 8);
    t.touch(a, 8 * PAGE, { write: true });
    const ring = t.io_uring_setup(1);
    const before = counters(k, t);
    // (GUP's mark_page_accessed() stays, as in the kernel: the pages read referenced.)
    expect(codeOf(() => ring.register_buffers([{ iov_base: a, iov_len: 2 * PAGE }, { iov_base: a + 4 * PAGE, iov_len: PAGE }, { iov_base: a, iov_len: 0 }]))).toBe('EFAULT');
    expect(counters(k, t)).toEqual(before);
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    expect(ring.buffers()).toEqual([]);
    // The last page is unmapped: pin_user_pages_fast pins 3 of 4, which io_pin_pages undoes.
    t.munmap(a + 7 * PAGE, PAGE);
    expect(codeOf(() => ring.register_buffers([{ iov_base: a + 4 * PAGE, iov_len: 4 * PAGE }]))).toBe('EFAULT');
    expect(k.folio_maybe_dma_pinned(t.translate(a + 4 * PAGE)!)).toBe(false);
    expect(k.memlockLedger()).toEqual([]);
    ring.register_buffers([{ iov_base: a, iov_len: PAGE }]); // no table was left behind
  });

  it('file-backed buffers follow GUP: a MAP_SHARED ext4 mapping is EFAULT, shmem and a private file mapping pin', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const ext4 = t.open(k.createFile({ fs: 'ext4', size: 4 * PAGE }));
    const shm = t.memfd_create('buf');
    t.ftruncate(shm, 4 * PAGE);
    const mapped = (fd: number, flags: number) => t.mmap({ length: 4 * PAGE, prot: RW, flags, fd });
    const ring = t.io_uring_setup(1);
    expectCode(k, () => ring.register_buffers([{ iov_base: mapped(ext4, C.MAP_SHARED), iov_len: PAGE }]), 'EFAULT');
    ring.register_buffers([{ iov_base: mapped(shm, C.MAP_SHARED), iov_len: 4 * PAGE }, { iov_base: mapped(ext4, C.MAP_PRIVATE), iov_len: 4 * PAGE }]);
    expect(ring.buffers().map((b) => b.acct_pages)).toEqual([4, 4]);
  });

  it('liburing #365: 32 KiB of unaligned 2 KiB buffers fails under a 64 KiB limit (small pages charge once per buffer)', async () => {
    const k = await bootTest(backend, { thp: 'never', memlock: '64KiB' });
    const t = k.spawn();
    const a = anon(t, 16);
    t.touch(a, 16 * PAGE, { write: true });
    const ring = t.io_uring_setup(1);
    // Buffer i covers [a + 1 KiB + 2 KiB * i, +2 KiB): even ones sit in one page, odd ones straddle two.
    const iovs = Array.from({ length: 16 }, (_, i) => ({ iov_base: a + KiB + 2 * KiB * i, iov_len: 2 * KiB }));
    let err: unknown;
    try {
      ring.register_buffers(iovs);
    } catch (e) {
      err = e;
    }
    // 1 + 2 + 1 + 2 … : after 11 buffers 16 pages (the limit, allowed: only "> limit" fails); the 12th needs 2 more.
    expect(err).toMatchObject({ code: 'ENOMEM', detail: { counter: 'user.locked_vm', current: 16, requested: 2, limit: 16, minUlimitKiB: 72 } });
    expect(counters(k, t)).toEqual({ user: 0, pinned: 0, locked: 0 });
    ring.register_buffers(iovs.slice(0, 11)); // 22 KiB of buffers charge the whole 64 KiB
    expect(counters(k, t)).toEqual({ user: 16, pinned: 16, locked: 0 });
    expect(t.status().VmPin).toBe(64);
  });

  it('a compound folio is charged whole, once per ring: 512, then 0 more on the same ring, 512 again on another', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = thp(t, 1);
    const r1 = t.io_uring_setup(1);
    r1.register_buffers([{ iov_base: a + PAGE, iov_len: PAGE }, { iov_base: a + 9 * PAGE, iov_len: 100 }]);
    expect(r1.buffers().map((b) => b.acct_pages)).toEqual([512, 0]);
    expect(counters(k, t)).toEqual({ user: 512, pinned: 512, locked: 0 });
    const r2 = t.io_uring_setup(1);
    r2.register_buffers([{ iov_base: a + 300 * PAGE, iov_len: PAGE }]);
    expect(counters(k, t)).toEqual({ user: 1024, pinned: 1024, locked: 0 });
    // Against a buffer already in the table (IORING_REGISTER_BUFFERS_UPDATE into a sparse slot): 0 more.
    const r3 = t.io_uring_setup(1);
    r3.register_buffers([{ iov_base: a, iov_len: PAGE }, { iov_base: 0, iov_len: 0 }]);
    expect(r3.register_buffers_update(1, [{ iov_base: a + 400 * PAGE, iov_len: PAGE }])).toBe(1);
    expect(r3.buffers().map((b) => b.acct_pages)).toEqual([512, 0]);
    expect(counters(k, t).user).toBe(1536);
    expect(k.memlockLedger().filter((c) => c.counter === 'user.locked_vm').map((c) => [c.device, c.pages]))
      .toEqual([['io_uring', 512], ['io_uring-2', 512], ['io_uring-3', 512]]);
    r1.close();
    r2.close();
    r3.close();
    expect(counters(k, t)).toEqual({ user: 0, pinned: 0, locked: 0 });
    expect(k.page(t.translate(a)!).pincount).toBe(0);
  });

  it('coalescing: a buffer over whole and partial THPs becomes one bvec per folio holding one pin each', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = thp(t, 3);
    const ring = t.io_uring_setup(1);
    // From the middle of the first THP to the middle of the third: 256 + 512 + 256 pages.
    ring.register_buffers([{ iov_base: a + HPAGE / 2, iov_len: 2 * HPAGE }]);
    expect(ring.buffers()).toEqual([{ index: 0, addr: a + HPAGE / 2, length: 2 * HPAGE, bvecs: 3, folio_shift: 21, acct_pages: 1536 }]);
    for (let i = 0; i < 3; i++) expect(k.page(t.translate(a + i * HPAGE)!).pincount).toBe(1);
    expect(ring.pins()).toEqual([expect.objectContaining({ pages: 3, addr: a + HPAGE / 2 })]);
    // Small pages are never coalesced: one bvec (and pin) per page.
    const s = anon(t, 3);
    const ring2 = t.io_uring_setup(1);
    ring2.register_buffers([{ iov_base: s, iov_len: 3 * PAGE }]);
    expect(ring2.buffers()[0]).toMatchObject({ bvecs: 3, folio_shift: 12, acct_pages: 3 });
    ring.unregister_buffers();
    for (let i = 0; i < 3; i++) expect(k.page(t.translate(a + i * HPAGE)!).pincount).toBe(0);
  });

  it('pinned_vm is charged but never checked; CAP_IPC_LOCK at setup means no user charge, whatever the caps later', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn({ memlock: 0, caps: ['CAP_IPC_LOCK'] });
    const a = anon(t, 8);
    const capped = t.io_uring_setup(1);
    setCaps(t, []); // dropping the capability after setup changes nothing
    capped.register_buffers([{ iov_base: a, iov_len: 8 * PAGE }]);
    expect(counters(k, t)).toEqual({ user: 0, pinned: 8, locked: 0 }); // pinned_vm over a limit of 0
    const plain = t.io_uring_setup(1);
    setCaps(t, ['CAP_IPC_LOCK']); // nor does gaining it
    expect(codeOf(() => plain.register_buffers([{ iov_base: a, iov_len: PAGE }]))).toBe('ENOMEM');
    expect(counters(k, t)).toEqual({ user: 0, pinned: 8, locked: 0 });
  });

  it("the user limit is the current task's at registration, against the per-UID counter", async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn({ memlock: '64KiB' });
    const other = k.spawn({ memlock: '64KiB' }); // same uid: one user_struct
    const a = anon(t, 16);
    const b = anon(other, 16);
    other.io_uring_setup(1).register_buffers([{ iov_base: b, iov_len: 12 * PAGE }]);
    const ring = t.io_uring_setup(1);
    expect(codeOf(() => ring.register_buffers([{ iov_base: a, iov_len: 5 * PAGE }]))).toBe('ENOMEM');
    ring.register_buffers([{ iov_base: a, iov_len: 4 * PAGE }]);
    expect(k.user(t.uid).locked_vm).toBe(16);
    ring.unregister_buffers();
    t.setrlimit('RLIMIT_MEMLOCK', { soft: 16 * KiB, hard: 64 * KiB }); // lowering unlocks nothing, binds later calls
    expect(codeOf(() => ring.register_buffers([{ iov_base: a, iov_len: PAGE }]))).toBe('ENOMEM');
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false); // pinned first, unpinned on the failed charge
    expect(other.mm.pinned_vm).toBe(12);
  });

  it('unregister: ENXIO without a table; unpins without dirtying and uncharges; register works again', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const shm = t.memfd_create('x');
    t.ftruncate(shm, 2 * PAGE);
    const m = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: shm });
    t.touch(m, 2 * PAGE);
    const ring = t.io_uring_setup(1);
    expectCode(k, () => ring.unregister_buffers(), 'ENXIO');
    expectCode(k, () => ring.register_buffers_update(0, []), 'ENXIO');
    ring.register_buffers([{ iov_base: m, iov_len: 2 * PAGE }]);
    expectCode(k, () => ring.register_buffers_update(1, [{ iov_base: 0, iov_len: 0 }]), 'EINVAL');
    const pfn = t.translate(m)!;
    expect(k.page(pfn).flags).not.toContain('dirty');
    ring.unregister_buffers();
    expect(k.page(pfn).flags).not.toContain('dirty'); // io_buffer_unmap() unpins clean
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(counters(k, t)).toEqual({ user: 0, pinned: 0, locked: 0 });
    ring.register_buffers([{ iov_base: m, iov_len: PAGE }]);
    // An update stops at its first error and reports what it did.
    expect(ring.register_buffers_update(0, [{ iov_base: m + PAGE, iov_len: PAGE }])).toBe(1);
    expectCode(k, () => ring.register_buffers_update(0, [{ iov_base: 0, iov_len: 1 }]), 'EFAULT');
    expect(ring.buffers()).toEqual([expect.objectContaining({ index: 0, addr: m + PAGE, acct_pages: 1 })]);
  });

  it('release on the last close and on exit, uncharging the exited creator\'s mm; a closed ring is EBADF', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    const ring = t.io_uring_setup(1);
    ring.register_buffers([{ iov_base: a, iov_len: 4 * PAGE }]);
    const pfn = t.translate(a)!;
    const child = t.fork(); // shares the ring's fd
    expect(child.fds.get(ring.fd)).toBe(ring);
    expect(child.mm.pinned_vm).toBe(0);
    const uid = t.uid;
    t.exit();
    expect(ring.closed).toBe(false);
    expect(t.mm.pinned_vm).toBe(4);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    expect(codeOf(() => ring.unregister_buffers())).toBe('ESRCH'); // pinsim submits as the creator
    child.close(ring.fd);
    expect(ring.closed).toBe(true);
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.user(uid).locked_vm).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(k.page(pfn).refcount).toBe(0); // the exited mm's pages went with the last pin
    expect(k.devices()).toEqual([]);
    const u = k.spawn();
    const r2 = u.io_uring_setup(1);
    r2.register_buffers([{ iov_base: anon(u, 1), iov_len: PAGE }]);
    u.exit();
    expect(r2.closed).toBe(true);
    expect(k.user(u.uid).locked_vm).toBe(0);
    expect(codeOf(() => r2.register_buffers([]))).toBe('EBADF');
  });

  it('READ_FIXED and WRITE_FIXED move data by DMA and complete on the clock with CQEs', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const fd = t.open(k.createFile({ fs: 'ext4', size: 0 }));
    for (let i = 0; i < 3; i++) t.pwrite(fd, i * PAGE, 100 + i);
    const a = anon(t, 4);
    const ring = t.io_uring_setup(8);
    ring.register_buffers([{ iov_base: a, iov_len: 4 * PAGE }]);
    ring.read_fixed(fd, 0, a, 2 * PAGE, PAGE, 1);
    ring.read_fixed(fd, 0, a + 2 * PAGE, 2 * PAGE, 2 * PAGE, 2); // one page left before EOF
    ring.read_fixed(fd, 0, a + PAGE, 4 * PAGE, 0, 3); // leaves the buffer
    ring.read_fixed(fd, 1, a, PAGE, 0, 4); // no such buffer
    ring.read_fixed(99, 0, a, PAGE, 0, 5); // the buffer is checked before the file
    ring.write_fixed(ring.fd, 0, a, PAGE, 0, 6);
    expect(ring.peek_cqes()).toEqual([-C.EFAULT, -C.EFAULT, -C.EBADF, -C.EINVAL].map((res, i) => ({ user_data: i + 3, res, flags: 0 })));
    expect(k.pending().map((p) => p.what)).toEqual(['io_uring: read_fixed', 'io_uring: read_fixed']);
    expect(t.read(a)).toBe(0); // nothing moved yet
    expect(ring.wait_cqes(2)).toEqual([{ user_data: 1, res: 2 * PAGE, flags: 0 }, { user_data: 2, res: PAGE, flags: 0 }]);
    expect([t.read(a), t.read(a + PAGE), t.read(a + 2 * PAGE)]).toEqual([101, 102, 102]);
    t.write(a + 3 * PAGE, 7);
    ring.write_fixed(fd, 0, a + 3 * PAGE, PAGE, 5 * PAGE, 9);
    expect(k.settle()).toBe(1);
    expect(ring.peek_cqes()).toEqual([{ user_data: 9, res: PAGE, flags: 0 }]);
    expect(t.pread(fd, 5 * PAGE)).toBe(7);
  });

  it('a request holds its buffer: unregistering while it is in flight unpins at its completion; close cancels it', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const fd = t.open(k.createFile({ fs: 'ext4', size: PAGE }));
    t.pwrite(fd, 0, 42);
    const a = anon(t, 1);
    const ring = t.io_uring_setup(1);
    ring.register_buffers([{ iov_base: a, iov_len: PAGE }]);
    const pfn = t.translate(a)!;
    ring.read_fixed(fd, 0, a, PAGE, 0, 1);
    ring.unregister_buffers();
    expect(ring.buffers()).toEqual([expect.objectContaining({ index: null })]);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    expect(t.mm.pinned_vm).toBe(1);
    k.settle();
    expect(ring.peek_cqes()).toEqual([{ user_data: 1, res: PAGE, flags: 0 }]);
    expect(t.read(a)).toBe(42);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(t.mm.pinned_vm).toBe(0);
    ring.register_buffers([{ iov_base: a, iov_len: PAGE }]);
    t.write(a, 5);
    ring.read_fixed(fd, 0, a, PAGE, 0, 2);
    t.close(ring.fd);
    expect(k.pending()).toEqual([]);
    expect(t.read(a)).toBe(5);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(t.mm.pinned_vm).toBe(0);
  });

  it('the counters are independent: mlock, io_uring and RDMA-style pinned_vm each fill the limit, nothing dedups', async () => {
    const k = await bootTest(backend, { thp: 'never', memlock: '64KiB' });
    const t = k.spawn();
    const a = anon(t, 16);
    t.mlock(a, 16 * PAGE); // mm->locked_vm: 16 of 16
    const ring = t.io_uring_setup(1);
    ring.register_buffers([{ iov_base: a, iov_len: 16 * PAGE }]); // user->locked_vm 16, pinned_vm 16 (unchecked)
    expect(counters(k, t)).toEqual({ user: 16, pinned: 16, locked: 16 });
    expect(t.status()).toMatchObject({ VmLck: 64, VmPin: 64 });
    // The same pages on a second ring charge again: small pages are never deduplicated.
    expect(codeOf(() => t.io_uring_setup(1).register_buffers([{ iov_base: a, iov_len: PAGE }]))).toBe('ENOMEM');
    expect(k.__account_pinned_vm(t.mm, 1, true, t, true)).toBe(-C.ENOMEM); // ib_umem_get()'s check now fails too
  });

  it('IORING_REGISTER_BUFFERS2 tags: EINVAL on an empty slot; the tag CQE comes when the buffer is gone, not on an unwind', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const fd = t.open(k.createFile({ fs: 'ext4', size: PAGE }));
    const a = anon(t, 3);
    const ring = t.io_uring_setup(1);
    expect(codeOf(() => ring.register_buffers([{ iov_base: a, iov_len: PAGE }, { iov_base: 0, iov_len: 0 }], [7, 8]))).toBe('EINVAL');
    expect(ring.peek_cqes()).toEqual([]); // io_clear_table_tags(): buffer 0 went silently
    expect(t.mm.pinned_vm).toBe(0);
    expect(() => ring.register_buffers([{ iov_base: a, iov_len: PAGE }], [])).toThrow(TypeError);
    ring.register_buffers([{ iov_base: a, iov_len: PAGE }, { iov_base: 0, iov_len: 0 }], [7, 0]);
    expect(ring.register_buffers_update(1, [{ iov_base: a + PAGE, iov_len: PAGE }], [9])).toBe(1);
    ring.read_fixed(fd, 1, a + PAGE, PAGE, 0, 1);
    expect(ring.register_buffers_update(0, [{ iov_base: a + 2 * PAGE, iov_len: PAGE }])).toBe(1); // buffer 0 replaced
    expect(ring.peek_cqes()).toEqual([{ user_data: 7, res: 0, flags: 0 }]);
    ring.unregister_buffers();
    expect(ring.peek_cqes()).toEqual([]); // buffer 1 is still in use
    k.settle();
    expect(ring.peek_cqes()).toEqual([{ user_data: 1, res: PAGE, flags: 0 }, { user_data: 9, res: 0, flags: 0 }]);
    ring.register_buffers([{ iov_base: a, iov_len: PAGE }], [5]);
    t.close(ring.fd); // teardown: no CQ to post to
    expect(t.mm.pinned_vm).toBe(0);
  });

  it('munmap does not release the pins; the frames stay pinned and charged until unregister', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 2);
    const ring = t.io_uring_setup(1);
    ring.register_buffers([{ iov_base: a, iov_len: 2 * PAGE }]);
    const pfn = t.translate(a)!;
    t.munmap(a, 2 * PAGE);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    expect(t.mm.pinned_vm).toBe(2);
    ring.unregister_buffers();
    expect(k.page(pfn).refcount).toBe(0);
  });
});

describe('io_uring: the two cores agree', () => {
  it('the same registrations, I/O and releases leave the same digest and counters', async () => {
    const run = async (backend: 'wasm' | 'ts') => {
      const k = await bootTest(backend);
      const t = k.spawn();
      const a = thp(t, 2);
      const fd = t.open(k.createFile({ fs: 'xfs', size: 8 * PAGE }));
      const ring = t.io_uring_setup(4);
      ring.register_buffers([{ iov_base: a + 3 * PAGE, iov_len: HPAGE }, { iov_base: a + 5 * PAGE, iov_len: 3 * PAGE }]);
      ring.read_fixed(fd, 0, a + 3 * PAGE, 4 * PAGE, 0, 1);
      ring.write_fixed(fd, 1, a + 5 * PAGE, 3 * PAGE, PAGE, 2);
      k.settle();
      const out = { cqes: ring.peek_cqes(), bufs: ring.buffers(), c: counters(k, t), digest: 0 };
      ring.unregister_buffers();
      out.digest = k.digest();
      return out;
    };
    expect(await run('ts')).toEqual(await run('wasm'));
  });
});

describe.each(BACKENDS)('io_uring: property (%s core)', (backend) => {
  it('random register/update/unregister/close/setrlimit keep user.locked_vm and pinned_vm = ledger = live buffers, pins balanced', async () => {
    const k = await bootTest(backend, { memory: '128MiB' });
    const t = k.spawn({ memlock: '16MiB' });
    const small = anon(t, 64);
    const big = thp(t, 4);
    const addrs = [small, small + 3 * PAGE + 100, small + 40 * PAGE, big, big + 7 * PAGE, big + HPAGE + 11, big + 3 * HPAGE - PAGE];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('setup' as const) }),
      fc.record({ kind: fc.constant('register' as const), ring: fc.nat(3), bufs: fc.array(fc.tuple(fc.nat(addrs.length - 1), fc.integer({ min: 0, max: 5 * HPAGE })), { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('update' as const), ring: fc.nat(3), slot: fc.nat(3), buf: fc.tuple(fc.nat(addrs.length - 1), fc.integer({ min: 0, max: HPAGE })) }),
      fc.record({ kind: fc.constant('unregister' as const), ring: fc.nat(3) }),
      fc.record({ kind: fc.constant('close' as const), ring: fc.nat(3) }),
      fc.record({ kind: fc.constant('rlimit' as const), kib: fc.constantFrom(64, 4096, 16384) }),
    );
    const pinsBefore = k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released;
    fc.assert(fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
      const rings = [t.io_uring_setup(1)];
      for (const o of ops) {
        const ring = 'ring' in o ? rings[o.ring % rings.length] : null;
        const iov = ([i, len]: [number, number]) => ({ iov_base: addrs[i], iov_len: len });
        const code = codeOf(() => {
          if (o.kind === 'setup') rings.push(t.io_uring_setup(1));
          else if (o.kind === 'register') ring!.register_buffers([...o.bufs.map(iov), { iov_base: 0, iov_len: 0 }]);
          else if (o.kind === 'update') ring!.register_buffers_update(o.slot % 2, [iov(o.buf)]);
          else if (o.kind === 'unregister') ring!.unregister_buffers();
          else if (o.kind === 'close') t.close(ring!.fd);
          else t.setrlimit('RLIMIT_MEMLOCK', { soft: o.kib * KiB, hard: 16384 * KiB });
        });
        expect([undefined, 'EBUSY', 'EINVAL', 'EFAULT', 'ENOMEM', 'ENXIO', 'EBADF']).toContain(code);
        const live = rings.filter((r) => !r.closed).flatMap((r) => r.buffers());
        const sum = live.reduce((s, b) => s + b.acct_pages, 0);
        const ledger = (c: string) => k.memlockLedger().filter((x) => x.counter === c).reduce((s, x) => s + x.pages, 0);
        expect([k.user(t.uid).locked_vm, t.mm.pinned_vm]).toEqual([sum, sum]);
        expect([ledger('user.locked_vm'), ledger('mm.pinned_vm')]).toEqual([sum, sum]);
        const held = rings.filter((r) => !r.closed).flatMap((r) => r.pins()).reduce((s, p) => s + p.pages, 0);
        expect(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released - pinsBefore).toBe(held);
      }
      for (const r of rings) if (!r.closed) t.close(r.fd);
      expect(k.memlockLedger()).toEqual([]);
      t.setrlimit('RLIMIT_MEMLOCK', { soft: 16384 * KiB, hard: 16384 * KiB });
    }), { numRuns: 25 });
  });
});
