// longterm-cma (S7): a long-term GUP-fast pin of a CMA page, then
// cma_alloc() of the area: -EBUSY on 5.5, success on 5.8.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('longterm-cma')!;

describe.each(BACKENDS)('longterm-cma (%s core)', (backend) => {
  it('covers every preset the scenario names', () => {
    expect(sc.presets).toEqual(['5.5', '5.8']);
  });

  it('5.5: get_user_pages_fast() pins the page in CMA; cma_alloc() is -EBUSY and says so in dmesg', async () => {
    const r = await runScenario(sc, { kernel: '5.5', backend });
    expect(r.outcome.values).toEqual({ pinnedInCma: true, cmaAlloc: '-EBUSY' });
    expect(r.steps[1].lines[1]).toMatch(/^pinned in place in CMA/);
    expect(r.steps[2].dmesg.join('\n')).toMatch(/cma_alloc: reserved: alloc failed, req-size: 8192 pages, ret: -16/);
    expect(r.steps[3].lines[0]).toMatch(/^page 0: 'a'/);
  });

  it('5.8: pin_user_pages_fast() migrates the page out first; cma_alloc() gets the whole area', async () => {
    const r = await runScenario(sc, { kernel: '5.8', backend });
    expect(r.outcome.values).toEqual({ pinnedInCma: false, cmaAlloc: 'success' });
    expect(r.steps[1].lines[1]).toMatch(/^migrated out of CMA first/);
    expect(r.steps[2].tables[0].rows).toContainEqual(['CmaFree', '0 kB']);
  });
});
