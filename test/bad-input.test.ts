// Bad input: every invalid syscall argument fails with Linux's errno and
// leaves the machine exactly as it was; JS misuse (wrong types, NaN, 1.5)
// throws TypeError/RangeError before anything changes; an exited task
// answers ESRCH; bad boot options are refused.
import { describe, expect, it } from 'vitest';
import { boot, SyscallError, type Kernel, type Task } from '../src/index';
import { BACKENDS, bootTest, anon, expectCode, C, PAGE, RW, ANON_PRIVATE, codeOf } from './helpers';

const MIB = 1024 * 1024;
const HPAGE = 2 * MIB;
const TASK_SIZE = 2 ** 47 - PAGE;
const R = C.PROT_READ;

// Everything a bad call could disturb: the core's state (digest) and the
// façade's (each task's VMAs and open files, the files, the tasks).
function snapshot(k: Kernel): string {
  return JSON.stringify({
    digest: k.digest(),
    tasks: k.tasks.map((t) => ({ pid: t.pid, maps: t.maps(), fds: [...t.fds.keys()] })),
    files: k.files.map((f) => [f.name, f.size]),
  });
}

// expectCode, plus: the VMAs, fds and files did not change either.
function expectErrno(k: Kernel, fn: () => unknown, code: string): void {
  const before = snapshot(k);
  expectCode(k, fn, code);
  expect(snapshot(k)).toBe(before);
}

// JS misuse: the given error class, never a SyscallError, and no change.
function expectMisuse(k: Kernel, fn: () => unknown, cls: typeof TypeError | typeof RangeError): void {
  const before = snapshot(k);
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  expect(err).not.toBeInstanceOf(SyscallError);
  expect(snapshot(k)).toBe(before);
}

// The machine still works after all that (no call left it half-changed).
function expectUsable(t: Task): void {
  const a = anon(t, 1);
  t.write(a, 0xabc);
  expect(t.read(a)).toBe(0xabc);
  t.munmap(a, PAGE);
}

// A task with some state worth protecting: a written anon mapping and a memfd mapping.
function setup(k: Kernel) {
  const t = k.spawn();
  const a = anon(t, 4);
  t.touch(a, 4 * PAGE, { write: true });
  const fd = t.memfd_create('m');
  t.ftruncate(fd, 2 * PAGE);
  const m = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
  t.write(m, 5);
  return { t, a, fd, m };
}

const mm = (t: Task, o: { addr?: number; length: number; prot?: number; flags: number; fd?: number; offset?: number }) =>
  t.mmap({ prot: RW, ...o });

