// memlock-three-counters: mlock, an RDMA MR and io_uring each fill their
// own counter to a 16-page limit (48 pages in all), and each next page is
// refused by that charger's own counter.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('memlock-three-counters (%s core)', (backend) => {
  it('latest: 16 + 16 + 16 pages under a 16-page limit; then ENOMEM from each counter', async () => {
    const r = await runScenario(scenario('memlock-three-counters')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({
      limitPages: 16, lockedVm: 16, pinnedVm: 32, userLockedVm: 16, distinctPages: 48,
      mlockMore: 'ENOMEM', rdmaMore: 'ENOMEM', ioUringMore: 'ENOMEM',
    });
    expect(r.steps[4].lines).toEqual([
      'mlock: -ENOMEM (mm.locked_vm 16 + 1 > 16)',
      'ibv_reg_mr: -ENOMEM (mm.pinned_vm 32 + 1 > 16)',
      'io_uring_register_buffers: -ENOMEM (user.locked_vm 16 + 1 > 16)',
    ]);
    expect(r.steps[3].tables[1].rows).toEqual([
      ['mm.locked_vm by mlock', '16'], ['mm.pinned_vm by ib_umem_get', '16'], ['user.locked_vm by io_uring', '16'], ['mm.pinned_vm by io_uring', '16'],
    ]);
  });
});
