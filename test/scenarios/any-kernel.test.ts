// `pinsim scenario run <id> --kernel K` takes any preset or alias, not only
// the ones a scenario compares: every scenario runs to the end on every
// kernel name (on 5.5 with get_user_pages() where later kernels pin), but
// the three about the pin API itself, which refuse 5.5 and say why.
import { describe, expect, it } from 'vitest';
import { ALIASES, PRESETS } from '../../src/eras/presets';
import { SCENARIOS, ScenarioUnsupported, runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

// vfio-dma-entries makes 65,535 calls a run: its own test covers its preset.
const IDS = SCENARIOS.map((s) => s.id).filter((id) => id !== 'vfio-dma-entries');
const PIN_API_ONLY = ['pin-leak', 'get-unpin-misuse', 'pin-release-misuse'];

describe.each(BACKENDS)('%s core', (backend) => {
  it.each(IDS)('%s runs on every kernel name', async (id) => {
    const sc = scenario(id)!;
    for (const kernel of [...PRESETS, ...ALIASES]) {
      if (kernel === '5.5' && PIN_API_ONLY.includes(id)) {
        await expect(runScenario(sc, { kernel, backend })).rejects.toThrow(
          new ScenarioUnsupported(`${id} cannot run on kernel 5.5: it is about pin_user_pages*(), which came in 5.6 (eddb1c228f79)`));
        continue;
      }
      const r = await runScenario(sc, { kernel, backend });
      expect(r.steps.map((s) => s.lines.length > 0), `${id} on ${kernel}`).toEqual(sc.steps.map(() => true));
    }
  });
});