describe.each(BACKENDS)('bad syscall arguments (%s core)', (backend) => {
  it('unaligned addresses: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    expectErrno(k, () => t.munmap(a + 1, PAGE), 'EINVAL');
    expectErrno(k, () => t.munmap(a + PAGE / 2, PAGE), 'EINVAL');
    expectErrno(k, () => t.mprotect(a + 8, PAGE, R), 'EINVAL');
    expectErrno(k, () => t.madvise(a + 100, PAGE, C.MADV_DONTNEED), 'EINVAL');
    expectErrno(k, () => t.madvise(a + 100, PAGE, C.MADV_POPULATE_WRITE), 'EINVAL');
    expectErrno(k, () => mm(t, { addr: a + 12, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED }), 'EINVAL');
    expectErrno(k, () => mm(t, { addr: a + 12, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED_NOREPLACE }), 'EINVAL');
    expectUsable(t);
  });

  it('unaligned file offset: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED, fd, offset: 100 }), 'EINVAL');
  });

  it('length 0: EINVAL for mmap and munmap; a no-op for mprotect and madvise', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    expectErrno(k, () => mm(t, { length: 0, flags: ANON_PRIVATE }), 'EINVAL');
    expectErrno(k, () => mm(t, { addr: a, length: 0, flags: ANON_PRIVATE | C.MAP_FIXED }), 'EINVAL');
    expectErrno(k, () => t.munmap(a, 0), 'EINVAL');
    const before = snapshot(k);
    t.mprotect(a, 0, C.PROT_NONE);
    t.madvise(a, 0, C.MADV_DONTNEED);
    expect(snapshot(k)).toBe(before);
  });

  it('negative lengths: mmap ENOMEM, munmap and madvise EINVAL, mprotect ENOMEM', async () => {
    // As size_t, -n is huge: PAGE_ALIGN overflows or exceeds TASK_SIZE (mmap),
    // len > TASK_SIZE - start (munmap), start + len wraps (madvise EINVAL,
    // mprotect "end <= start" ENOMEM).
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    for (const len of [-1, -PAGE]) {
      expectErrno(k, () => mm(t, { length: len, flags: ANON_PRIVATE }), 'ENOMEM');
      expectErrno(k, () => t.munmap(a, len), 'EINVAL');
      expectErrno(k, () => t.madvise(a, len, C.MADV_DONTNEED), 'EINVAL');
    }
    expectUsable(t);
  });

  it('negative length to mprotect: ENOMEM', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    expectErrno(k, () => t.mprotect(a, -PAGE, R), 'ENOMEM');
    expectErrno(k, () => t.mprotect(a, -1, R), 'ENOMEM');
  });

  it('addresses at or above TASK_SIZE (2^47 - 4096)', async () => {
    const k = await bootTest(backend);
    const { t } = setup(k);
    for (const addr of [TASK_SIZE, 2 ** 47, 2 ** 48]) {
      expectErrno(k, () => mm(t, { addr, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED }), 'ENOMEM');
      expectErrno(k, () => mm(t, { addr, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED_NOREPLACE }), 'ENOMEM');
      expectErrno(k, () => t.munmap(addr, PAGE), 'EINVAL');
      expectErrno(k, () => t.mprotect(addr, PAGE, R), 'ENOMEM');
      expectErrno(k, () => t.madvise(addr, PAGE, C.MADV_DONTNEED), 'ENOMEM');
      expectErrno(k, () => t.read(addr), 'SIGSEGV');
      expectErrno(k, () => t.write(addr, 1), 'SIGSEGV');
      expect(t.translate(addr)).toBe(null);
    }
    // Ranges that start below TASK_SIZE but end above it.
    const last = TASK_SIZE - PAGE;
    expectErrno(k, () => mm(t, { addr: last, length: 2 * PAGE, flags: ANON_PRIVATE | C.MAP_FIXED }), 'ENOMEM');
    expectErrno(k, () => t.munmap(last, 2 * PAGE), 'EINVAL');
    // Longer than the whole address space.
    expectErrno(k, () => mm(t, { length: 2 ** 48, flags: ANON_PRIVATE | C.MAP_NORESERVE }), 'ENOMEM');
    expectUsable(t);
  });

  it('MAP_FIXED below vm.mmap_min_addr (64 KiB): EPERM', async () => {
    // security_mmap_addr() -> cap_mmap_addr() for a task without CAP_SYS_RAWIO.
    const k = await bootTest(backend);
    const { t } = setup(k);
    expectErrno(k, () => mm(t, { addr: 0, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED }), 'EPERM');
    expectErrno(k, () => mm(t, { addr: 0x8000, length: PAGE, flags: ANON_PRIVATE | C.MAP_FIXED }), 'EPERM');
  });

  it('unknown prot bits to mprotect: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    for (const prot of [0x10, 0x40, 0x100, R | 0x80000]) {
      expectErrno(k, () => t.mprotect(a, PAGE, prot), 'EINVAL');
    }
  });

  it('unknown madvise advice: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    for (const advice of [5, 6, 7, 999, -1, 2 ** 31]) {
      expectErrno(k, () => t.madvise(a, PAGE, advice), 'EINVAL');
    }
    // Checked before the address: an unknown advice on an unaligned address is EINVAL too.
    expectErrno(k, () => t.madvise(a + 1, PAGE, 999), 'EINVAL');
  });

  it('MAP_SHARED_VALIDATE with unknown flag bits on a file: EOPNOTSUPP', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    for (const bit of [0x200000, 0x400000, 0x800000]) {
      expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED_VALIDATE | bit, fd }), 'EOPNOTSUPP');
    }
    // Plain MAP_SHARED silently ignores them, for compatibility.
    const m = mm(t, { length: PAGE, flags: C.MAP_SHARED | 0x200000, fd });
    expect(t.read(m)).toBe(5);
  });

  it('MAP_SHARED_VALIDATE with MAP_ANONYMOUS: EINVAL (anonymous mappings take only SHARED or PRIVATE)', async () => {
    const k = await bootTest(backend);
    const { t } = setup(k);
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED_VALIDATE | C.MAP_ANONYMOUS }), 'EINVAL');
  });

  it('neither MAP_SHARED nor MAP_PRIVATE: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_ANONYMOUS }), 'EINVAL');
    expectErrno(k, () => mm(t, { length: PAGE, flags: 0, fd }), 'EINVAL');
    expectErrno(k, () => mm(t, { length: PAGE, flags: 0xf | C.MAP_ANONYMOUS }), 'EINVAL');
  });

  it('no MAP_ANONYMOUS and no fd, or a bad fd: EBADF', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_PRIVATE }), 'EBADF');
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED }), 'EBADF');
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED, fd: 99 }), 'EBADF');
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED, fd: -1 }), 'EBADF');
    t.close(fd);
    expectErrno(k, () => mm(t, { length: PAGE, flags: C.MAP_SHARED, fd }), 'EBADF');
    expectErrno(k, () => t.close(fd), 'EBADF');
    expectErrno(k, () => t.ftruncate(fd, PAGE), 'EBADF');
    expectErrno(k, () => t.pread(fd, 0), 'EBADF');
    expectErrno(k, () => t.pwrite(fd, 0, 1), 'EBADF');
  });

  it('more than RAM without MAP_NORESERVE: ENOMEM', async () => {
    const k = await bootTest(backend); // 64 MiB
    const { t } = setup(k);
    expectErrno(k, () => mm(t, { length: 65 * MIB, flags: ANON_PRIVATE }), 'ENOMEM');
    expectErrno(k, () => mm(t, { length: 1024 * MIB, flags: C.MAP_SHARED | C.MAP_ANONYMOUS }), 'ENOMEM');
    expectErrno(k, () => mm(t, { length: 1024 * MIB, flags: ANON_PRIVATE | C.MAP_POPULATE }), 'ENOMEM');
  });

  it('hugetlb misalignment: EINVAL', async () => {
    const k = await bootTest(backend, { hugepages: { '2MiB': 4 } });
    const { t } = setup(k);
    const h = mm(t, { length: 2 * HPAGE, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.write(h, 1);
    // MAP_FIXED at an address that is page- but not huge-page-aligned.
    expectErrno(k, () => mm(t, { addr: 0x40001000, length: HPAGE, flags: ANON_PRIVATE | C.MAP_HUGETLB | C.MAP_FIXED }), 'EINVAL');
    // Splitting a hugetlb VMA off a huge-page boundary.
    expectErrno(k, () => t.munmap(h + PAGE, PAGE), 'EINVAL');
    expectErrno(k, () => t.mprotect(h + PAGE, PAGE, R), 'EINVAL');
    expectErrno(k, () => t.mprotect(h, HPAGE + PAGE, R), 'EINVAL');
    expectErrno(k, () => t.madvise(h + PAGE, PAGE, C.MADV_DONTFORK), 'EINVAL');
    expectErrno(k, () => t.madvise(h + PAGE, HPAGE, C.MADV_DONTNEED), 'EINVAL');
    // An unsupported MAP_HUGE_* size (64 KiB).
    expectErrno(k, () => mm(t, { length: HPAGE, flags: ANON_PRIVATE | C.MAP_HUGETLB | (16 << C.MAP_HUGE_SHIFT) }), 'EINVAL');
    // A hugetlbfs file: offset and size must be huge-page multiples.
    const fd = t.memfd_create('h', { hugetlb: true });
    expectErrno(k, () => t.ftruncate(fd, PAGE), 'EINVAL');
    t.ftruncate(fd, 2 * HPAGE);
    expectErrno(k, () => mm(t, { length: HPAGE, flags: C.MAP_SHARED, fd, offset: PAGE }), 'EINVAL');
    expect(t.read(h)).toBe(1);
  });

  it('mprotect and madvise over a hole: ENOMEM', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    t.munmap(a + PAGE, PAGE); // [a, a+P) mapped, hole, [a+2P, a+4P) mapped
    // A range that starts in the hole: nothing is changed, as in Linux.
    expectErrno(k, () => t.mprotect(a + PAGE, 3 * PAGE, R), 'ENOMEM');
    expectErrno(k, () => t.madvise(a + PAGE, 3 * PAGE, C.MADV_DONTNEED), 'ENOMEM');
    // A range with a hole in the middle: Linux applies the call to the part
    // before the hole and then fails, so only the errno is asserted.
    expect(codeOf(() => t.mprotect(a, 4 * PAGE, R))).toBe('ENOMEM');
    expect(codeOf(() => t.madvise(a, 4 * PAGE, C.MADV_DONTFORK))).toBe('ENOMEM');
    // A range entirely unmapped.
    expectErrno(k, () => t.mprotect(a - 64 * PAGE, PAGE, R), 'ENOMEM');
    expectErrno(k, () => t.madvise(a - 64 * PAGE, PAGE, C.MADV_NORMAL), 'ENOMEM');
  });

  it('memfd_create with a name longer than 249 bytes: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t } = setup(k);
    expectErrno(k, () => t.memfd_create('x'.repeat(250)), 'EINVAL');
  });

  it('ftruncate to a negative length, pread/pwrite at a negative offset: EINVAL', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    expectErrno(k, () => t.ftruncate(fd, -1), 'EINVAL');
    expectErrno(k, () => t.pread(fd, -PAGE), 'EINVAL');
    expectErrno(k, () => t.pwrite(fd, -PAGE, 1), 'EINVAL');
  });
});

