// The README's fork + RDMA replay (examples/replay-fork-rdma.ts): broken on
// 5.8, coherent on 5.10, on both cores; the lines it prints.
import { describe, expect, it } from 'vitest';
import { replayForkRdma } from '../examples/replay-fork-rdma';
import { BACKENDS, bootTest } from './helpers';

describe.each(BACKENDS)('example fork + RDMA replay (%s core)', (backend) => {
  it('5.8: the parent reads B, the NIC A, the child C; 5.10: the parent reads C, the NIC B, the child A', async () => {
    const old = replayForkRdma(await bootTest(backend, { kernel: '5.8', thp: 'never' }));
    expect([old.parentReads, old.deviceReads, old.childReads]).toEqual([0x42, 0x41, 0x43]);
    expect(old.lines[0]).toBe("kernel 5.8: fork copies maybe-pinned pages: 'none' (pinned pages shared at fork before 5.9)");
    expect(old.lines.at(-1)).toContain('silent corruption');
    const fixed = replayForkRdma(await bootTest(backend, { kernel: '5.10', thp: 'never' }));
    expect([fixed.parentReads, fixed.deviceReads, fixed.childReads]).toEqual([0x43, 0x42, 0x41]);
    expect(fixed.lines[0]).toContain("'pte+thp' (mm: Do early cow for pinned pages during fork() for ptes)");
    expect(fixed.lines[2]).toContain('its own copy');
    expect(fixed.lines.at(-1)).toContain('coherent');
    expect(old.lines.length).toBe(fixed.lines.length);
  });
});
