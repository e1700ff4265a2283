// The two socket users of user->locked_vm: the AF_XDP UMEM (charge before
// pin, ENOBUFS, released dirty) and MSG_ZEROCOPY sends ((len >> 12) + 2
// per send, FOLL_GET references held until the ACK).
import { describe, expect, it } from 'vitest';
import { ZEROCOPY_ACK_NS, type Kernel, type Task, type XdpUmemReg } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode, codeOf } from './helpers';


function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const message = (fn: () => unknown) => String((thrown(fn) as Error | undefined)?.message);

const userVm = (k: Kernel, t: Task) => k.user(t.uid).locked_vm;

describe.each(BACKENDS)('AF_XDP UMEM (%s core)', (backend) => {
  it('XDP_UMEM_REG checks in xdp_umem_reg() order, all EINVAL', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 8);
    const reg = (r: Partial<XdpUmemReg>) => () => t.xdp_umem_reg({ addr: a, len: 8 * PAGE, chunk_size: 2048, ...r });
    const cases: [Partial<XdpUmemReg>, string][] = [
      [{ chunk_size: 1024, flags: 0x80 }, 'chunk_size 1024'], // size before flags
      [{ chunk_size: 8192 }, 'chunk_size 8192'],
      [{ chunk_size: 3072, flags: 0x80 }, 'unknown flags 0x80'], // flags before the power of 2
      [{ chunk_size: 3072, addr: a + 1 }, 'power-of-2'],
      [{ addr: a + 1, len: 1 }, 'not page-aligned'],
      [{ addr: 2 ** 64 - PAGE, len: 2 * PAGE }, 'wraps'],
      [{ len: 1000 }, '0 chunks'],
      [{ len: 8 * PAGE + 1024 }, 'multiple of chunk_size'],
      [{ headroom: 2048 - 256 }, 'headroom 1792'],
      [{ flags: C.XDP_UMEM_TX_METADATA_LEN, tx_metadata_len: 12 }, 'tx_metadata_len'],
    ];
    for (const [r, why] of cases) {
      expectCode(k, reg(r), 'EINVAL');
      expect(message(reg(r))).toContain(why);
    }
    expect(k.devices()).toEqual([]);
    // The same fields one step inside the rules pass.
    const ok = t.xdp_umem_reg({ addr: a, len: 3 * PAGE - 1024, chunk_size: 3072, headroom: 2048 - 256 - 1, flags: C.XDP_UMEM_UNALIGNED_CHUNK_FLAG | C.XDP_UMEM_TX_METADATA_LEN, tx_metadata_len: 16 });
    expect(ok.pins()).toEqual([expect.objectContaining({ pages: 3, length: 3 * PAGE })]); // ceil(len / 4 KiB)
    expect(userVm(k, t)).toBe(3);
    expect([t.mm.locked_vm, t.mm.pinned_vm]).toEqual([0, 0]); // no mm counter
    expect(t.fds.get(ok.fd)).toBe(ok);
    expect(ok.path).toBe('socket:[AF_XDP]');
    expect(() => t.xdp_umem_reg({ addr: a, len: -1, chunk_size: 2048 })).toThrow(RangeError);
  });

  it('charges before pinning: ENOBUFS over the limit touches no page; CAP_IPC_LOCK skips the charge', async () => {
    const k = await bootTest(backend, { thp: 'never', memlock: '64KiB' });
    const t = k.spawn();
    const a = anon(t, 32);
    expect(thrown(() => t.xdp_umem_reg({ addr: a, len: 17 * PAGE, chunk_size: 4096 }))).toMatchObject({ code: 'ENOBUFS', detail: { counter: 'user.locked_vm', current: 0, requested: 17, limit: 16 } });
    expect(t.translate(a)).toBe(null); // refused before any pin (which would have faulted the range in)
    const s = t.xdp_umem_reg({ addr: a, len: 16 * PAGE, chunk_size: 4096 }); // exactly the limit passes
    expect(userVm(k, t)).toBe(16);
    expect(k.memlockLedger()).toEqual([expect.objectContaining({ counter: 'user.locked_vm', pages: 16, by: 'xdp_umem', device: s.name })]);
    const root = k.spawn({ uid: 0, memlock: 0 });
    const r = root.xdp_umem_reg({ addr: anon(root, 4), len: 4 * PAGE, chunk_size: 2048 });
    expect(userVm(k, root)).toBe(0);
    expect(r.pins()[0].pages).toBe(4);
  });

  it('a partial pin is ENOMEM, a failed one its errno; either way the charge is undone', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.munmap(a + 3 * PAGE, PAGE);
    expect(codeOf(() => t.xdp_umem_reg({ addr: a, len: 4 * PAGE, chunk_size: 2048 }))).toBe('ENOMEM');
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    expect(userVm(k, t)).toBe(0);
    expect(codeOf(() => t.xdp_umem_reg({ addr: a + 3 * PAGE, len: PAGE, chunk_size: 2048 }))).toBe('EFAULT');
    expect(userVm(k, t)).toBe(0);
    expect(k.devices()).toEqual([]);
    expect(k.memlockLedger()).toEqual([]);
  });

  it('release always dirties (unlike io_uring); the NIC writes frames by DMA; the last holder\'s exit uncharges', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const m = anon(t, 2);
    t.touch(m, 2 * PAGE, { write: true });
    const s = t.xdp_umem_reg({ addr: m, len: 2 * PAGE, chunk_size: 2048 });
    const pfn = t.translate(m + PAGE)!;
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(true);
    s.receive(PAGE + 100, 0xabc);
    expect(t.read(m + PAGE)).toBe(0xabc);
    const other = k.spawn();
    other.installFd(s); // passed over a unix socket
    t.close(s.fd);
    expect(s.closed).toBe(false);
    expect(k.page(pfn).flags).not.toContain('dirty');
    other.exit();
    expect(s.closed).toBe(true);
    expect(k.page(pfn).flags).toContain('dirty'); // unpin_user_pages_dirty_lock(..., true)
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(userVm(k, t)).toBe(0);
    expect(codeOf(() => s.receive(0, 1))).toBe('EBADF');
    // io_uring's io_buffer_unmap() unpins the same kind of page clean.
    const fresh = anon(t, 1);
    t.touch(fresh, PAGE, { write: true });
    const ring = t.io_uring_setup(1);
    ring.register_buffers([{ iov_base: fresh, iov_len: PAGE }]);
    ring.unregister_buffers();
    expect(k.page(t.translate(fresh)!).flags).not.toContain('dirty');
  });
});

