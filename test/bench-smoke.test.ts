// The benchmark suite's smoke run (npm run bench -- --smoke) as a test: every
// case with tiny sizes, once, on the Wasm core (debug build, bounds-checked)
// and the pure-TS core, which must agree on every result, every pfn and
// k.digest() after each step. No timing: CI checks correctness only.
import { describe, expect, it } from 'vitest';
import { MismatchError, runSmoke, verifyCase } from '../bench/suite';
import { allCases } from '../bench/cases';

describe('bench smoke', () => {
  it('runs every benchmark case once on both cores, and they agree', async () => {
    const res = await runSmoke({ wasm: 'debug' });
    expect(res.map((r) => r.id)).toEqual(allCases().map((c) => c.id));
    for (const r of res) {
      expect(r.steps[0]).toBe('setup');
      expect(r.steps.length).toBeGreaterThan(1);
    }
  });

  it('reports a disagreement between the cores', async () => {
    // A case whose operation depends on the backend must fail verification.
    const [base] = allCases();
    const broken = {
      ...base,
      id: 'broken',
      async create(backend: 'wasm' | 'ts', cfg: { smoke: boolean; wasm: 'release' | 'debug' }) {
        const inst = await base.create(backend, cfg);
        return {
          ...inst,
          once(mark: (step: string, result: unknown) => void) {
            if (backend === 'ts') { // one more page in use on one core only
              const t = inst.k.spawn();
              t.write(t.mmap({ length: 4096, prot: 3, flags: 0x22 }), 1);
            }
            inst.once(mark);
          },
        };
      },
    };
    await expect(verifyCase(broken, { smoke: true, wasm: 'debug' })).rejects.toBeInstanceOf(MismatchError);
  });
});
