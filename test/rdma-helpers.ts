// Shared by the RDMA tests: a shared ext4 mapping whose pages are cached,
// written and then written back (clean), for the dirtying checks.
import type { Kernel, Task } from '../src/index';
import { C, PAGE, RW } from './helpers';

export function cleanFileMapping(k: Kernel, t: Task, pages: number): number {
  const f = k.createFile({ fs: 'ext4', size: pages * PAGE });
  const a = t.mmap({ length: pages * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
  t.touch(a, pages * PAGE, { write: true });
  k.writeback(f);
  return a;
}
