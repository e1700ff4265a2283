// Credentials, RLIMIT_MEMLOCK, the three memlock counters (mm->locked_vm,
// mm->pinned_vm, user_struct->locked_vm), the accounting helpers, the
// ledger, and /proc/<pid>/status.
import { describe, it, expect } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, ANON_PRIVATE, anon, expectCode, codeOf } from './helpers';
import type { Kernel, MemlockCharge, Task } from '../src/index';

const MIB = 2 ** 20;

// Per counter and target, the ledger's pages must sum to the counter.
function checkLedger(k: Kernel, extraMms: Task[] = []): MemlockCharge[] {
  const ledger = k.memlockLedger();
  const sum = (counter: string, pid: number) => ledger.filter((c) => c.counter === counter && c.pid === pid)
    .reduce((n, c) => n + c.pages, 0);
  for (const t of new Set([...k.tasks, ...extraMms])) {
    expect(sum('mm.locked_vm', t.pid)).toBe(t.mm.locked_vm);
    expect(sum('mm.pinned_vm', t.pid)).toBe(t.mm.pinned_vm);
  }
  for (const uid of new Set(ledger.filter((c) => c.counter === 'user.locked_vm').map((c) => c.uid))) {
    const total = ledger.filter((c) => c.counter === 'user.locked_vm' && c.uid === uid).reduce((n, c) => n + c.pages, 0);
    expect(total).toBe(k.user(uid).locked_vm);
  }
  return ledger;
}

describe.each(BACKENDS)('credentials and RLIMIT_MEMLOCK (%s core)', (backend) => {
  it('spawn: uid 1000 without capabilities by default, uid 0 with all, caps as given; 8 MiB limit unless booted otherwise', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    expect(t.uid).toBe(1000);
    expect(t.capable('CAP_IPC_LOCK')).toBe(false);
    expect(t.getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: 8 * MIB, hard: 8 * MIB });
    const root = k.spawn({ uid: 0 });
    expect(root.capable('CAP_IPC_LOCK') && root.capable('CAP_SYS_RESOURCE')).toBe(true);
    expect(k.spawn({ uid: 0, caps: [] }).capable('CAP_IPC_LOCK')).toBe(false);
    expect(k.spawn({ caps: ['CAP_IPC_LOCK'] }).capable('CAP_SYS_RESOURCE')).toBe(false);
    expect(k.spawn({ memlock: Infinity }).getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: Infinity, hard: Infinity });
    expect(k.spawn({ memlock: { soft: '64KiB', hard: Infinity } }).getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: 65536, hard: Infinity });
    const k2 = await bootTest(backend, { memlock: '64KiB' });
    expect(k2.spawn().getrlimit('RLIMIT_MEMLOCK')).toEqual({ soft: 65536, hard: 65536 });
  });

  it('bad spawn and boot options are TypeError/RangeError, before anything changes', async () => {
    const k = await bootTest(backend);
    const n = k.tasks.length;
    expect(() => k.spawn({ uid: -1 })).toThrow(RangeError);
    expect(() => k.spawn({ uid: 1.5 })).toThrow(RangeError);
    expect(() => k.spawn({ caps: ['CAP_SYS_ADMIN' as never] })).toThrow(RangeError);
    expect(() => k.spawn({ caps: 'CAP_IPC_LOCK' as never })).toThrow(TypeError);
    expect(() => k.spawn({ memlock: '8 bananas' })).toThrow(RangeError);
    expect(() => k.spawn({ memlock: { soft: '2MiB', hard: '1MiB' } })).toThrow(RangeError);
    expect(k.tasks.length).toBe(n);
    await expect(bootTest(backend, { memlock: -1 })).rejects.toThrow(RangeError);
  });

  it("setrlimit: do_prlimit()'s checks in order; lowering unlocks nothing", async () => {
    const k = await bootTest(backend);
    const t = k.spawn({ memlock: { soft: '64KiB', hard: '1MiB' } });
    expectCode(k, () => t.setrlimit('RLIMIT_MEMLOCK', { soft: 2 * MIB, hard: MIB }), 'EINVAL');
    expectCode(k, () => t.setrlimit('RLIMIT_MEMLOCK', { soft: 4 * MIB, hard: 2 * MIB }), 'EINVAL'); // before EPERM
    expectCode(k, () => t.setrlimit('RLIMIT_MEMLOCK', { soft: 2 * MIB, hard: 2 * MIB }), 'EPERM');
    expect(codeOf(() => t.getrlimit('RLIMIT_NOFILE' as never))).toBe('EINVAL');
    t.setrlimit('RLIMIT_MEMLOCK', { soft: MIB, hard: MIB }); // raising soft up to hard is fine
    const a = anon(t, 32);
    t.mlock(a, 32 * PAGE);
    t.setrlimit('RLIMIT_MEMLOCK', { soft: PAGE, hard: PAGE });
    expect(t.mm.locked_vm).toBe(32);
    expectCode(k, () => t.mlock(a, 33 * PAGE), 'ENOMEM');
    expectCode(k, () => t.setrlimit('RLIMIT_MEMLOCK', { soft: PAGE, hard: 2 * PAGE }), 'EPERM');
    const root = k.spawn({ uid: 0, memlock: 0 });
    root.setrlimit('RLIMIT_MEMLOCK', { soft: Infinity, hard: Infinity }); // CAP_SYS_RESOURCE
    expect(root.getrlimit('RLIMIT_MEMLOCK').hard).toBe(Infinity);
    expect(() => t.setrlimit('RLIMIT_MEMLOCK', { soft: -1, hard: 0 })).toThrow(RangeError);
  });

  it('an exited task answers ESRCH to the new calls, and changes nothing', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.exit();
    const calls: (() => unknown)[] = [
      () => t.mlock(a, PAGE), () => t.mlock2(a, PAGE, 0), () => t.munlock(a, PAGE), () => t.mlockall(C.MCL_CURRENT),
      () => t.munlockall(), () => t.getrlimit('RLIMIT_MEMLOCK'), () => t.setrlimit('RLIMIT_MEMLOCK', { soft: 0, hard: 0 }),
      () => t.status(), () => t.procStatus(),
    ];
    for (const call of calls) expectCode(k, call, 'ESRCH');
  });

  it('k.user(uid) is one user_struct per uid, shared by every task of it', async () => {
    const k = await bootTest(backend);
    expect(k.user(1000)).toBe(k.user(1000));
    expect(k.user(1000)).not.toBe(k.user(1001));
    expect(k.user(1000)).toMatchObject({ uid: 1000, locked_vm: 0 });
    expect(() => k.user(-5)).toThrow(RangeError);
  });
});

