// Pipes and vmsplice: the ring's page references (FOLL_GET, one per
// buffer) taken by vmsplice and dropped by reads and the last close, the
// check order of vmsplice(2) and read(2) on a pipe, fork sharing the ends,
// and CVE-2020-29374's scenario on today's COW rules.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PipeEnd, type Kernel, type Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode, codeOf } from './helpers';

const ref = (k: Kernel, t: Task, addr: number) => k.page(t.translate(addr)!).refcount;
const end = (t: Task, fd: number) => t.fds.get(fd) as PipeEnd;

// n pages with word i + 1 in page i.
function filled(t: Task, n: number): number {
  const a = anon(t, n);
  for (let i = 0; i < n; i++) t.write(a + i * PAGE, i + 1);
  return a;
}

describe.each(BACKENDS)('pipes and vmsplice (%s core)', (backend) => {
  it('vmsplice takes one FOLL_GET reference per buffer; reads return the words in order and drop fully read buffers', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 3);
    const [r, w] = t.pipe();
    expect([end(t, r).path, end(t, w).path]).toEqual(['pipe:[1]', 'pipe:[1]']);
    expect([end(t, r).write, end(t, w).write]).toEqual([false, true]);
    const before = [0, 1, 2].map((i) => ref(k, t, a + i * PAGE));
    // 100 bytes into page 0 through the end of page 2: three buffers, no pin.
    expect(t.vmsplice(w, [{ base: a + 100, len: 3 * PAGE - 100 }])).toBe(3 * PAGE - 100);
    expect([0, 1, 2].map((i) => ref(k, t, a + i * PAGE))).toEqual(before.map((x) => x + 1));
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    expect(end(t, w).buffers().map((b) => [b.pfn, b.offset, b.len, b.flags])).toEqual([
      [t.translate(a), 100, PAGE - 100, 0], [t.translate(a + PAGE), 0, PAGE, 0], [t.translate(a + 2 * PAGE), 0, PAGE, 0],
    ]);
    // listed once, by the read end (the first end open), with the splicer's pid
    expect(k.devices().flatMap((d) => d.pins()).map((p) => [p.pid, p.pages, p.gup_flags])).toEqual([
      [t.pid, 1, C.FOLL_GET], [t.pid, 1, C.FOLL_GET], [t.pid, 1, C.FOLL_GET],
    ]);
    // a partial read keeps the buffer and its reference
    expect(t.read_pipe(r, 50)).toEqual([{ word: 1, len: 50 }]);
    expect(ref(k, t, a)).toBe(before[0] + 1);
    expect(end(t, r).buffers()[0]).toMatchObject({ offset: 150, len: PAGE - 150, addr: a + 150 });
    // the rest of page 0 and half of page 1: page 0's reference goes
    expect(t.read_pipe(r, PAGE - 150 + PAGE / 2)).toEqual([{ word: 1, len: PAGE - 150 }, { word: 2, len: PAGE / 2 }]);
    expect(ref(k, t, a)).toBe(before[0]);
    expect(ref(k, t, a + PAGE)).toBe(before[1] + 1);
    // the pipe holds references, not copies: a write before the read is seen
    t.write(a + 2 * PAGE, 0xabc);
    expect(t.read_pipe(r, 10 * PAGE)).toEqual([{ word: 2, len: PAGE / 2 }, { word: 0xabc, len: PAGE }]);
    expect([0, 1, 2].map((i) => ref(k, t, a + i * PAGE))).toEqual(before);
    expect(k.devices().flatMap((d) => d.pins())).toEqual([]);
  });

  it('SPLICE_F_GIFT marks the buffers; each iovec segment is split into its own buffers', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 2);
    const [r, w] = t.pipe();
    expect(t.vmsplice(w, [{ base: a, len: 10 }, { base: a + 20, len: 0 }, { base: a + 30, len: 10 }], C.SPLICE_F_GIFT)).toBe(20);
    expect(end(t, r).buffers().map((b) => [b.offset, b.len, b.flags])).toEqual([[0, 10, C.PIPE_BUF_FLAG_GIFT], [30, 10, C.PIPE_BUF_FLAG_GIFT]]);
    expect(ref(k, t, a)).toBe(3); // the mapping and two buffers
  });

  it('a full ring: a splice stops at 16 buffers and drops the references beyond; then EAGAIN, flags or not', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 20);
    const [r, w] = t.pipe();
    expect(t.vmsplice(w, [{ base: a, len: 20 * PAGE }], C.SPLICE_F_NONBLOCK)).toBe(C.PIPE_DEF_BUFFERS * PAGE);
    const refs = Array.from({ length: 20 }, (_, i) => ref(k, t, a + i * PAGE));
    expect(refs).toEqual([...Array(16).fill(2), 1, 1, 1, 1]);
    expectCode(k, () => t.vmsplice(w, [{ base: a + 16 * PAGE, len: PAGE }], C.SPLICE_F_NONBLOCK), 'EAGAIN');
    expectCode(k, () => t.vmsplice(w, [{ base: a + 16 * PAGE, len: PAGE }]), 'EAGAIN');
    expect(t.read_pipe(r, PAGE).map((c) => c.word)).toEqual([1]);
    expect(t.vmsplice(w, [{ base: a + 16 * PAGE, len: 4 * PAGE }])).toBe(PAGE); // one slot free
    expect(t.read_pipe(r, 100 * PAGE).map((c) => c.word)).toEqual([...Array.from({ length: 15 }, (_, i) => i + 2), 17]);
    expect(Array.from({ length: 20 }, (_, i) => ref(k, t, a + i * PAGE))).toEqual(Array(20).fill(1));
  });

  it('closing both ends releases every buffer; the write end alone leaves them readable, then end-of-file', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 2);
    const [r, w] = t.pipe();
    t.vmsplice(w, [{ base: a, len: 2 * PAGE }]);
    t.close(w);
    expect(ref(k, t, a)).toBe(2);
    expect(k.devices()).toHaveLength(1);
    expect(t.read_pipe(r, PAGE)).toEqual([{ word: 1, len: PAGE }]);
    t.close(r);
    expect([ref(k, t, a), ref(k, t, a + PAGE)]).toEqual([1, 1]);
    expect(k.devices()).toEqual([]);
    const [r2, w2] = t.pipe();
    expect(end(t, r2).path).toBe('pipe:[2]');
    t.vmsplice(w2, [{ base: a, len: PAGE }]);
    t.close(w2);
    expect(t.read_pipe(r2, PAGE)).toHaveLength(1);
    expect(t.read_pipe(r2, PAGE)).toEqual([]); // no writer: EOF, not EAGAIN
    const [r3, w3] = t.pipe();
    t.vmsplice(w3, [{ base: a, len: PAGE }]);
    t.close(r3);
    expectCode(k, () => t.vmsplice(w3, [{ base: a + PAGE, len: PAGE }]), 'EPIPE');
    expect(ref(k, t, a)).toBe(2); // the buffer outlives the read end
    t.close(w3);
    expect(ref(k, t, a)).toBe(1);
  });

  it('fork shares the ends; the exit of the last task holding them releases the pages, whoever spliced them', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 1);
    const [r, w] = t.pipe();
    const child = t.fork();
    const b = filled(child, 1);
    child.vmsplice(w, [{ base: b, len: PAGE }]);
    const cpfn = child.translate(b)!;
    child.exit(); // its page survives on the pipe's reference
    expect(k.page(cpfn).refcount).toBe(1);
    expect(k.page(cpfn).mapcount).toBe(0);
    expect(t.read_pipe(r, PAGE)).toEqual([{ word: 1, len: PAGE }]);
    expect(k.page(cpfn).refcount).toBe(0); // freed by the read's put_page
    t.vmsplice(w, [{ base: a, len: PAGE }]);
    const c2 = t.fork();
    t.close(r);
    t.close(w);
    expect(k.devices()).toHaveLength(2);
    expect(ref(k, t, a)).toBe(3); // two mappings (COW-shared) and the buffer
    c2.exit();
    expect(k.devices()).toEqual([]);
    expect(ref(k, t, a)).toBe(1);
  });

  // CVE-2020-29374's steps: a page shared COW by fork, which the child
  // vmsplices into a pipe (or, for contrast, not) and unmaps before the
  // parent writes it. The pipe's reference alone turns the parent's reuse
  // into a copy: wp_can_reuse_anon_folio() sees a shared page with a
  // reference beyond its mapping (the pre-5.8 mapcount rule would reuse it).
  it.each([true, false])('CVE-2020-29374 on today\'s rules (spliced: %s): the parent\'s write copies iff the pipe holds the page; the child reads the old data', async (spliced) => {
    const k = await bootTest(backend);
    const parent = k.spawn();
    const a = anon(parent, 1);
    parent.write(a, 0x01d);
    const child = parent.fork();
    const shared = child.translate(a)!;
    expect(shared).toBe(parent.translate(a));
    const [r, w] = child.pipe();
    if (spliced) expect(child.vmsplice(w, [{ base: a, len: PAGE }])).toBe(PAGE);
    expect(child.translate(a)).toBe(shared); // FOLL_GET does not unshare
    child.munmap(a, PAGE);
    expect(k.page(shared)).toMatchObject({ mapcount: 1, refcount: spliced ? 2 : 1 });
    const copies = k.v.stats[C.COW_COPIES];
    parent.write(a, 0x2e4);
    expect(parent.translate(a) !== shared).toBe(spliced);
    expect(k.v.stats[C.COW_COPIES]).toBe(copies + (spliced ? 1 : 0));
    expect(parent.read(a)).toBe(0x2e4);
    if (spliced) expect(child.read_pipe(r, PAGE)).toEqual([{ word: 0x01d, len: PAGE }]);
  });

  // The same steps on a 2 MiB hugetlb page: hugetlb_wp() reuses an anon
  // page that one mapping maps whatever else holds it (the mapcount rule,
  // kernel-history.md G3), so the leak CVE-2020-29374 fixed for small pages
  // survives for hugetlb on today's kernels: the pipe reads the parent's new data.
  it('the hugetlb variant leaks on today\'s rules: the parent\'s write reuses the spliced page', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const parent = k.spawn();
    const HP = 2 * 1024 * 1024;
    const a = parent.mmap({ length: HP, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB });
    parent.write(a, 0x01d);
    const child = parent.fork();
    const shared = child.translate(a)!;
    const [r, w] = child.pipe();
    expect(child.vmsplice(w, [{ base: a, len: PAGE }])).toBe(PAGE);
    child.munmap(a, HP);
    const reuses = k.v.stats[C.COW_REUSES];
    parent.write(a, 0x2e4);
    expect(parent.translate(a)).toBe(shared); // reused in place, though the pipe holds a reference
    expect(k.v.stats[C.COW_REUSES]).toBe(reuses + 1);
    expect(child.read_pipe(r, PAGE)).toEqual([{ word: 0x2e4, len: PAGE }]); // the parent's new data, through the pipe
  });

  it('vmsplice check order: flags, the fd, the iovecs, the end, the readers, the ring; EFAULT and partial splices', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = filled(t, 2);
    const [r, w] = t.pipe();
    const f = t.open(k.createFile({ fs: 'ext4', size: PAGE }));
    expectCode(k, () => t.vmsplice(99, [{ base: -1, len: -1 }], 0x10), 'EINVAL'); // flags before the fd
    expectCode(k, () => t.vmsplice(99, [{ base: -1, len: -1 }]), 'EBADF');
    expectCode(k, () => t.vmsplice(f, [{ base: a, len: -1 }]), 'EINVAL'); // import_iovec before get_pipe_info()
    expectCode(k, () => t.vmsplice(f, [{ base: a, len: PAGE }]), 'EBADF'); // not a pipe
    expect(t.vmsplice(f, [{ base: a, len: 0 }])).toBe(0); // nothing to splice: not even the pipe is looked for
    expectCode(k, () => t.vmsplice(w, [{ base: a, len: -1 }]), 'EINVAL');
    expectCode(k, () => t.vmsplice(w, Array(C.UIO_MAXIOV + 1).fill({ base: a, len: 1 })), 'EINVAL');
    expectCode(k, () => t.vmsplice(w, [{ base: -PAGE, len: PAGE }]), 'EFAULT');
    expectCode(k, () => t.vmsplice(r, [{ base: a, len: PAGE }]), 'EINVAL'); // vmsplice_to_user(): not modelled
    expect(t.vmsplice(r, [])).toBe(0);
    // the references get_user_pages_fast() could take: the first page, then EFAULT ends the splice
    const hole = anon(t, 2);
    t.munmap(hole + PAGE, PAGE);
    expectCode(k, () => t.vmsplice(w, [{ base: hole + PAGE, len: PAGE }]), 'EFAULT');
    expect(t.vmsplice(w, [{ base: hole, len: 2 * PAGE }, { base: a, len: PAGE }])).toBe(PAGE);
    expect(end(t, w).buffers()).toHaveLength(1);
    // JS misuse before anything
    expect(() => t.vmsplice(w, {} as never)).toThrow(TypeError);
    expect(() => t.vmsplice(w, [{ base: a, len: 1.5 }])).toThrow(RangeError);
    expect(() => t.vmsplice('3' as never, [])).toThrow(TypeError);
    expect(() => t.vmsplice(w, [], NaN)).toThrow();
    expect(end(t, w).buffers()).toHaveLength(1);
  });

  it('read check order: the fd, a pipe, the read end; an empty pipe with a writer is EAGAIN; an exited task ESRCH', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const [r, w] = t.pipe();
    const f = t.open(k.createFile({ fs: 'ext4', size: PAGE }));
    expectCode(k, () => t.read_pipe(99, 1), 'EBADF');
    expectCode(k, () => t.read_pipe(f, 1), 'EINVAL');
    expectCode(k, () => t.read_pipe(w, 1), 'EBADF');
    expectCode(k, () => t.read_pipe(r, 1), 'EAGAIN');
    expect(t.read_pipe(r, 0)).toEqual([]);
    expect(() => t.read_pipe(r, -1)).toThrow(RangeError);
    expect(() => t.read_pipe(r, 0.5)).toThrow(RangeError);
    expectCode(k, () => t.pread(r, 0), 'EINVAL'); // file syscalls on a pipe: not modelled
    end(t, w).close(); // a direct close() under the fd: the fd's calls are EBADF, the read end sees EOF
    expectCode(k, () => t.vmsplice(w, [{ base: 0, len: 1 }]), 'EBADF');
    expect(t.read_pipe(r, 1)).toEqual([]);
    const child = t.fork();
    child.exit();
    expect(codeOf(() => child.pipe())).toBe('ESRCH');
    expect(codeOf(() => child.vmsplice(w, []))).toBe('ESRCH');
    expect(codeOf(() => child.read_pipe(r, 1))).toBe('ESRCH');
  });

  it('property: random pipe/vmsplice/read/close/fork/write/exit keep every refcount = mapcount + the buffers holding it, and release all at the end', async () => {
    const k = await bootTest(backend);
    const root = k.spawn();
    const N = 8;
    const a = filled(root, N);
    const free0 = k.vmstat().nr_free_pages;
    const pick = <T>(xs: T[], i: number): T | undefined => xs[i % Math.max(xs.length, 1)];
    const ix = fc.nat(50);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('pipe' as const), t: ix }),
      fc.record({ kind: fc.constant('vmsplice' as const), t: ix, fd: ix, off: fc.nat(N * PAGE - 1), len: fc.nat(20 * PAGE), gift: fc.boolean() }),
      fc.record({ kind: fc.constant('read' as const), t: ix, fd: ix, len: fc.nat(6 * PAGE) }),
      fc.record({ kind: fc.constant('close' as const), t: ix, fd: ix }),
      fc.record({ kind: fc.constant('fork' as const), t: ix }),
      fc.record({ kind: fc.constant('write' as const), t: ix, page: fc.nat(N - 1), word: fc.nat(0xffff) }),
      fc.record({ kind: fc.constant('exit' as const), t: ix }),
    );
    const endsOf = (t: Task) => [...t.fds.entries()].filter(([, f]) => f instanceof PipeEnd) as [number, PipeEnd][];
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const tasks = [root];
      for (const o of ops) {
        const t = pick(tasks, o.t)!;
        const fd = o.kind === 'vmsplice' || o.kind === 'read' || o.kind === 'close' ? pick(endsOf(t), o.fd)?.[0] : undefined;
        const code = codeOf(() => {
          if (o.kind === 'pipe') t.pipe();
          else if (o.kind === 'fork') { if (tasks.length < 4) tasks.push(t.fork()); }
          else if (o.kind === 'write') t.write(a + o.page * PAGE, o.word);
          else if (o.kind === 'exit') { if (t !== root) { t.exit(); tasks.splice(tasks.indexOf(t), 1); } }
          else if (fd === undefined) return;
          else if (o.kind === 'close') t.close(fd);
          else if (o.kind === 'vmsplice') {
            const len = Math.min(o.len, N * PAGE - o.off);
            const bytes = t.vmsplice(fd, [{ base: a + o.off, len }], o.gift ? C.SPLICE_F_GIFT : 0);
            expect(bytes).toBeLessThanOrEqual(len);
          } else {
            const e = t.fds.get(fd) as PipeEnd;
            const bufs = e.buffers();
            const words = bufs.map((b) => k.dma_read(b.pfn));
            const got = t.read_pipe(fd, o.len);
            const want = Math.min(o.len, bufs.reduce((s, b) => s + b.len, 0));
            expect(got.reduce((s, c) => s + c.len, 0)).toBe(want);
            expect(got.map((c) => c.word)).toEqual(words.slice(0, got.length));
          }
        });
        expect([undefined, 'EAGAIN', 'EPIPE', 'EBADF', 'EINVAL']).toContain(code);
        // every buffer of every live pipe, once per pipe
        const inodes = new Set(k.devices().filter((d) => d instanceof PipeEnd).map((d) => (d as PipeEnd).inode));
        const held = new Map<number, number>();
        for (const ino of inodes) for (const b of ino.bufs) held.set(b.pfn, (held.get(b.pfn) ?? 0) + 1);
        expect(k.devices().flatMap((d) => d.pins()).length).toBe([...held.values()].reduce((s, x) => s + x, 0));
        const pfns = new Set([...held.keys(), ...tasks.flatMap((x) => Array.from({ length: N }, (_, i) => x.translate(a + i * PAGE)!))]);
        for (const pfn of pfns) {
          const pg = k.page(pfn);
          expect(pg.refcount).toBe(pg.mapcount + (held.get(pfn) ?? 0));
        }
      }
      for (const t of tasks.slice(1)) t.exit();
      for (const [fd] of endsOf(root)) root.close(fd);
      expect(k.devices()).toEqual([]);
      expect(k.vmstat().nr_free_pages).toBe(free0);
    }), { numRuns: 30 });
  });
});

it('both cores end in the same state after the same pipe traffic', async () => {
  const digests = [];
  for (const backend of BACKENDS) {
    const k = await bootTest(backend);
    const p = k.spawn();
    const a = filled(p, 20);
    const [r, w] = p.pipe();
    const c = p.fork();
    c.vmsplice(w, [{ base: a + 10, len: 18 * PAGE }]);
    p.write(a + PAGE, 7);
    c.read_pipe(r, 3 * PAGE);
    c.exit();
    digests.push(k.digest());
  }
  expect(digests[0]).toBe(digests[1]);
});
