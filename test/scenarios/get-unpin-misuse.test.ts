// get-unpin-misuse (open-gpu-kernel-modules #563): the driver's unpin of a
// FOLL_GET page is refused with a WARN and explained; put_page() balances.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('get-unpin-misuse (%s core)', (backend) => {
  it('latest: EFAULT for the long-term pin, a FOLL_GET fallback, the 1024 arithmetic refused and explained', async () => {
    const r = await runScenario(scenario('get-unpin-misuse')!, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ pinResult: -14, refcountHeld: 3, wouldBe: -1021, refcountAfterUnpin: 3, warned: true, violationsAfterPut: 0 });
    expect(r.steps[1].lines).toEqual(['pin_user_pages_fast(buf, 1, FOLL_WRITE | FOLL_LONGTERM) = -14 (-EFAULT)']);
    const pfn = r.steps[0].tables[0].rows[0][0];
    expect(r.steps[3].dmesg).toEqual([
      `pinsim: unpin_user_page() of pfn ${pfn}: taken with FOLL_GET by get_user_pages_fast (pid 1 cuda-app, caller nv_register_fallback, t=0ns), not pinned: the unpin takes _refcount 3 - GUP_PIN_COUNTING_BIAS = -1021 (underflow)`,
      'WARNING: CPU: 0 PID: 0 at mm/gup.c:gup_put_folio: unpinning a folio that holds no pin (pinsim leaves it untouched)',
    ]);
    expect(r.steps[4].lines).toEqual([`put_page(pfn ${pfn}): refcount 2`, 'k.check(): no violations']);
  });
});
