// odp-invalidate: an ODP MR pins nothing; fork, migration and munmap
// invalidate its device mapping, and the next access refaults the page
// the process maps now (or fails after munmap).
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('odp-invalidate (%s core)', (backend) => {
  it('latest: no pin, 3 invalidations, 4 faults; the peer reads the current page; munmap gives an error completion', async () => {
    const r = await runScenario(scenario('odp-invalidate')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ faults: 4, invalidations: 3, migrate: 0, lastRead: "'B'", afterMunmap: 'IBV_WC_REM_ACCESS_ERR', pinned: 0 });
    expect(r.steps[1].lines).toEqual([
      "RDMA READ: IBV_WC_SUCCESS, gets 'A' (device miss: faulted in through hmm_range_fault())",
      "RDMA READ: IBV_WC_SUCCESS, gets 'A' (device hit)",
    ]);
    expect(r.steps[1].tables[0].rows[0][1]).toBe('1'); // the NIC holds no reference on the page
    expect(r.steps[2].lines[1]).toBe("RDMA READ: IBV_WC_SUCCESS, gets 'B' (device miss: faulted in through hmm_range_fault())");
    expect(r.steps[3].lines[0]).toMatch(/^migrate_folio\(pfn \d+\) = 0: now pfn \d+$/);
  });
});
