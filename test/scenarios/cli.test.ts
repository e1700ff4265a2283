// `pinsim scenario` as a user runs it (the built dist/cli.js).
import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../src/scenarios/index';
import { pinsim } from '../cli-run';

describe.concurrent('pinsim scenario', () => {
  it('list: one line per scenario with its presets; --json the same as data', async () => {
    const r = await pinsim('scenario', 'list');
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out).toHaveLength(SCENARIOS.length);
    expect(r.out.find((l) => l.startsWith('fork-rdma '))).toMatch(/\[5\.8 vs 5\.10\]$/);
    const j = JSON.parse((await pinsim('scenario', 'list', '--json')).out.join('\n'));
    expect(j.map((s: { id: string }) => s.id)).toEqual(SCENARIOS.map((s) => s.id));
  });

  it('run: narration, results, tables, the outcome on the first preset by default', async () => {
    const r = await pinsim('scenario', 'run', 'fork-rdma');
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out).toContain('kernel 5.8 (wasm core)');
    expect(r.out).toContain("1. The application fills a one-page buffer with 'A'.");
    expect(r.out.at(-1)).toMatch(/^outcome on 5\.8: silent data loss/);
  });

  it('--kernel picks the preset; --json gives the run as data', async () => {
    const r = await pinsim('scenario', 'run', 'fork-rdma', '--kernel', '6.1', '--json', '--backend', 'ts');
    const j = JSON.parse(r.out.join('\n'));
    expect(j).toMatchObject({ id: 'fork-rdma', kernel: '6.1', backend: 'ts', outcome: { values: { coherent: true } } });
    expect(j.steps[1].tables[1].columns).toEqual(['object', 'task', 'addr', 'pages', 'kind']);
  });

  it('--compare: two columns, differing lines marked *, equal ones |', async () => {
    const r = await pinsim('scenario', 'run', 'fork-rdma', '--compare', '5.8,5.10');
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out.slice(-2)).toEqual([
      "outcome on 5.8: silent data loss: the NIC read 'A', the parent reads 'B', the peer's 'C' went to a page only the MR sees",
      "outcome on 5.10: coherent: the NIC read 'B' and the parent reads the peer's 'C'",
    ]);
    expect(r.out.find((l) => l.startsWith('   > RDMA READ gets'))).toMatch(/'A' +\* +> RDMA READ gets 'B'/);
    expect(r.out.find((l) => l.startsWith('1. The application'))).toMatch(/ \| 1\. The application/);
    const j = JSON.parse((await pinsim('scenario', 'run', 'fork-rdma', '--compare', '5.8,5.10', '--json')).out.join('\n'));
    expect(j.runs.map((x: { outcome: { values: { coherent: boolean } } }) => x.outcome.values.coherent)).toEqual([false, true]);
  });

  it.each([
    [['scenario'], /a subcommand is needed/],
    [['scenario', 'run'], /needs a scenario id/],
    [['scenario', 'run', 'nope'], /no scenario 'nope'/],
    [['scenario', 'run', 'fork-rdma', '--kernel', '4.19'], /unknown kernel preset '4\.19'/],
    [['scenario', 'run', 'fork-rdma', '--compare', '5.8'], /--compare needs two presets/],
    [['scenario', 'run', 'fork-rdma', '--kernel', '5.8', '--compare', '5.8,5.10'], /exclude each other/],
    [['scenario', 'run', 'fork-rdma', '--backend', 'gpu'], /--backend must be wasm or ts/],
    [['scenario', 'list', 'x'], /takes no argument/],
    [['scenario', 'run', 'pin-leak', '--kernel', '5.5'], /pin-leak cannot run on kernel 5\.5: it is about pin_user_pages/],
    [['scenario', '--bogus'], /Unknown option/],
  ])('bad usage %j: exit 2 and says why', async (args, why) => {
    const r = await pinsim(...args);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err.join('\n')).toMatch(why);
  });
});
