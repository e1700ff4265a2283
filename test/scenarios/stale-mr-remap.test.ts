// stale-mr-remap: after munmap + mmap at the same address a pinned MR
// keeps the old frames (the peer reads 'A', its write is lost to the
// process); an ODP MR is invalidated and refaults the new pages.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('stale-mr-remap (%s core)', (backend) => {
  it('latest: the pinned MR is stale, the ODP MR follows the new mapping', async () => {
    const r = await runScenario(scenario('stale-mr-remap')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ pinnedNicRead: "'A'", pinnedCpuAfterWrite: "'B'", odpNicRead: "'D'", odpCpuAfterWrite: "'C'", odpInvalidations: 1 });
    expect(r.steps[2].lines[0]).toMatch(/\(the same address\), written 'B'$/);
    // The MR's frame is orphaned (no mapping) but pinned, and takes the peer's write.
    const held = r.steps[3].tables[1].rows[0];
    expect([held[2], held[4], held[7]]).toEqual(['0', 'yes', "'C'"]);
    expect(r.steps[5].lines.slice(1)).toEqual(["RDMA READ: IBV_WC_SUCCESS, gets 'D' (the NIC faulted the page in)", "RDMA WRITE 'C': IBV_WC_SUCCESS; the CPU reads 'C'"]);
  });
});
