// The CI run of the differential fuzz (fuzz/): random op sequences in
// lockstep on the Wasm core and the pure-TS core, with the contents model
// and the pin and leak invariants checked after every op. The op families
// with known unfixed bugs (fuzz/known.ts) are left out here; `npm run fuzz`
// runs everything for as long as you like. Each run draws its kernel preset
// (fuzz/lockstep.ts KERNELS); a few runs per preset make sure each is met.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { CI_FAMILIES } from '../fuzz/known';
import { runArb, runLockstep } from '../fuzz/lockstep';
import { ALL_FAMILIES } from '../fuzz/ops';
import { formatFinding } from '../fuzz/print';
import { PRESETS, type KernelName } from '../src/index';

// PINSIM_FUZZ_RUNS=2000 for a longer run in vitest (or use npm run fuzz).
const RUNS = Number(process.env.PINSIM_FUZZ_RUNS ?? 60);
const PER_PRESET = Number(process.env.PINSIM_FUZZ_PRESET_RUNS ?? 8);

async function fuzz(families: typeof ALL_FAMILIES, runs: number, seed?: number, kernel?: KernelName): Promise<void> {
  const result = await fc.check(
    fc.asyncProperty(runArb(families, 80, kernel), async ([shape, ops]) => runLockstep(shape, ops, { pair: 'debug-ts', slowOpMs: 5_000 })),
    { numRuns: runs, seed },
  );
  if (result.failed) throw new Error(formatFinding(result, kernel));
}

describe('differential fuzz: Wasm core vs pure-TS core against the contents model', () => {
  it('agree on every result and state, match the model, keep pins balanced and leak nothing', { timeout: Math.max(300_000, RUNS * 1500) }, async () => {
    await fuzz(CI_FAMILIES, RUNS);
  });

  it.each(PRESETS)('on kernel %s too (a fixed seed)', { timeout: Math.max(180_000, PER_PRESET * 4000) }, async (kernel) => {
    await fuzz(CI_FAMILIES, PER_PRESET, 0x5eed + PRESETS.indexOf(kernel), kernel);
  });
});
