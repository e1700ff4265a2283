// pin-user-pages-cases: the four cases of pin_user_pages.rst on latest, and
// on 5.6, where a pin was still a plain reference and GUP-fast left a
// long-term page in CMA.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('pin-user-pages-cases')!;
const same = { odpExtraRefs: 0, odpInvalidations: 1, getExtraRefs: 1, getMaybePinned: false, vmPinKb: 4 };

const rows = [
  // DIO and RDMA pin (+1024, maybe-pinned), the MR page leaves CMA, ODP holds nothing, FOLL_GET is +1.
  ['latest', { dioExtraRefs: 1024, dioMaybePinned: true, rdmaExtraRefs: 1024, rdmaMaybePinned: true, rdmaLeftCma: true, ...same },
    /took FOLL_PIN/, /^the page left CMA first/, '3'],
  // Every reference is +1 and none is visible as a pin; the MR page stays in CMA.
  ['5.6', { dioExtraRefs: 1, dioMaybePinned: false, rdmaExtraRefs: 1, rdmaMaybePinned: false, rdmaLeftCma: false, ...same },
    /took FOLL_GET/, /^the page stays in CMA/, '(no such line before 5.7)'],
] as const;

describe.each(BACKENDS)('pin-user-pages-cases (%s core)', (backend) => {
  it('covers every preset the scenario names', () => {
    expect(rows.map((r) => r[0])).toEqual(sc.presets);
  });

  it.each(rows)('%s', async (kernel, values, dio, rdma, acquired) => {
    const r = await runScenario(sc, { kernel, backend });
    expect(r.outcome.values).toEqual(values);
    expect(r.steps[1].lines[0]).toMatch(dio);
    expect(r.steps[3].lines[1]).toMatch(rdma);
    expect(r.steps[3].tables[2].rows).toContainEqual(['nr_foll_pin_acquired', acquired]);
  });
});
