// io-uring-memlock (liburing #365): nine unaligned 4 KiB buffers need 18
// pages of a 16-page limit, eight fit exactly, aligned ones charge 9; a
// 4 KiB buffer in a THP is charged 512 pages.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('io-uring-memlock (%s core)', (backend) => {
  it('latest: ENOMEM at 18 of 16 pages, 16 for eight, 9 aligned; 512 for a 4 KiB buffer in a THP', async () => {
    const r = await runScenario(scenario('io-uring-memlock')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({
      unalignedFailsAt: 18, unalignedMinUlimitKiB: 72, eightUnalignedCharged: 16, alignedCharged: 9,
      thpRequested: 512, thpCharged: 512, userLockedVm: 512, pinnedVm: 512,
    });
    expect(r.steps[1].lines[0]).toBe('io_uring_register_buffers(9 x 4 KiB) = -ENOMEM: user.locked_vm 16 + 2 > 16 pages; ulimit -l 72 would pass');
    expect(r.steps[3].lines).toEqual(['io_uring_register_buffers(4 KiB in a THP) = -ENOMEM: user.locked_vm 0 + 512 > 16 pages; ulimit -l 2048 would pass']);
  });
});
