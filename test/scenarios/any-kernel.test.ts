// `pinsim scenario run <id> --kernel K` takes any preset or alias, not only
// the ones a scenario compares: these scenarios run to the end on every
// kernel name (on 5.5 with get_user_pages() where later kernels pin).
import { describe, expect, it } from 'vitest';
import { ALIASES, PRESETS } from '../../src/eras/presets';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const IDS = ['pin-user-pages-cases', 'vmsplice-cve-2020-29374', 'vmsplice-thp', 'vmsplice-hugetlb', 'ro-pin-stale', 'ro-pin-sole-owner',
  'writeback-shared-file', 'odirect-fork-race', 'fork-rdma-dontfork', 'longterm-cma', 'lru-batch-ref'];

describe.each(BACKENDS)('%s core', (backend) => {
  it.each(IDS)('%s runs on every kernel name', async (id) => {
    const sc = scenario(id)!;
    for (const kernel of [...PRESETS, ...ALIASES]) {
      const r = await runScenario(sc, { kernel, backend });
      expect(r.steps.map((s) => s.lines.length > 0), `${id} on ${kernel}`).toEqual(sc.steps.map(() => true));
    }
  });
});
