// vfio-n-devices (kubevirt PR #17805): two containers each charge all of
// guest RAM to locked_vm; RAM + overhead fails the second, 2 × RAM passes.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('vfio-n-devices (%s core)', (backend) => {
  it('latest: ENOMEM for the second device under RAM + overhead; 2 × 8192 pages charged with the fix', async () => {
    const r = await runScenario(scenario('vfio-n-devices')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ firstDevice: null, secondDevice: 'ENOMEM', fixedErrors: 0, fixedLockedVm: 16384, fixedVmLckKiB: 65536, guestPages: 8192 });
    expect(r.steps[2].lines).toEqual(['device 02:00.0: VFIO_IOMMU_MAP_DMA(guest RAM, 32 MiB) = -ENOMEM']);
    expect(r.steps[2].dmesg).toEqual(['vfio_pin_pages_remote: RLIMIT_MEMLOCK (34603008) exceeded']);
    // The failed map undid itself: locked_vm is the first device's 8192.
    expect(r.steps[2].tables[0].rows[1]).toEqual(['mm.locked_vm (VmLck)', '8192']);
  });
});
