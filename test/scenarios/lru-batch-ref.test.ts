// lru-batch-ref (J5, rule lruBatchRef on): a long-term pin of a fresh CMA
// page the LRU-add batch still holds: -ENOMEM on 5.18 (the retry after a
// drain succeeds), pinned in place in CMA on 5.10, migrated on latest.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('lru-batch-ref')!;

describe.each(BACKENDS)('lru-batch-ref (%s core)', (backend) => {
  it('covers every preset the scenario names, with the batch switched on', async () => {
    expect(sc.presets).toEqual(['5.18', '5.10', 'latest']);
    const r = await runScenario(sc, { kernel: '5.18', backend });
    expect(r.steps[0].lines[0]).toMatch(/\(CMA\): refcount 2, mapcount 1, not on the LRU yet$/);
  });

  it('5.18: the batch reference fails the migration, -ENOMEM; after lru_add_drain() the retry migrates and pins', async () => {
    const r = await runScenario(sc, { kernel: '5.18', backend });
    expect(r.outcome.values).toEqual({ firstPin: '-ENOMEM', retry: 1, pinnedInCma: false });
    expect(r.steps[1].lines).toEqual(['pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) = -ENOMEM (migration failed: pgmigrate_fail +1)', 'nothing is pinned']);
  });

  it('5.10: the migration fails and the page is pinned in place in CMA', async () => {
    const r = await runScenario(sc, { kernel: '5.10', backend });
    expect(r.outcome.values).toEqual({ firstPin: 1, retry: null, pinnedInCma: true });
    expect(r.steps[1].lines[1]).toMatch(/in Normal\/CMA, the page it was$/);
  });

  it('latest: GUP drains the batch first (98c6d259319e) and migrates', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ firstPin: 1, retry: null, pinnedInCma: false });
    expect(r.steps[1].lines[0]).toBe('pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) = 1');
  });
});
