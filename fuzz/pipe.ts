// The pipe family: pipes in the fuzz tasks' fd tables, vmsplice of their
// memory into them (FOLL_GET references the ring holds), reads that drop
// the references, closes; with mmap/munmap/access/fork/exit between.
// Outcomes carry the bytes spliced and the words read, which the lockstep
// compares across cores; checkPins() counts the rings' references (pipeRefs()).
import * as C from '../assembly/constants';
import { PipeEnd, type Kernel, type Task } from '../src/index';
import type { Machine } from './machine';
import type { Op } from './ops';

export type PipeOp = Extract<Op, { op: 'pipeOpen' | 'pipeSplice' | 'pipeRead' | 'pipeClose' }>;

export function runPipeOp(m: Machine, t: Task, o: PipeOp): unknown {
  if (o.op === 'pipeOpen') return t.pipe();
  const ends = [...t.fds].filter(([, f]) => f instanceof PipeEnd);
  const fd = ends[o.pick % Math.max(1, ends.length)]?.[0];
  if (fd === undefined) return null;
  switch (o.op) {
    case 'pipeSplice': {
      const a = m.addr(t, o.vma, o.off) + o.byte;
      return t.vmsplice(fd, [{ base: a, len: Math.max(0, m.len(t, a, o.pages) - o.byte) }], o.gift ? C.SPLICE_F_GIFT : 0);
    }
    case 'pipeRead': return t.read_pipe(fd, o.len);
    case 'pipeClose': return t.close(fd);
  }
}

// The page references the live pipes' rings hold, each ring once.
export function pipeRefs(k: Kernel): number[] {
  const rings = new Set(k.devices().flatMap((d) => (d instanceof PipeEnd ? [d.inode] : [])));
  return [...rings].flatMap((r) => r.bufs.map((b) => b.pfn));
}