describe.each(BACKENDS)('accounting helpers and the ledger (%s core)', (backend) => {
  it('__account_locked_vm: "new total > limit" fails with -ENOMEM and changes nothing; bypass adds; pr_debug in dmesg', async () => {
    const k = await bootTest(backend, { memlock: 4 * PAGE });
    const t = k.spawn();
    expect(k.__account_locked_vm(t.mm, 4, true, t, false, 'vfio_lock_acct')).toBe(0);
    expect(k.__account_locked_vm(t.mm, 1, true, t, false, 'vfio_lock_acct')).toBe(-C.ENOMEM);
    expect(t.mm.locked_vm).toBe(4);
    expect(k.dmesg().slice(-1)[0]).toBe(`__account_locked_vm: [${t.pid}] caller vfio_lock_acct +4096 16384/16384 - exceeded`);
    expect(k.__account_locked_vm(t.mm, 2, true, t, true, 'vfio_lock_acct')).toBe(0);
    expect(t.mm.locked_vm).toBe(6);
    expect(t.status().VmLck).toBe(24);
    expect(checkLedger(k)).toEqual([{ counter: 'mm.locked_vm', pages: 6, pid: t.pid, uid: 1000, by: 'vfio_lock_acct' }]);
    expect(k.__account_locked_vm(t.mm, 6, false, t, false, 'vfio_lock_acct')).toBe(0);
    expect(k.memlockLedger()).toEqual([]);
  });

  it('a decrement past zero WARNs once and subtracts anyway', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    expect(k.__account_locked_vm(t.mm, 3, false, t, false)).toBe(0);
    expect(t.mm.locked_vm).toBe(-3);
    expect(k.dmesg().filter((l) => l.startsWith('WARNING:') && l.includes('__account_locked_vm'))).toHaveLength(1);
    k.__account_locked_vm(t.mm, 1, false, t, false);
    expect(k.dmesg().filter((l) => l.startsWith('WARNING:'))).toHaveLength(1);
    checkLedger(k);
  });

  it('account_locked_vm: nothing for 0 pages or a NULL mm; the mm owner and its CAP_IPC_LOCK otherwise', async () => {
    const k = await bootTest(backend, { memlock: 2 * PAGE });
    const t = k.spawn();
    const root = k.spawn({ uid: 0 });
    expect(k.account_locked_vm(null, 5, true)).toBe(0);
    expect(k.account_locked_vm(t.mm, 0, true)).toBe(0);
    expect(k.dmesg().some((l) => l.startsWith('__account_locked_vm'))).toBe(false);
    expect(k.account_locked_vm(t.mm, 3, true)).toBe(-C.ENOMEM);
    expect(k.account_locked_vm(root.mm, 3, true)).toBe(0);
    expect(root.mm.locked_vm).toBe(3);
    expect(() => k.account_locked_vm({} as never, 1, true)).toThrow(TypeError);
    expect(() => k.account_locked_vm(t.mm, -1, true)).toThrow(RangeError);
    expect(() => k.__account_locked_vm(t.mm, 1, true, t, false, 7 as never)).toThrow(TypeError);
    expect(() => k.__account_pinned_vm(t.mm, 1, 1 as never, t, false)).toThrow(TypeError);
    expect(() => k.__account_user_locked_vm(k.user(1000), 1, true, t, { errno: 'EIO' as never })).toThrow(RangeError);
    expect([t.mm.locked_vm, t.mm.pinned_vm, k.user(1000).locked_vm]).toEqual([0, 0, 0]);
  });

  it('pinned_vm: checked (RDMA) against the limit unless CAP_IPC_LOCK, or charge-only (io_uring)', async () => {
    const k = await bootTest(backend, { memlock: 4 * PAGE });
    const t = k.spawn();
    expect(k.__account_pinned_vm(t.mm, 5, true, t, true, 'ib_umem_get')).toBe(-C.ENOMEM);
    expect(t.mm.pinned_vm).toBe(0);
    expect(k.__account_pinned_vm(t.mm, 4, true, t, true, 'ib_umem_get')).toBe(0);
    expect(k.__account_pinned_vm(t.mm, 100, true, t, false, 'io_uring')).toBe(0);
    expect(t.mm.pinned_vm).toBe(104);
    expect(t.procStatus()).toContain('VmPin:\t     416 kB\n');
    checkLedger(k);
  });

  it("user->locked_vm: shared by a uid's tasks, each checked against its own limit; -ENOBUFS for network users", async () => {
    const k = await bootTest(backend);
    const a = k.spawn({ memlock: 4 * PAGE });
    const b = k.spawn({ memlock: 8 * PAGE });
    const u = k.user(1000);
    expect(k.__account_user_locked_vm(u, 3, true, a, { by: 'io_uring' })).toBe(0);
    expect(k.__account_user_locked_vm(u, 2, true, a, { by: 'io_uring' })).toBe(-C.ENOMEM);
    expect(k.__account_user_locked_vm(u, 2, true, b, { by: 'xdp_umem' })).toBe(0);
    expect(k.__account_user_locked_vm(u, 4, true, b, { by: 'xdp_umem', errno: 'ENOBUFS' })).toBe(-C.ENOBUFS);
    expect(u.locked_vm).toBe(5);
    expect(a.mm.locked_vm + b.mm.locked_vm).toBe(0);
    checkLedger(k);
    expect(() => k.__account_user_locked_vm({ uid: 1000, locked_vm: 0 } as never, 1, true, a)).toThrow(TypeError);
  });

  it('the 3x case: mlock, pinned_vm and user->locked_vm each at the limit in one process', async () => {
    const k = await bootTest(backend, { memlock: '64KiB', thp: 'never' });
    const t = k.spawn();
    const limit = 16;
    const a = anon(t, 3 * limit);
    t.mlock(a, limit * PAGE);
    expect(k.__account_pinned_vm(t.mm, limit, true, t, true, 'ib_umem_get')).toBe(0);
    expect(k.__account_user_locked_vm(k.user(t.uid), limit, true, t, { by: 'io_uring' })).toBe(0);
    expect([t.mm.locked_vm, t.mm.pinned_vm, k.user(t.uid).locked_vm]).toEqual([limit, limit, limit]);
    // Each counter is full now: one more page fails in each of them.
    expectCode(k, () => t.mlock(a + limit * PAGE, PAGE), 'ENOMEM');
    expect(k.__account_pinned_vm(t.mm, 1, true, t, true, 'ib_umem_get')).toBe(-C.ENOMEM);
    expect(k.__account_user_locked_vm(k.user(t.uid), 1, true, t)).toBe(-C.ENOMEM);
    const st = t.status();
    expect(st.VmLck + st.VmPin + k.user(t.uid).locked_vm * 4).toBe(3 * 64);
    expect(checkLedger(k).map((c) => c.counter).sort()).toEqual(['mm.locked_vm', 'mm.pinned_vm', 'user.locked_vm']);
  });

  it('an mm keeps its counters after its task exited; helpers still charge and uncharge it', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    t.mlock(anon(t, 4), 4 * PAGE);
    k.__account_pinned_vm(t.mm, 8, true, t, true, 'ib_umem_get');
    k.__account_locked_vm(t.mm, 2, true, t, false, 'vfio');
    t.exit();
    expect(t.mm.locked_vm).toBe(2); // the mlock part went with the VMAs
    expect(t.mm.pinned_vm).toBe(8);
    checkLedger(k, [t]);
    expect(k.__account_pinned_vm(t.mm, 8, false, t, true, 'ib_umem_get')).toBe(0);
    expect(k.account_locked_vm(t.mm, 2, false, 'vfio')).toBe(0);
    expect([t.mm.locked_vm, t.mm.pinned_vm]).toEqual([0, 0]);
    expect(k.memlockLedger()).toEqual([]);
    expect(codeOf(() => t.status())).toBe('ESRCH');
  });

  it('the ledger sums equal the counters after random mlock/munlock/mmap/munmap/mprotect/fork/exit/helper steps', async () => {
    const k = await bootTest(backend, { memlock: 64 * PAGE, thp: 'never' });
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const tasks = [k.spawn(), k.spawn({ uid: 7 })];
    const gone: Task[] = [];
    for (let step = 0; step < 400; step++) {
      const live = tasks.filter((x) => !x.exited);
      const t = live[rnd(live.length)]!;
      const base = 0x100000000;
      const addr = base + rnd(32) * PAGE;
      const len = (1 + rnd(8)) * PAGE;
      const op = rnd(11);
      try {
        if (op === 0) t.mmap({ addr, length: len, prot: RW, flags: ANON_PRIVATE | C.MAP_FIXED | (rnd(3) ? 0 : C.MAP_LOCKED) });
        else if (op === 1) t.munmap(addr, len);
        else if (op === 2) t.mlock(addr, len);
        else if (op === 3) t.mlock2(addr, len, C.MLOCK_ONFAULT);
        else if (op === 4) t.munlock(addr, len);
        else if (op === 5) t.mprotect(addr, len, rnd(2) ? C.PROT_READ : RW);
        else if (op === 6) t.mlockall([C.MCL_CURRENT, C.MCL_FUTURE, C.MCL_CURRENT | C.MCL_ONFAULT][rnd(3)]!);
        else if (op === 7) t.munlockall();
        else if (op === 8) k.__account_pinned_vm(t.mm, rnd(8), rnd(3) > 0, t, rnd(2) === 0, 'dev');
        else if (op === 9) k.__account_user_locked_vm(k.user(t.uid), rnd(8), rnd(3) > 0, t, { by: 'dev' });
        else if (live.length < 4) tasks.push(t.fork());
        else {
          t.exit();
          gone.push(t);
        }
      } catch (e) {
        expect(['ENOMEM', 'EAGAIN', 'EINVAL', 'EPERM']).toContain((e as { code?: string }).code);
      }
      checkLedger(k, gone);
      for (const x of tasks.filter((y) => !y.exited)) {
        const locked = x.maps().filter((v) => v.flags & C.VM_LOCKED).reduce((n, v) => n + (v.end - v.start) / PAGE, 0);
        expect(x.mm.locked_vm).toBe(locked);
      }
    }
  });
});