describe.each(BACKENDS)('JS misuse (%s core)', (backend) => {
  it('mmap: TypeError for wrong types, RangeError for NaN, Infinity and non-integers', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    const ok = { length: PAGE, prot: RW, flags: ANON_PRIVATE };
    const bad = (o: unknown) => () => t.mmap(o as never);
    expectMisuse(k, bad(undefined), TypeError);
    expectMisuse(k, bad(null), TypeError);
    expectMisuse(k, bad('mmap'), TypeError);
    expectMisuse(k, bad({ prot: RW, flags: ANON_PRIVATE }), TypeError); // no length
    for (const [key, v] of [['length', '4096'], ['prot', '3'], ['flags', {}], ['addr', '0x10000'], ['offset', true]] as const) {
      expectMisuse(k, bad({ ...ok, [key]: v }), TypeError);
    }
    for (const key of ['length', 'prot', 'flags', 'addr', 'offset']) {
      for (const v of [NaN, Infinity, -Infinity, 1.5, 2 ** 53]) expectMisuse(k, bad({ ...ok, [key]: v }), RangeError);
    }
    expectMisuse(k, bad({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: String(fd) }), TypeError);
    expectMisuse(k, bad({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: 3.5 }), RangeError);
    expectUsable(t);
  });

  it('munmap, mprotect, madvise: TypeError and RangeError', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    const cases: [() => unknown, typeof TypeError][] = [
      [() => t.munmap(String(a) as never, PAGE), TypeError],
      [() => t.munmap(a, undefined as never), TypeError],
      [() => t.munmap(a, 1.5), RangeError],
      [() => t.munmap(NaN, PAGE), RangeError],
      [() => t.mprotect(a, PAGE, '1' as never), TypeError],
      [() => t.mprotect(a, PAGE, undefined as never), TypeError],
      [() => t.mprotect(a, Infinity, R), RangeError],
      [() => t.mprotect(a + 0.5, PAGE, R), RangeError],
      [() => t.madvise(a, PAGE, {} as never), TypeError],
      [() => t.madvise(a, PAGE, NaN), RangeError],
      [() => t.madvise(a, 2.5, C.MADV_DONTNEED), RangeError],
    ];
    for (const [fn, cls] of cases) expectMisuse(k, fn, cls);
    expectUsable(t);
  });

  it('user accesses and translate: TypeError and RangeError', async () => {
    const k = await bootTest(backend);
    const { t, a } = setup(k);
    const cases: [() => unknown, typeof TypeError][] = [
      [() => t.read(String(a) as never), TypeError],
      [() => t.read(a + 0.5), RangeError],
      [() => t.write(a, '1' as never), TypeError],
      [() => t.write(a, -1), RangeError],
      [() => t.write(a, 2 ** 32), RangeError],
      [() => t.write(a, 1.5), RangeError],
      [() => t.write(undefined as never, 1), TypeError],
      [() => t.touch(a, PAGE, { write: 'yes' as never }), TypeError],
      [() => t.touch(a, NaN), RangeError],
      [() => t.touch({} as never, PAGE), TypeError],
      [() => t.translate('0' as never), TypeError],
      [() => t.translate(Infinity), RangeError],
    ];
    for (const [fn, cls] of cases) expectMisuse(k, fn, cls);
    expectUsable(t);
  });

  it('files: TypeError and RangeError', async () => {
    const k = await bootTest(backend);
    const { t, fd } = setup(k);
    const cases: [() => unknown, typeof TypeError][] = [
      [() => t.memfd_create(42 as never), TypeError],
      [() => t.memfd_create('x', null as never), TypeError],
      [() => t.memfd_create('x', { hugetlb: '4MiB' as never }), RangeError],
      [() => t.ftruncate(fd, '4096' as never), TypeError],
      [() => t.ftruncate(fd, 1.5), RangeError],
      [() => t.ftruncate(String(fd) as never, PAGE), TypeError],
      [() => t.pwrite(fd, 0, -1), RangeError],
      [() => t.pwrite(fd, NaN, 1), RangeError],
      [() => t.pread(fd, '0' as never), TypeError],
      [() => t.close(String(fd) as never), TypeError],
      [() => t.close(undefined as never), TypeError],
      [() => t.open({} as never), TypeError],
      [() => t.open('/etc/passwd' as never), TypeError],
      [() => k.createFile(null as never), TypeError],
      [() => k.createFile({ fs: 'ntfs' as never, size: PAGE }), RangeError],
      [() => k.createFile({ fs: 'ext4', size: '1 MB' }), RangeError],
      [() => k.createFile({ fs: 'ext4', size: -PAGE }), RangeError],
      [() => k.createFile({ fs: 'ext4', size: {} as never }), TypeError],
      [() => k.createFile({ fs: 'ext4', size: PAGE, name: 7 as never }), TypeError],
      [() => k.createFile({ fs: 'hugetlbfs', size: '2MiB', hugePageSize: '4MiB' as never }), RangeError],
      [() => k.writeback({} as never), TypeError],
    ];
    for (const [fn, cls] of cases) expectMisuse(k, fn, cls);
    expectUsable(t);
  });

  it('inspection: page() and dump_page() check the pfn', async () => {
    const k = await bootTest(backend);
    setup(k);
    for (const f of [(p: unknown) => k.page(p as number), (p: unknown) => k.dump_page(p as number)]) {
      expectMisuse(k, () => f('1'), TypeError);
      expectMisuse(k, () => f(undefined), TypeError);
      for (const p of [-1, 1.5, NaN, k.nrFrames]) expectMisuse(k, () => f(p), RangeError);
    }
  });
});

