// The HMM mirror device (lib/test_hmm.c's dmirror): a device page table
// filled by hmm_range_fault() and emptied by its interval notifier, holding
// no page reference; the ioctls' errnos and results; release by the last
// close; both cores agree.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { HmmMirror, Kernel, Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, RW, expectCode, codeOf } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const P = C; // HMM_DMIRROR_PROT_*

// refcount, mapcount and pincount of the page mapped at each of n pages from addr.
function refs(k: Kernel, t: Task, addr: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const pfn = t.translate(addr + i * PAGE);
    if (pfn === null) return '-';
    const p = k.page(pfn);
    return `${p.refcount}/${p.mapcount}/${p.pincount}`;
  });
}

describe.each(BACKENDS)('HMM mirror device (%s core)', (backend) => {
  it('opens as /dev/hmm_dmirror0 in the opener\'s fd table; faults take no reference and pin nothing', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 8);
    for (let i = 0; i < 8; i++) t.write(a + i * PAGE, 100 + i);
    const before = refs(k, t, a, 8);
    const vmstat = k.vmstat();
    const gpu = k.hmmMirror(t);
    expect(t.fds.get(gpu.fd)).toBe(gpu);
    expect(gpu.path).toBe('/dev/hmm_dmirror0');
    expect(k.devices()).toEqual([gpu]);
    for (let i = 0; i < 8; i++) expect(gpu.read(a + i * PAGE + 12)).toBe(100 + i);
    expect(gpu.stats()).toEqual({ faults: 8, invalidations: 0, retries: 0 }); // one fault per one-page ioctl
    for (let i = 0; i < 8; i++) expect(gpu.read(a + i * PAGE)).toBe(100 + i);
    expect(gpu.stats().faults).toBe(8); // hits now
    expect(refs(k, t, a, 8)).toEqual(before);
    expect(k.vmstat().nr_foll_pin_acquired).toBe(vmstat.nr_foll_pin_acquired);
    expect(gpu.pins()).toEqual([]);
    expect(gpu.charges()).toEqual([]);
    expect(gpu.mappings()).toEqual([{ addr: a, length: 8 * PAGE, pfn: t.translate(a), write: true }]);
    gpu.write(a + 3 * PAGE, 0xd00d);
    expect(t.read(a + 3 * PAGE)).toBe(0xd00d); // by DMA into the frame the CPU maps
    expect(refs(k, t, a, 8)).toEqual(before);
  });

  it('HMM_DMIRROR_READ/WRITE count their faults like cmd.faults: one per miss, covering the rest of the range', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 100);
    const gpu = k.hmmMirror(t);
    const r = gpu.ioctl_read(a, 100); // 100 pages: hmm_range_fault in chunks of 32, one device fault
    expect({ cpages: r.cpages, faults: r.faults }).toEqual({ cpages: 100, faults: 1 });
    expect([...r.data].every((w) => w === 0)).toBe(true);
    expect(t.translate(a)).toBe(0); // read faults mapped the shared zero page
    expect(gpu.ioctl_read(a, 100).faults).toBe(0);
    // A write needs writable entries: the zero-page ones miss, and the write
    // faults break COW, which invalidates the mirror's own range: -EBUSY, retried.
    const w = gpu.ioctl_write(a, Array.from({ length: 100 }, (_, i) => i + 1));
    expect(w).toEqual({ cpages: 100, faults: 1 });
    expect(gpu.stats()).toEqual({ faults: 2, invalidations: 100, retries: 4 }); // one CLEAR per COW, one retry per chunk
    for (const i of [0, 31, 32, 99]) expect(t.read(a + i * PAGE)).toBe(i + 1);
    t.munmap(a + 50 * PAGE, PAGE);
    const again = gpu.ioctl_read(a + 40 * PAGE, 10); // still all mapped in the device table
    expect(again.faults).toBe(0);
    expect(codeOf(() => gpu.ioctl_read(a + 40 * PAGE, 20))).toBe('EFAULT'); // reaches the hole
  });

  it('munmap, fork, writeback, MADV_DONTNEED and mprotect invalidate the entries: the next access faults again', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 1);
    const gpu = k.hmmMirror(t);
    const faults = () => gpu.stats().faults;
    expect(gpu.read(a)).toBe(1);
    expect(faults()).toBe(1);

    // fork: PROTECTION_PAGE over the COW VMA; then the parent's COW copy is what the device sees.
    const child = t.fork();
    expect(gpu.mappings()).toEqual([]);
    expect(gpu.read(a)).toBe(1);
    expect(faults()).toBe(2);
    t.write(a, 2); // COW: the parent gets a copy, CLEAR drops the device's entry for the old frame
    child.write(a, 3);
    expect(gpu.read(a)).toBe(2);
    expect(faults()).toBe(3);
    expect(gpu.mappings()[0]!.pfn).toBe(t.translate(a));

    // MADV_DONTNEED: CLEAR; the device then reads a fresh zero page.
    t.madvise(a, PAGE, C.MADV_DONTNEED);
    expect(gpu.mappings()).toEqual([]);
    expect(gpu.read(a)).toBe(0);
    expect(faults()).toBe(4);

    // mprotect to read-only: a device write is refused with EPERM (hmm_range_fault's answer).
    gpu.write(a + PAGE, 9);
    t.mprotect(a, 4 * PAGE, C.PROT_READ);
    expect(gpu.mappings()).toEqual([]);
    expect(codeOf(() => gpu.write(a + PAGE, 10))).toBe('EPERM');
    expect(gpu.read(a + PAGE)).toBe(9);

    // munmap: UNMAP; the next access finds nothing: EFAULT, as HMM_DMIRROR_READ returns.
    t.munmap(a, 4 * PAGE);
    expect(gpu.mappings()).toEqual([]);
    expectCode(k, () => gpu.read(a), 'EFAULT');
    const b = t.mmap({ addr: a, length: 4 * PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED });
    t.write(b, 7);
    expect(gpu.read(b)).toBe(7); // the new mapping, not the old frame
    expect(child.read(a)).toBe(3);
  });

  it('writeback of a shared file mapping invalidates; the next device write faults, dirtying through ->page_mkwrite', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 4 * PAGE });
    const fd = t.open(f);
    const a = t.mmap({ length: 4 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    const gpu = k.hmmMirror(t);
    gpu.write(a, 0x11);
    expect(k.writeback(f).hazards).toEqual([]);
    expect(t.pread(fd, 0)).toBe(0x11);
    const inv = gpu.stats().invalidations;
    expect(inv).toBeGreaterThan(0); // folio_mkclean(): PROTECTION_PAGE
    gpu.write(a, 0x22); // faults again: a write fault that dirties the folio
    expect(gpu.stats().faults).toBe(2);
    const wb = k.writeback(f);
    expect(wb.hazards).toEqual([]);
    expect(t.pread(fd, 0)).toBe(0x22);
    expect(k.dmesg().some((l) => l.includes('clean page-cache folio'))).toBe(false);
  });

  it('HMM_DMIRROR_SNAPSHOT reports the CPU mapping of each page with test_hmm_uapi.h\'s PROT bytes, faulting nothing', async () => {
    const k = await bootTest(backend, { thp: 'always' });
    const t = k.spawn();
    const a = anon(t, 4, RW);
    t.read(a + PAGE); // zero page
    t.write(a + 2 * PAGE, 1);
    const ro = anon(t, 1, C.PROT_NONE);
    const huge = t.mmap({ length: HPAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
    t.write(huge, 1);
    const gpu = k.hmmMirror(t);
    const before = k.digest();
    expect([...gpu.snapshot(a, 4)]).toEqual([P.HMM_DMIRROR_PROT_NONE, P.HMM_DMIRROR_PROT_ZERO | P.HMM_DMIRROR_PROT_READ,
      P.HMM_DMIRROR_PROT_WRITE, P.HMM_DMIRROR_PROT_NONE]);
    expect([...gpu.snapshot(ro, 1)]).toEqual([P.HMM_DMIRROR_PROT_ERROR]); // no VM_READ
    expect(gpu.snapshot(huge, 512).every((b) => b === (P.HMM_DMIRROR_PROT_WRITE | P.HMM_DMIRROR_PROT_PMD))).toBe(true);
    expect([...gpu.snapshot(0x10000, 2)]).toEqual([0, 0]); // a hole
    expect(k.digest()).toBe(before); // nothing was faulted
    expect(gpu.mappings()).toEqual([]); // nor entered in the device table
    t.fork();
    expect(gpu.snapshot(a + 2 * PAGE, 1)[0]).toBe(P.HMM_DMIRROR_PROT_READ); // write-protected for COW
  });

  it('ioctl checks in dmirror_fops_unlocked_ioctl()\'s order; JS misuse is a TypeError/RangeError; a closed device is EBADF', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const gpu = k.hmmMirror(t);
    expectCode(k, () => gpu.ioctl_read(a + 8, 1), 'EINVAL'); // not page-aligned
    expectCode(k, () => gpu.ioctl_read(a, 0), 'EINVAL'); // addr >= addr + 0
    expectCode(k, () => gpu.ioctl_write(a, []), 'EINVAL');
    expectCode(k, () => gpu.snapshot(a, 2 ** 52), 'EINVAL'); // addr + npages pages wraps
    expectCode(k, () => gpu.ioctl_read(a, 2 ** 30), 'ENOMEM'); // no bounce buffer that large
    expectCode(k, () => gpu.read(0x1000), 'EFAULT');
    expect(() => gpu.read('0' as unknown as number)).toThrow(TypeError);
    expect(() => gpu.ioctl_read(a, 1.5)).toThrow(RangeError);
    expect(() => gpu.ioctl_read(-PAGE, 1)).toThrow(RangeError);
    expect(() => gpu.write(a, 2 ** 32)).toThrow(RangeError);
    expect(() => gpu.ioctl_write(a, null as unknown as number[])).toThrow(TypeError);
    expect(() => k.hmmMirror({} as Task)).toThrow(TypeError);
    expect(() => k.hmmMirror(t, { retries: -1 })).toThrow(RangeError);
    t.close(gpu.fd);
    expect(gpu.closed).toBe(true);
    expect(k.devices()).toEqual([]);
    expectCode(k, () => gpu.read(a), 'EBADF');
    expectCode(k, () => gpu.snapshot(a, 1), 'EBADF');
    const dead = k.spawn();
    dead.exit();
    expectCode(k, () => k.hmmMirror(dead), 'ESRCH');
  });

  it('retries are bounded: with none allowed, a write fault that breaks COW on its own range ends in EBUSY', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 1);
    t.read(a); // the zero page
    const gpu = k.hmmMirror(t, { retries: 0 });
    expect(codeOf(() => gpu.write(a, 5))).toBe('EBUSY');
    expect(t.translate(a)).not.toBe(0); // the kernel leaves the fault's work done: COW happened
    gpu.write(a, 5); // now the page is exclusive: no invalidation, no retry
    expect(t.read(a)).toBe(5);
  });

  it('closing removes the notifier: fork shares the fd, the last close releases it; the opener\'s exit empties the table', async () => {
    const k = await bootTest(backend, { thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 2);
    const gpu = k.hmmMirror(t);
    gpu.write(a, 1);
    const child = t.fork();
    t.close(gpu.fd);
    expect(gpu.closed).toBe(false); // the child's fd still refers to it
    const inv = gpu.stats().invalidations;
    t.munmap(a, PAGE);
    expect(gpu.stats().invalidations).toBe(inv + 1);
    t.exit(); // RELEASE: the device table empties; the mm is gone
    expect(gpu.stats().invalidations).toBeGreaterThan(inv + 1);
    expect(gpu.mappings()).toEqual([]);
    expectCode(k, () => gpu.read(a + PAGE), 'EFAULT'); // no mm to fault in (see hmm-mirror.ts)
    expectCode(k, () => gpu.snapshot(a, 1), 'EINVAL'); // dmirror_snapshot(): mmget_not_zero() failed
    child.exit();
    expect(gpu.closed).toBe(true);
    expect(k.devices()).toEqual([]);

    // After close, the mm's invalidations reach it no more.
    const t2 = k.spawn();
    const b = anon(t2, 1);
    const g2 = k.hmmMirror(t2);
    g2.read(b);
    t2.close(g2.fd);
    const n = g2.stats().invalidations;
    t2.munmap(b, PAGE);
    expect(g2.stats().invalidations).toBe(n);
  });
});

