// pin-user-pages-cases: the four cases of pin_user_pages.rst on latest, and
// on 5.6, where a pin was still a plain reference and GUP-fast left a
// long-term page in CMA.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('pin-user-pages-cases')!;

describe.each(BACKENDS)('pin-user-pages-cases (%s core)', (backend) => {
  it('latest: DIO and RDMA pin (+1024, maybe-pinned), the MR page leaves CMA, ODP holds nothing, FOLL_GET is +1', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({
      dioExtraRefs: 1024, dioMaybePinned: true, rdmaExtraRefs: 1024, rdmaMaybePinned: true, rdmaLeftCma: true,
      odpExtraRefs: 0, odpInvalidations: 1, getExtraRefs: 1, getMaybePinned: false, vmPinKb: 4,
    });
    expect(r.steps[1].lines[0]).toMatch(/took FOLL_PIN/);
    expect(r.steps[3].lines[1]).toMatch(/^the page left CMA first/);
    expect(r.steps[3].tables[2].rows).toContainEqual(['nr_foll_pin_acquired', '3']);
  });

  it('5.6: every reference is +1 and none is visible as a pin; the MR page stays in CMA', async () => {
    const r = await runScenario(sc, { kernel: '5.6', backend });
    expect(r.outcome.values).toEqual({
      dioExtraRefs: 1, dioMaybePinned: false, rdmaExtraRefs: 1, rdmaMaybePinned: false, rdmaLeftCma: false,
      odpExtraRefs: 0, odpInvalidations: 1, getExtraRefs: 1, getMaybePinned: false, vmPinKb: 4,
    });
    expect(r.steps[1].lines[0]).toMatch(/took FOLL_GET/);
    expect(r.steps[3].lines[1]).toMatch(/^the page stays in CMA/);
    expect(r.steps[3].tables[2].rows).toContainEqual(['nr_foll_pin_acquired', '(no such line before 5.7)']);
  });
});