describe.each(BACKENDS)('exited task (%s core)', (backend) => {
  it('every call on an exited task fails with ESRCH and changes nothing', async () => {
    const k = await bootTest(backend);
    const { t, a, fd } = setup(k);
    const other = k.spawn(); // keeps a task around so the machine is not empty
    anon(other, 1);
    const file = k.createFile({ fs: 'ext4', size: PAGE });
    t.exit();
    expect(t.exited).toBe(true);
    expect(k.tasks).not.toContain(t);
    const calls: (() => unknown)[] = [
      () => t.mmap({ length: PAGE, prot: RW, flags: ANON_PRIVATE }),
      () => t.munmap(a, PAGE),
      () => t.mprotect(a, PAGE, R),
      () => t.madvise(a, PAGE, C.MADV_DONTNEED),
      () => t.memfd_create('late'),
      () => t.open(file),
      () => t.close(fd),
      () => t.ftruncate(fd, PAGE),
      () => t.pread(fd, 0),
      () => t.pwrite(fd, 0, 1),
      () => t.read(a),
      () => t.write(a, 1),
      () => t.touch(a, PAGE),
      () => t.fork(),
      () => t.exit(),
      () => t.translate(a),
      () => t.maps(),
    ];
    for (const call of calls) expectErrno(k, call, 'ESRCH');
    expectUsable(other);
  });

  it('exit frees the task memory', async () => {
    const k = await bootTest(backend);
    const base = k.meminfo();
    const { t } = setup(k);
    t.exit();
    const after = k.meminfo();
    expect(after.AnonPages).toBe(base.AnonPages);
    expect(after.PageTables).toBe(base.PageTables);
  });
});