// The same run on both cores ends in the same state.
async function scenario(backend: 'wasm' | 'ts'): Promise<unknown> {
  const k = await bootTest(backend);
  const t = k.spawn();
  const a = t.mmap({ length: HPAGE * 2, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  const gpu = k.hmmMirror(t);
  gpu.ioctl_read(a, 600);
  gpu.ioctl_write(a + 100 * PAGE, Array.from({ length: 700 }, (_, i) => i * 3));
  const child = t.fork();
  child.write(a + 200 * PAGE, 1);
  t.write(a + 300 * PAGE, 2);
  t.madvise(a + 400 * PAGE, 10 * PAGE, C.MADV_DONTNEED);
  const r = gpu.ioctl_read(a, 1024);
  return { digest: k.digest(), stats: gpu.stats(), mappings: gpu.mappings(), snap: [...gpu.snapshot(a, 1024)], sum: r.data.reduce((x, y) => x + y, 0) };
}

describe('HMM mirror device: both cores', () => {
  it('end in the same state, table and stats after the same run', async () => {
    expect(await scenario('ts')).toEqual(await scenario('wasm'));
  });
});

// Random CPU writes, munmap/mmap, fork and mirror accesses: every mirror
// read equals what the CPU sees (EFAULT where nothing is mapped), and the
// machine ends as it would had the CPU made each mirror access instead.
type Op =
  | { op: 'cpuWrite' | 'gpuWrite'; page: number; word: number }
  | { op: 'gpuRead' | 'munmap' | 'mmap' | 'dontneed'; page: number }
  | { op: 'fork' };

const NPAGES = 16;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('cpuWrite' as const, 'gpuWrite' as const), page: fc.nat(NPAGES - 1), word: fc.nat(0xffff) }),
  fc.record({ op: fc.constantFrom('gpuRead' as const, 'gpuRead' as const, 'munmap' as const, 'mmap' as const, 'dontneed' as const), page: fc.nat(NPAGES - 1) }),
  fc.constant({ op: 'fork' as const }),
);

