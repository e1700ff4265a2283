// The machine's RLIMIT_MEMLOCK side: user_structs, the accounting helpers
// kernel code (the device models) charges through, with mm/util.c's
// semantics, and the memlock ledger. Helpers return 0 or -errno as the
// kernel does; JS misuse throws TypeError/RangeError.
import * as C from '../../assembly/constants';
import { KernelBase } from '../kernel';
import { checkInt, checkBool, type MemlockDetail } from '../errors';
import { UserStruct, checkUid } from '../cred';
import { Task } from '../task';
import { Mm } from './mm';
import { MemlockLedger, overLimit, showRlim, type MemlockCharge, type MemlockCounter } from './memlock';

const PAGE = C.PAGE_SIZE;

export class AccountingKernel extends KernelBase {
  #users = new Map<number, UserStruct>();
  #ledger = new MemlockLedger();
  #device: string | undefined; // the device model whose code is running (asDevice())

  // The user_struct of a real uid (alloc_uid()): one per uid per machine.
  user(uid: number): UserStruct {
    const id = checkUid(uid);
    let u = this.#users.get(id);
    if (!u) this.#users.set(id, (u = new UserStruct(id)));
    return u;
  }

  // account_locked_vm(): for the mm's own task (current), which bypasses
  // the limit with CAP_IPC_LOCK. Nothing to do for 0 pages or a NULL mm.
  account_locked_vm(mm: Mm | null, pages: number, inc: boolean, by = 'account_locked_vm'): number {
    if (mm === null || checkInt('pages', pages) === 0) return 0;
    const t = this.#ownerOf(this.#mm(mm));
    return this.__account_locked_vm(mm, pages, inc, t, t.capable('CAP_IPC_LOCK'), by);
  }

  // __account_locked_vm(): 0 or -ENOMEM (nothing changed) when an increment
  // would take locked_vm over task's limit; a decrement below zero WARNs and
  // subtracts anyway. dmesg gets the pr_debug line.
  __account_locked_vm(mm: Mm, pages: number, inc: boolean, task: Task, bypass_rlim: boolean, by = '__account_locked_vm'): number {
    const d = this.chargeLockedVm(this.#mm(mm), checkPages(pages), checkBool('inc', inc), this.#task(task),
      checkBool('bypass_rlim', bypass_rlim), checkBy(by));
    return d ? -C.ENOMEM : 0;
  }

  // mm->pinned_vm, as RDMA's ib_umem_get() charges it (check_rlim: add,
  // then over the limit without CAP_IPC_LOCK take it back, -ENOMEM) or
  // io_uring and iommufd do (no check). Decrements are plain subtractions.
  __account_pinned_vm(mm: Mm, pages: number, inc: boolean, task: Task, check_rlim: boolean, by = 'pinned_vm'): number {
    const d = this.chargePinnedVm(this.#mm(mm), checkPages(pages), checkBool('inc', inc), this.#task(task),
      checkBool('check_rlim', check_rlim), checkBy(by));
    return d ? -C.ENOMEM : 0;
  }