describe.each(BACKENDS)('MSG_ZEROCOPY (%s core)', (backend) => {
  it('without SO_ZEROCOPY the flag is ignored: a copy, no charge, no reference', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const s = t.socket_tcp();
    const rc = k.page(t.translate(a)!).refcount;
    expect(s.sendmsg(a, 4 * PAGE, C.MSG_ZEROCOPY)).toBe(4 * PAGE);
    expect(userVm(k, t)).toBe(0);
    expect(k.page(t.translate(a)!).refcount).toBe(rc);
    expect(k.pending()).toEqual([]);
    s.setsockopt_zerocopy(true);
    expect(s.sendmsg(a, 4 * PAGE, 0)).toBe(4 * PAGE); // nor without the flag
    expect(k.pending()).toEqual([]);
  });

  it('charges (len >> 12) + 2 per send and holds FOLL_GET references (not pins) until the ACK', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.touch(a, 4 * PAGE, { write: true });
    const s = t.socket_tcp();
    s.setsockopt_zerocopy(true);
    const pfn = t.translate(a)!;
    const rc = k.page(pfn).refcount;
    s.sendmsg(a, PAGE, C.MSG_ZEROCOPY); // aligned: 1 page referenced, 3 charged
    expect(userVm(k, t)).toBe(3);
    s.sendmsg(a + PAGE - 10, 20, C.MSG_ZEROCOPY); // straddles two pages: 0 + 2 charged
    expect(userVm(k, t)).toBe(5);
    expect(k.page(pfn).refcount).toBe(rc + 2);
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
    expect(s.pins().map((p) => [p.object, p.pages, p.gup_flags])).toEqual([['zerocopy send 0', 1, C.FOLL_GET], ['zerocopy send 1', 2, C.FOLL_GET]]);
    expect(s.recv_errqueue()).toEqual([]);
    k.advance(ZEROCOPY_ACK_NS - 1);
    expect(userVm(k, t)).toBe(5);
    k.advance(1);
    expect(userVm(k, t)).toBe(0);
    expect(k.page(pfn).refcount).toBe(rc);
    expect(s.recv_errqueue()).toEqual([{ lo: 0, hi: 1 }]);
    s.sendmsg(a, 1, C.MSG_ZEROCOPY);
    k.settle();
    expect(s.recv_errqueue()).toEqual([{ lo: 2, hi: 2 }]);
  });

  it('ENOBUFS over the limit (the per-UID counter, current\'s limit); CAP_IPC_LOCK and RLIM_INFINITY skip the charge', async () => {
    const k = await bootTest(backend, { thp: 'never', memlock: '64KiB' });
    const t = k.spawn();
    const a = anon(t, 16);
    const s = t.socket_tcp();
    s.setsockopt_zerocopy(true);
    s.sendmsg(a, 14 * PAGE, C.MSG_ZEROCOPY); // 16 pages: the limit exactly
    expect(thrown(() => s.sendmsg(a, 1, C.MSG_ZEROCOPY))).toMatchObject({ code: 'ENOBUFS', detail: { current: 16, requested: 2, limit: 16 } });
    expect(s.pins()).toHaveLength(1);
    const free = k.spawn({ memlock: Infinity });
    const fs = free.socket_tcp();
    fs.setsockopt_zerocopy(true);
    const b = anon(free, 2);
    fs.sendmsg(b, 2 * PAGE, C.MSG_ZEROCOPY);
    expect(userVm(k, free)).toBe(16); // t's charge only: the same uid
    expect(fs.pins()[0].pages).toBe(2); // the references are still taken
    const cap = k.spawn({ caps: ['CAP_IPC_LOCK'], memlock: 0 });
    const cs = cap.socket_tcp();
    cs.setsockopt_zerocopy(true);
    cs.sendmsg(anon(cap, 1), PAGE, C.MSG_ZEROCOPY);
    expect(userVm(k, cap)).toBe(16);
    k.settle();
    expect(userVm(k, t)).toBe(0);
  });

  it('EFAULT on an unmapped range undoes the charge; the last close completes pending sends', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 2);
    t.touch(a, 2 * PAGE, { write: true });
    const s = t.socket_tcp();
    s.setsockopt_zerocopy(true);
    t.munmap(a + PAGE, PAGE);
    expect(codeOf(() => s.sendmsg(a, 2 * PAGE, C.MSG_ZEROCOPY))).toBe('EFAULT');
    expect(userVm(k, t)).toBe(0);
    const pfn = t.translate(a)!;
    const rc = k.page(pfn).refcount;
    s.sendmsg(a, PAGE, C.MSG_ZEROCOPY);
    expect(k.page(pfn).refcount).toBe(rc + 1);
    t.close(s.fd);
    expect(k.pending()).toEqual([]);
    expect(k.page(pfn).refcount).toBe(rc);
    expect(userVm(k, t)).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
    expect(codeOf(() => s.sendmsg(a, 1, 0))).toBe('EBADF');
  });
});
