// The mlock and memlock families on one machine, and the memlock
// invariants checked after every op: per counter, the ledger's charges sum
// to the counter (live and exited tasks' mms, every user_struct), and a
// live mm's locked_vm is exactly its VM_LOCKED pages.
import * as C from '../assembly/constants';
import type { Task, Mm, Capability } from '../src/index';
import { fail, type Machine } from './machine';
import { MEMLOCK_LIMITS, type Op } from './ops';

const PAGE = C.PAGE_SIZE;
const UIDS = [0, 1000, 1001];
const CAPS: (Capability[] | undefined)[] = [undefined, [], ['CAP_IPC_LOCK'], ['CAP_SYS_RESOURCE']];

type MemlockOp = Extract<Op, { op: 'mlock' | 'munlock' | 'mlockall' | 'munlockall' | 'setrlimit' | 'spawnCred' | 'charge' }>;

export function runMemlockOp(m: Machine, t: Task, o: MemlockOp): unknown {
  switch (o.op) {
    case 'mlock': case 'munlock': {
      const a = m.addr(t, o.vma, o.off);
      const len = m.len(t, a, o.pages);
      if (o.op === 'munlock') return t.munlock(a, len);
      return o.onfault ? t.mlock2(a, len, C.MLOCK_ONFAULT) : t.mlock(a, len);
    }
    case 'mlockall': return t.mlockall(o.flags);
    case 'munlockall': return t.munlockall();
    case 'setrlimit': return t.setrlimit('RLIMIT_MEMLOCK', { soft: MEMLOCK_LIMITS[o.soft]!, hard: MEMLOCK_LIMITS[o.hard]! });
    case 'spawnCred': return m.spawn({ uid: UIDS[o.uid], caps: CAPS[o.caps], memlock: MEMLOCK_LIMITS[o.memlock] }).pid;
    case 'charge': return charge(m, t, o);
  }
}

// One accounting-helper call, on the task's mm or (dead < the number of
// exited tasks) on an exited task's mm, as a device releasing late would.
function charge(m: Machine, t: Task, o: Extract<Op, { op: 'charge' }>): number {
  const k = m.k;
  const d = m.dead[o.dead];
  const [mm, who] = d ? [d.mm, d.task] : [t.mm, t];
  switch (o.counter) {
    case 0: return k.__account_locked_vm(mm, o.pages, o.inc, who, !o.check, 'fuzz');
    case 1: return k.__account_pinned_vm(mm, o.pages, o.inc, who, o.check, 'fuzz');
    default: return k.__account_user_locked_vm(k.user(who.uid), o.pages, o.inc, who, { by: 'fuzz', errno: o.check ? 'ENOMEM' : 'ENOBUFS' });
  }
}

export function checkMemlock(m: Machine): void {
  const ledger = m.k.memlockLedger();
  const sum = (counter: string, pid: number) => ledger.reduce((n, c) => n + (c.counter === counter && c.pid === pid ? c.pages : 0), 0);
  const mms: [number, Mm][] = [...m.k.tasks.map((t): [number, Mm] => [t.pid, t.mm]), ...m.dead.map((d): [number, Mm] => [d.task.pid, d.mm])];
  for (const [pid, mm] of mms) {
    if (sum('mm.locked_vm', pid) !== mm.locked_vm) fail(`ledger: mm.locked_vm charges of pid ${pid} sum to ${sum('mm.locked_vm', pid)}, the counter is ${mm.locked_vm}`);
    if (sum('mm.pinned_vm', pid) !== mm.pinned_vm) fail(`ledger: mm.pinned_vm charges of pid ${pid} sum to ${sum('mm.pinned_vm', pid)}, the counter is ${mm.pinned_vm}`);
  }
  for (const t of m.k.tasks) {
    const locked = t.maps().reduce((n, v) => n + (v.flags & C.VM_LOCKED ? (v.end - v.start) / PAGE : 0), 0);
    if (locked !== t.mm.locked_vm - helperCharges(ledger, t.pid)) fail(`task ${t.pid}: ${locked} VM_LOCKED pages, locked_vm ${t.mm.locked_vm}`);
  }
  for (const uid of UIDS) {
    const charged = ledger.reduce((n, c) => n + (c.counter === 'user.locked_vm' && c.uid === uid ? c.pages : 0), 0);
    if (charged !== m.k.user(uid).locked_vm) fail(`ledger: user.locked_vm charges of uid ${uid} sum to ${charged}, the counter is ${m.k.user(uid).locked_vm}`);
  }
}

// locked_vm charged through __account_locked_vm() rather than by VM_LOCKED VMAs.
function helperCharges(ledger: ReturnType<Machine['k']['memlockLedger']>, pid: number): number {
  return ledger.reduce((n, c) => n + (c.counter === 'mm.locked_vm' && c.pid === pid && c.by !== 'mlock' ? c.pages : 0), 0);
}
