// Small helpers the catalogue's scenarios share: named tasks and values of
// the context, anonymous buffers, a driver's era-appropriate pin, the
// counters the memlock and pin stories look at, and a syscall's failure.
import * as C from '../../../assembly/constants';
import { SyscallError, errnoName } from '../../errors';
import type { Task } from '../../task';
import type { Kernel } from '../../devices/kernel';
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

// Scenario.requires of the scenarios about the pin API itself.
export const needsPinApi = (k: Kernel): string | null =>
  k.kr.pinApi ? null : 'it is about pin_user_pages*(), which came in 5.6 (eddb1c228f79)';

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

// How most scenarios begin: a named process with a private anonymous
// buffer, registered in the context under `key`; the buffer's address.
export function spawnWithBuffer(c: ScenarioCtx, key: string, comm: string, length: number, flags = 0): number {
  const t = c.k.spawn({ name: comm });
  c.tasks.set(key, t);
  return t.mmap({ length, prot: RW, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | flags });
}

const FLAGS: [number, string][] = [[C.FOLL_WRITE, 'FOLL_WRITE'], [C.FOLL_LONGTERM, 'FOLL_LONGTERM']];

// A driver's reference on one page the way its era took it:
// pin_user_pages*() from 5.6, get_user_pages*() before (5.5 had no pin
// API). The call's result, the page it holds, and the call as a line.
export function driverPin(c: ScenarioCtx, t: Task, addr: number, flags: number, fast = false): { n: number; pfn: number | null; line: string } {
  const k = c.k;
  const pages = k.pageArray(1);
  const pin = k.rules.pinApi.value;
  const n = fast ? (pin ? k.pin_user_pages_fast(t, addr, 1, flags, pages) : k.get_user_pages_fast(t, addr, 1, flags, pages))
    : pin ? k.pin_user_pages(t, addr, 1, flags, pages) : k.get_user_pages(t, addr, 1, flags, pages);
  const pfn = n === 1 ? pages.get(0) : null;
  pages.free();
  const names = FLAGS.filter(([f]) => flags & f).map(([, s]) => s).join(' | ') || '0';
  return { n, pfn, line: `${pin ? 'pin' : 'get'}_user_pages${fast ? '_fast' : ''}(${names}) = ${n < 0 ? `-${errnoName(-n)}` : n}` };
}