async function run(backend: 'wasm' | 'ts', ops: Op[], mirror: boolean): Promise<unknown> {
  const k = await bootTest(backend, { thp: 'never' });
  const t = k.spawn();
  const base = anon(t, NPAGES);
  const gpu: HmmMirror | null = mirror ? k.hmmMirror(t) : null;
  const children: Task[] = [];
  const reads: (number | string)[] = [];
  const at = (p: number) => base + p * PAGE;
  // The device's EFAULT is the CPU's SIGSEGV.
  const tryCode = (fn: () => number | void) => {
    try { return fn() ?? 'ok'; } catch (e) { const c = (e as { code: string }).code; return c === 'EFAULT' ? 'SIGSEGV' : c; }
  };
  for (const o of ops) {
    switch (o.op) {
      case 'cpuWrite': tryCode(() => t.write(at(o.page), o.word)); break;
      case 'gpuWrite': reads.push(tryCode(() => (gpu ? gpu.write(at(o.page), o.word) : t.write(at(o.page), o.word)))); break;
      case 'gpuRead': {
        // The device's access (or, without the mirror, the CPU's), then the CPU's look.
        const got = tryCode(() => (gpu ? gpu.read(at(o.page)) : t.read(at(o.page))));
        expect(got).toBe(tryCode(() => t.read(at(o.page))));
        reads.push(got);
        break;
      }
      case 'munmap': t.munmap(at(o.page), PAGE); break;
      case 'mmap': tryCode(() => t.mmap({ addr: at(o.page), length: PAGE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED_NOREPLACE })); break;
      case 'dontneed': tryCode(() => t.madvise(at(o.page), PAGE, C.MADV_DONTNEED)); break;
      case 'fork': {
        const c = t.fork();
        if (gpu) c.close(gpu.fd); // the child keeps no mirror fd: the device is the parent's
        tryCode(() => c.write(base, 0xc0c0 + children.length));
        children.push(c);
        break;
      }
    }
  }
  // What each task maps and the state of those frames (not k.digest(): its
  // pgfault counter differs with a subscription, see the report).
  const frames = [t, ...children].map((c) => Array.from({ length: NPAGES }, (_, p) => {
    const pfn = c.translate(at(p));
    if (pfn === null) return null;
    const { refcount, mapcount, pincount, data, flags } = k.page(pfn);
    return { pfn, refcount, mapcount, pincount, data, flags };
  }));
  return { frames, free: k.meminfo().MemFree, reads };
}

describe.each(BACKENDS)('HMM mirror device: property (%s core)', (backend) => {
  it('mirror reads equal the CPU\'s, and the machine ends as without the mirror', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      const [withMirror, without] = [await run(backend, ops, true), await run(backend, ops, false)];
      expect(withMirror).toEqual(without);
    }), { numRuns: 25 });
  });
});
