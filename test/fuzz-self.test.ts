// The fuzz's own checks can fail: a machine whose contents or pins are
// tampered with behind the fuzz's back is reported.
import { describe, expect, it } from 'vitest';
import { C, PAGE } from './helpers';
import { Machine, FuzzFinding, type Shape } from '../fuzz/machine';

const SHAPE: Shape = { thp: 'never', movable: false, cma: false, pool: 3 };

describe('fuzz self-check', () => {
  it('the contents model catches a word that changed behind its back', async () => {
    const m = await Machine.boot('ts', 'debug', SHAPE);
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 4, prot: 2, populate: false });
    m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: true, word: 0x1234 });
    expect(m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: false, word: 0 })).toContain('4660');
    const t = m.k.tasks[0];
    m.k.dma_write(t.translate(t.maps()[0].start + PAGE)!, 0x999); // no pin the fuzz knows of
    expect(() => m.outcome({ op: 'access', task: 0, vma: 0, off: 1, write: false, word: 0 })).toThrow(FuzzFinding);
  });

  it('a DMA write through a FOLL_WRITE pin the fuzz holds is what the task reads', async () => {
    const m = await Machine.boot('wasm', 'debug', SHAPE);
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 4, prot: 2, populate: true });
    m.outcome({ op: 'gup', task: 0, vma: 0, off: 2, pages: 1, kind: 0 }); // pin_user_pages(FOLL_WRITE)
    m.outcome({ op: 'dma', held: 0, entry: 0, word: 0xd1a });
    expect(m.outcome({ op: 'access', task: 0, vma: 0, off: 2, write: false, word: 0 })).toContain(String(0xd1a));
    m.teardown();
  });

  it('the pin checks catch a pin the fuzz does not hold', async () => {
    const m = await Machine.boot('ts', 'debug', SHAPE);
    m.outcome({ op: 'mmap', task: 0, kind: 0, pages: 4, prot: 2, populate: true });
    const t = m.k.tasks[0];
    expect(m.k.pin_user_pages(t, t.maps()[0].start, 1, C.FOLL_WRITE, m.k.pageArray(1))).toBe(1);
    expect(() => m.checkPins()).toThrow(/pin balance/);
  });
});