describe.each(BACKENDS)('boot option validation (%s core)', (backend) => {
  const tryBoot = (opts: Record<string, unknown>) => boot({ memory: '64MiB', wasm: 'debug', backend, ...opts } as never);

  it.each([
    ['memory', '1.5GiB'], ['memory', '64MB'], ['memory', 'lots'], ['memory', 6 * MIB], ['memory', '8MiB'],
    ['memory', '512GiB'], ['memory', -1], ['memory', NaN], ['memory', 1.5],
    ['movable', '3MiB'], ['cma', '1MiB'], ['pmem', '5MiB'],
    ['backend', 'gpu'], ['backend', 'WASM'], ['thp', 'sometimes'],
    ['hugepages', { '4MiB': 1 }], ['hugepages', { '2MiB': -1 }], ['hugepages', { '2MiB': 1.5 }],
  ])('%s: %s is a RangeError', async (key, value) => {
    await expect(tryBoot({ [key]: value })).rejects.toThrow(RangeError);
  });

  it.each([
    ['memory', {}], ['memory', true], ['movable', [1]], ['hugepages', 5], ['hugepages', { '2MiB': '2' }],
  ])('%s: %s is a TypeError', async (key, value) => {
    await expect(tryBoot({ [key]: value })).rejects.toThrow(TypeError);
  });

  it('options that are not an object are a TypeError', async () => {
    await expect(boot(null as never)).rejects.toThrow(TypeError);
    await expect(boot('64MiB' as never)).rejects.toThrow(TypeError);
  });

  it('movable + cma must leave ZONE_NORMAL room: RangeError', async () => {
    await expect(tryBoot({ movable: '32MiB', cma: '32MiB' })).rejects.toThrow(RangeError);
    await expect(tryBoot({ movable: '60MiB' })).rejects.toThrow(RangeError);
    await expect(tryBoot({ cma: '64MiB' })).rejects.toThrow(RangeError);
    await expect(tryBoot({ movable: '28MiB', cma: '28MiB' })).resolves.toBeDefined();
  });

  it('a hugetlb pool larger than RAM is trimmed, not refused, and dmesg says so', async () => {
    // As with hugepages=N on the command line: allocate what fits, warn.
    const k = await tryBoot({ hugepages: { '2MiB': 1000 } });
    const got = k.meminfo().HugePages_Total;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(32);
    expect(k.dmesg().join('\n')).toMatch(/HugeTLB.*1000.*2\.00 MiB failed/);
  });
});