  // user->locked_vm with the per-UID pattern (io_uring's __io_account_mem(),
  // AF_XDP, MSG_ZEROCOPY, iommufd USER mode): checked against task's own
  // limit, "new total > limit" fails with -ENOMEM (-ENOBUFS for the network
  // users). Callers skip it themselves for CAP_IPC_LOCK where they do.
  __account_user_locked_vm(user: UserStruct, pages: number, inc: boolean, task: Task,
    opts: { by?: string; errno?: 'ENOMEM' | 'ENOBUFS' } = {}): number {
    if (!(user instanceof UserStruct) || this.#users.get(user.uid) !== user) throw new TypeError('user: not a user_struct of this machine (use kernel.user(uid))');
    if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
    if (opts.errno !== undefined && opts.errno !== 'ENOMEM' && opts.errno !== 'ENOBUFS') throw new RangeError("errno must be 'ENOMEM' or 'ENOBUFS'");
    const d = this.chargeUserLockedVm(user, checkPages(pages), checkBool('inc', inc), this.#task(task), checkBy(opts.by ?? 'user_locked_vm'));
    if (!d) return 0;
    return opts.errno === 'ENOBUFS' ? -C.ENOBUFS : -C.ENOMEM;
  }

  /** @internal The locked_vm charge; the failed check's detail, or null. */
  chargeLockedVm(mm: Mm, n: number, inc: boolean, task: Task, bypass: boolean, by: string): MemlockDetail | null {
    const rlim = task.memlockBytes();
    const old = mm.locked_vm;
    const d = inc && !bypass ? overLimit('mm.locked_vm', old, n, rlim) : null;
    if (!inc && n > old) this.warnOnce('mm/util.c:__account_locked_vm', 'pages > mm->locked_vm', task.pid);
    if (!d) this.#charge(mm, 'mm.locked_vm', mm.owner.pid, mm.owner.uid, by, inc ? n : -n);
    this.printk(`__account_locked_vm: [${task.pid}] caller ${by} ${inc ? '+' : '-'}${n * PAGE} ${old * PAGE}/${showRlim(rlim)}${d ? ' - exceeded' : ''}`);
    return d;
  }

  /** @internal The pinned_vm charge; the failed check's detail, or null. */
  chargePinnedVm(mm: Mm, n: number, inc: boolean, task: Task, check: boolean, by: string): MemlockDetail | null {
    if (!inc) {
      this.#charge(mm, 'mm.pinned_vm', mm.owner.pid, mm.owner.uid, by, -n);
      return null;
    }
    const d = check && !task.capable('CAP_IPC_LOCK') ? overLimit('mm.pinned_vm', mm.pinned_vm, n, task.memlockBytes()) : null;
    if (!d) this.#charge(mm, 'mm.pinned_vm', mm.owner.pid, mm.owner.uid, by, n);
    return d;
  }

  /** @internal The user->locked_vm charge; the failed check's detail, or null. */
  chargeUserLockedVm(user: UserStruct, n: number, inc: boolean, task: Task, by: string): MemlockDetail | null {
    const d = inc ? overLimit('user.locked_vm', user.locked_vm, n, task.memlockBytes()) : null;
    if (!d) this.#charge(user, 'user.locked_vm', task.pid, task.uid, by, inc ? n : -n);
    return d;
  }

  // Every live memlock charge: VM_LOCKED VMAs of live tasks ('mlock') and
  // the helpers' charges, including those on mms whose task has exited.
  // Per counter, the pages sum to the counters exactly.
  memlockLedger(): MemlockCharge[] {
    const out: MemlockCharge[] = [];
    for (const t of this.tasks) {
      for (const v of t.mm.vmas) {
        if (!(v.flags & C.VM_LOCKED)) continue;
        out.push({ counter: 'mm.locked_vm', pages: v.pages, pid: t.pid, uid: t.uid, by: 'mlock', range: { start: v.start, end: v.end } });
      }
    }
    return out.concat(this.#ledger.entries());
  }

  #charge(target: Mm | UserStruct, counter: MemlockCounter, pid: number, uid: number, by: string, delta: number): void {
    if (counter === 'mm.locked_vm') (target as Mm).locked_vm += delta;
    else if (counter === 'mm.pinned_vm') (target as Mm).pinned_vm += delta;
    else (target as UserStruct).locked_vm += delta;
    this.#ledger.record(target, counter, pid, uid, by, delta, this.#device);
  }

  // Runs fn as device `name`: the charges it makes are the device's in the ledger.
  /** @internal */
  asDevice<T>(name: string, fn: () => T): T {
    const prev = this.#device;
    this.#device = name;
    try {
      return fn();
    } finally {
      this.#device = prev;
    }
  }

  #mm(mm: unknown): Mm {
    if (!(mm instanceof Mm) || mm.host !== this) throw new TypeError('mm: not an mm of this machine');
    return mm;
  }

  #task(t: unknown): Task {
    if (!(t instanceof Task) || (t.kernel as unknown) !== this) throw new TypeError('task: not a task of this machine');
    return t;
  }

  // mm->owner, kept after the task exited (the device still holds the mm).
  #ownerOf(mm: Mm): Task {
    if (!(mm.owner instanceof Task)) throw new TypeError('account_locked_vm: the mm has no task (pass one to __account_locked_vm)');
    return mm.owner;
  }
}

function checkBy(by: unknown): string {
  if (typeof by !== 'string') throw new TypeError(`by must be a string, got ${typeof by}`);
  return by;
}

function checkPages(pages: unknown): number {
  const n = checkInt('pages', pages);
  if (n < 0) throw new RangeError(`pages must not be negative, got ${n}`);
  return n;
}
