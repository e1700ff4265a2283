// vfio-dma-entries: 65,535 single-page MAP_DMA calls fill a container's
// dma_entry_limit, the next is ENOSPC; one mapping over the same 256 MiB
// is one entry.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { formatStep } from '../../src/scenarios/format';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('vfio-dma-entries (%s core)', (backend) => {
  it('latest: ENOSPC at the 65,536th mapping; one mapping afterwards', async () => {
    const r = await runScenario(scenario('vfio-dma-entries')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ mapped: 65535, error: 'ENOSPC', finalEntries: 1, lockedVm: 65536 });
    expect(r.steps[1].lines).toEqual(['65535 MAP_DMA calls succeed', 'MAP_DMA #65536 = -ENOSPC (VFIO_IOMMU_MAP_DMA: dma_entry_limit: 65535 mappings exist)']);
    expect(r.steps[1].tables[0].rows).toEqual([['DMA mappings', '65535'], ['dma_avail', '0'], ['mm.locked_vm (pages)', '65535']]);
    // The text keeps 7 of the step's 65,535 pr_debug lines and counts the rest.
    const text = formatStep(r.steps[1]).filter((l) => l.includes('dmesg:'));
    expect(text).toHaveLength(8);
    expect(text[7]).toBe('   dmesg: ... 65528 more lines');
  }, 60_000);
});
