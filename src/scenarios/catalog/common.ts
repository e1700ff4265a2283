// Helpers the catalogue's scenarios share.
import * as C from '../../../assembly/constants';
import type { Task } from '../../task';
import { errnoName } from '../../errors';
import type { ScenarioCtx } from '../types';

// How most scenarios begin: a named process with a private anonymous
// buffer, registered in the context under `key`; the buffer's address.
export function spawnWithBuffer(c: ScenarioCtx, key: string, comm: string, length: number, flags = 0): number {
  const t = c.k.spawn({ name: comm });
  c.tasks.set(key, t);
  return t.mmap({ length, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | flags });
}

// A task the steps registered (they run in order, so it is there).
export const task = (c: ScenarioCtx, key: string): Task => c.tasks.get(key)!;

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