describe.each(BACKENDS)('/proc/<pid>/status (%s core)', (backend) => {
  it("the memory lines, in kB, in task_mem()'s order and format", async () => {
    const k = await bootTest(backend, { thp: 'always', hugepages: { '2MiB': 1 } });
    const t = k.spawn();
    const a = t.mmap({ length: 4 * MIB, prot: RW, flags: ANON_PRIVATE });
    t.write(Math.ceil(a / (2 * MIB)) * 2 * MIB, 1); // one THP: 2048 kB anon, its deposited table
    const s = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED | C.MAP_ANONYMOUS });
    t.write(s, 1);
    const f = k.createFile({ fs: 'ext4', size: 3 * PAGE });
    const fd = t.open(f);
    t.touch(t.mmap({ length: 3 * PAGE, prot: C.PROT_READ, flags: C.MAP_PRIVATE, fd }), 3 * PAGE);
    t.write(t.mmap({ length: 2 * MIB, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB }), 1);
    const st = t.status();
    expect(st).toMatchObject({ VmSize: 4096 + 8 + 12 + 2048, VmLck: 0, VmPin: 0, RssAnon: 2048, RssFile: 12, RssShmem: 4, VmRSS: 2064, HugetlbPages: 2048 });
    expect(st.VmPTE).toBeGreaterThanOrEqual(4 * 4); // PUD, PMD, PTE tables and the THP's deposit
    const lines = t.procStatus().split('\n');
    expect(lines.slice(0, 3)).toEqual([`VmSize:\t${String(st.VmSize).padStart(8)} kB`, 'VmLck:\t       0 kB', 'VmPin:\t       0 kB']);
    expect(lines.map((l) => l.split(':')[0])).toEqual(['VmSize', 'VmLck', 'VmPin', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmPTE', 'HugetlbPages', '']);
  });
});
