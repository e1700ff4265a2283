// The benchmark suite's smoke run (npm run bench -- --smoke) as a test: every
// case with tiny sizes, once, on the Wasm core (debug build, bounds-checked)
// and the pure-TS core, which must agree on every result, every pfn and
// k.digest() after each step. No timing: CI checks correctness only.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

  // util-linux's script(1) gives the run a terminal; piped, stderr stays empty.
  it.runIf(existsSync('/usr/bin/script'))('shows progress on a terminal\'s stderr, none when piped', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const cmd = ['node', 'build/bench/run.js', '--smoke', '--only=4k/512'];
    const tty = execFileSync('/usr/bin/script', ['-qec', cmd.join(' '), '/dev/null'], { cwd: root, encoding: 'utf8' });
    expect(tty).toContain('\r\x1b[Kbench: cases done: 0/2 (0%)');
    expect(tty).toContain('\r\x1b[Kbench: cases done: 2/2 (100%)\r\x1b[K');
    const piped = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8' });
    expect(piped.stdout).toContain('smoke: 2 cases, Wasm and TS cores agree');
    expect(piped.stderr).toBe('');
  });
});
