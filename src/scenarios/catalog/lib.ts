// Small helpers the catalogue's scenarios share: named tasks and values of
// the context, anonymous buffers, the counters the memlock and pin stories
// look at, and a syscall's failure as a result line.
import * as C from '../../../assembly/constants';
import { SyscallError, errnoName } from '../../errors';
import type { Task } from '../../task';
import type { ScenarioCtx } from '../types';

export const RW = C.PROT_READ | C.PROT_WRITE;
export const KiB = 1024;

export const hex = (a: number): string => `0x${a.toString(16)}`;

// A kernel function's return value as the kernel's callers read it: "-14 (-EFAULT)".
export const ret = (r: number): string => (r < 0 ? `${r} (-${errnoName(-r)})` : String(r));

export function task(c: ScenarioCtx, name: string): Task {
  const t = c.tasks.get(name);
  if (!t) throw new RangeError(`no task '${name}' in this scenario`);
  return t;
}

// A value an earlier step stored in c.vars (the steps run in order).
export function v<T>(c: ScenarioCtx, key: string): T {
  if (!(key in c.vars)) throw new RangeError(`no value '${key}' in this scenario yet`);
  return c.vars[key] as T;
}

// Spawns a task and names it in the scenario.
export function spawn(c: ScenarioCtx, name: string, opts: Parameters<ScenarioCtx['k']['spawn']>[0] = {}): Task {
  const t = c.k.spawn({ name, ...opts });
  c.tasks.set(name, t);
  return t;
}

// `pages` private anonymous pages, written (so they are populated).
export function anonFilled(t: Task, pages: number, word = 0x41): number {
  const a = t.mmap({ length: pages * C.PAGE_SIZE, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  for (let i = 0; i < pages; i++) t.write(a + i * C.PAGE_SIZE, word);
  return a;
}

// Runs a syscall that the story expects may fail: its error as a result
// line ("ENOMEM: ..."), or null when it passed. Other errors propagate.
export function failure(fn: () => unknown): SyscallError | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof SyscallError) return e;
    throw e;
  }
}

// vmstat's pin counters.
export function pinCounters(c: ScenarioCtx): Record<string, number> {
  const s = c.k.vmstat();
  return { nr_foll_pin_acquired: s.nr_foll_pin_acquired, nr_foll_pin_released: s.nr_foll_pin_released };
}

// The three memlock counters of one task (pages), with its VmLck / VmPin and limit.
export function memlockCounters(c: ScenarioCtx, name: string): Record<string, number | string> {
  const t = task(c, name);
  const lim = t.getrlimit('RLIMIT_MEMLOCK').soft;
  return {
    'RLIMIT_MEMLOCK (pages)': lim === Infinity ? 'unlimited' : Math.floor(lim / C.PAGE_SIZE),
    'mm.locked_vm (VmLck)': t.mm.locked_vm,
    'mm.pinned_vm (VmPin)': t.mm.pinned_vm,
    'user.locked_vm': c.k.user(t.uid).locked_vm,
  };
}
