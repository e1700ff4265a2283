// pin-release-misuse: put_page() of a pinned page makes the later, correct
// unpin free a mapped page (bad_page()); a second unpin is refused with a
// WARN; both explained by provenance.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('pin-release-misuse (%s core)', (backend) => {
  it('latest: Bad page state for page 0, a refused double unpin for page 1, two pinsim explanations', async () => {
    const r = await runScenario(scenario('pin-release-misuse')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ badPage: true, badPagesKiB: 4, doubleUnpinWarned: true, refcountAfterDouble: 1, explained: 2 });
    const [p0, p1] = r.steps[0].tables[0].rows.map((row) => row[0]);
    expect(r.steps[1].lines).toEqual([`put_page(pfn ${p0}): refcount 1024`, 'k.check(): records']);
    expect(r.steps[2].dmesg[0]).toBe(`BUG: Bad page state in process swapper/0  pfn:${Number(p0).toString(16).padStart(5, '0')}`);
    expect(r.steps[2].dmesg).toContain('page dumped because: nonzero mapcount');
    expect(r.steps[3].dmesg[0]).toMatch(new RegExp(`^pinsim: unpin_user_page\\(\\) of pfn ${p1}: double unpin: its pin from pin_user_pages_fast \\(pid 1 app, caller drv_map`));
  });
});
