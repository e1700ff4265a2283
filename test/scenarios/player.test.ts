// The scenario runner and player (src/scenarios/run.ts): runs are
// deterministic, seek/back replay from boot to the same state, every step's
// looks render, and each catalogue entry runs on every preset it names on
// both cores (their outcomes are asserted in the per-scenario tests).
import { describe, expect, it } from 'vitest';
import { SCENARIOS, ScenarioPlayer, runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe('the catalogue', () => {
  it('ids are unique kebab-case, every scenario names presets, references and steps', () => {
    expect(new Set(SCENARIOS.map((s) => s.id)).size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) {
      expect(s.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(s.presets.length).toBeGreaterThan(0);
      expect(s.refs.length).toBeGreaterThan(0);
      expect(s.steps.length).toBeGreaterThan(1);
      for (const st of s.steps) expect(st.narration).toMatch(/\S/);
    }
  });
});

describe.each(BACKENDS)('%s core', (backend) => {
  it.each(SCENARIOS.flatMap((s) => s.presets.map((p) => [s.id, p] as const)))('%s runs to the end on %s', async (id, kernel) => {
    const r = await runScenario(scenario(id)!, { kernel, backend });
    expect(r.steps).toHaveLength(scenario(id)!.steps.length);
    expect(r.outcome.summary).toMatch(/\S/);
    for (const s of r.steps) for (const t of s.tables) for (const row of t.rows) expect(row).toHaveLength(t.columns.length);
  });

  it('back and seek replay to the same state as stepping forward', async () => {
    const sc = scenario('fork-rdma')!;
    const p = await ScenarioPlayer.create(sc, { kernel: '5.8', backend });
    const forward = [];
    for (let r = p.step(); r; r = p.step()) forward.push(r);
    expect(p.done).toBe(true);
    expect(p.step()).toBeNull();
    const end = p.outcome();
    await p.back();
    expect(p.position).toBe(sc.steps.length - 1);
    expect(p.results).toEqual(forward.slice(0, -1));
    expect(p.step()).toEqual(forward.at(-1));
    expect(p.outcome()).toEqual(end);
    await p.reset();
    expect(p.position).toBe(0);
    await p.seek(2);
    expect(p.results).toEqual(forward.slice(0, 2));
    await expect(p.seek(sc.steps.length + 1)).rejects.toThrow(RangeError);
    await expect(p.seek(1.5)).rejects.toThrow(RangeError);
  });

  it('fork-rdma: the NIC and the parent part ways on 5.8, stay coherent on 5.10', async () => {
    const sc = scenario('fork-rdma')!;
    const bug = await runScenario(sc, { kernel: '5.8', backend });
    expect(bug.outcome.values).toEqual({ coherent: false, deviceReads: "'A'", parentReads: "'B'", childReads: "'C'" });
    expect(bug.steps[2].lines[0]).toMatch(/same frame/);
    const fix = await runScenario(sc, { kernel: '5.10', backend });
    expect(fix.outcome.values).toEqual({ coherent: true, deviceReads: "'B'", parentReads: "'C'", childReads: "'A'" });
    expect(fix.steps[2].lines[0]).toMatch(/copy of its own/);
  });
});
