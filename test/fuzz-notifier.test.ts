// The fuzz's 'notifier' family (fuzz/notifier.ts): an op's outcome, which
// the lockstep runner compares between the cores, carries the invalidation
// log of that op, and hmm_range_fault runs through the subscriptions.
import { describe, expect, it } from 'vitest';
import { Machine } from '../fuzz/machine';
import type { Op } from '../fuzz/ops';
import { C } from './helpers';

describe('fuzz family notifier', () => {
  it('outcomes carry the events, ranges and seqs the callbacks heard, identically on both cores', async () => {
    const ops: Op[] = [
      { op: 'mmap', task: 0, kind: 0, pages: 8, prot: 2, populate: true },
      { op: 'notifierInsert', task: 0, vma: 0, off: 0, pages: 8 },
      { op: 'fork', task: 0 },
      { op: 'hmm', task: 0, pick: 0, vma: 0, off: 2, pages: 2, req: 2 },
      { op: 'dontneed', task: 0, vma: 0, off: 5, pages: 1 },
      { op: 'notifierRemove', pick: 0 },
      { op: 'dontneed', task: 0, vma: 0, off: 6, pages: 1 },
    ];
    const run = async (backend: 'wasm' | 'ts') => {
      const m = await Machine.boot(backend, 'debug', { thp: 'never', movable: false, cma: false, pool: 3 });
      return ops.map((o) => JSON.parse(m.outcome(o)) as { value?: unknown; log?: string[] });
    };
    const [w, t] = await Promise.all([run('wasm'), run('ts')]);
    expect(w).toEqual(t);
    const events = (i: number) => (w[i].log ?? []).map((l) => Number(l.split(' ')[1]));
    expect(events(2)).toEqual([C.MMU_NOTIFY_PROTECTION_PAGE]);
    expect(events(3)).toEqual([C.MMU_NOTIFY_CLEAR, C.MMU_NOTIFY_CLEAR]); // two COW copies
    expect(w[3].value).toMatchObject({ ret: 0 });
    expect(events(4)).toEqual([C.MMU_NOTIFY_CLEAR]);
    expect(w[6].log).toBeUndefined(); // removed
  });
});
