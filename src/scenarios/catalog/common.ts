// Helpers the catalogue's scenarios share.
import * as C from '../../../assembly/constants';
import type { Task } from '../../task';
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
