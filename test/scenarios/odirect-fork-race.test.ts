// odirect-fork-race (S14): fork during an O_DIRECT read, then the parent
// writes the buffer page; 6.4 loses the read's data, latest keeps it.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('odirect-fork-race')!;

describe.each(BACKENDS)('odirect-fork-race (%s core)', (backend) => {
  it('covers every preset the scenario names', () => {
    expect(sc.presets).toEqual(['6.4', 'latest']);
  });

  it("6.4: FOLL_GET references, fork shares the page, the parent's write copies it away, the data goes to the child", async () => {
    const r = await runScenario(sc, { kernel: '6.4', backend });
    expect(r.outcome.values).toEqual({ kept: false, parentReads: "'B'", childReads: "'D'", parentMapsDmaPage: false });
    expect(r.steps[1].lines[0]).toMatch(/refcount 2, folio_maybe_dma_pinned\(\) = false$/);
    expect(r.steps[2].lines[0]).toMatch(/^fork\(\): the child maps the same pfn/);
  });

  it('latest: FOLL_PIN, fork copies the page for the child, the parent keeps the page being filled', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ kept: true, parentReads: "'D'", childReads: "'A'", parentMapsDmaPage: true });
    expect(r.steps[1].lines[0]).toMatch(/refcount 1025, folio_maybe_dma_pinned\(\) = true$/);
    expect(r.steps[2].lines[0]).toMatch(/^fork\(\): the page is maybe-pinned, so the child gets a copy/);
  });
});
