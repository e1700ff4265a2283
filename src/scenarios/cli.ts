// `pinsim scenario list` and `pinsim scenario run <id>`: the catalogue, one
// run as narration + tables + outcome, or two presets side by side.
import { parseArgs } from 'node:util';
import { usageError } from '../usage';
import { PRESETS, ALIASES, type KernelName } from '../eras/presets';
import { SCENARIOS, scenario, runScenario, ScenarioUnsupported } from './index';
import { formatCompare, formatRun } from './format';

export const SCENARIO_USAGE = `usage: pinsim scenario list [--json]
       pinsim scenario run <id> [--kernel <preset>] [--compare <a>,<b>] [--backend wasm|ts] [--json]
Replays a real-world pinning report on a simulated machine, step by step.
  list                the scenarios, with the presets each compares
  run <id>            narration, the state each step looks at, and the outcome
  --kernel K          the preset (default: the scenario's first): ${[...PRESETS, ...ALIASES].join(', ')}
  --compare A,B       two presets side by side; '*' marks the lines that differ
  --backend wasm|ts   the core (default wasm)
  --json              machine-readable output
  -h, --help          this text
exit status: 0, 1 when a scenario fails to run, 2 on bad usage`;

const OPTIONS = {
  kernel: { type: 'string' }, compare: { type: 'string' }, backend: { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const KERNELS: readonly string[] = [...PRESETS, ...ALIASES];

export async function scenarioMain(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const usage = (what: string): 2 => {
    for (const line of usageError('scenario', what)) err(line);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(SCENARIO_USAGE);
    return 0;
  }
  const [sub, id, ...extra] = positionals;
  if (sub === 'list') {
    if (id !== undefined) return usage(`'list' takes no argument, got '${id}'`);
    if (values.json) {
      out(JSON.stringify(SCENARIOS.map((s) => ({ id: s.id, title: s.title, presets: s.presets, refs: s.refs })), null, 2));
    } else {
      const w = Math.max(...SCENARIOS.map((s) => s.id.length));
      for (const s of SCENARIOS) out(`${s.id.padEnd(w)}  ${s.title}  [${s.presets.join(' vs ')}]`);
    }
    return 0;
  }
  if (sub !== 'run') return usage(sub === undefined ? 'a subcommand is needed: list or run' : `unknown subcommand '${sub}'`);
  if (id === undefined) return usage('run needs a scenario id (pinsim scenario list)');
  if (extra.length) return usage(`unexpected argument '${extra[0]}'`);
  const sc = scenario(id);
  if (!sc) return usage(`no scenario '${id}' (pinsim scenario list)`);
  const backend = values.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') return usage(`--backend must be wasm or ts, got '${backend}'`);
  if (values.kernel !== undefined && values.compare !== undefined) return usage('--kernel and --compare exclude each other');
  const kernels = values.compare !== undefined ? values.compare.split(',') : [values.kernel ?? sc.presets[0]];
  if (values.compare !== undefined && kernels.length !== 2) return usage(`--compare needs two presets, like 5.8,5.10; got '${values.compare}'`);
  const bad = kernels.find((k) => !KERNELS.includes(k));
  if (bad !== undefined) return usage(`unknown kernel preset '${bad}' (one of ${KERNELS.join(', ')})`);
  try {
    const runs = [];
    for (const kernel of kernels) runs.push(await runScenario(sc, { kernel: kernel as KernelName, backend }));
    if (values.json) out(JSON.stringify(runs.length === 1 ? runs[0] : { id: sc.id, runs }, null, 2));
    else for (const line of runs.length === 1 ? formatRun(sc, runs[0]) : formatCompare(sc, runs[0], runs[1])) out(line);
    return 0;
  } catch (e) {
    if (e instanceof ScenarioUnsupported) return usage(e.message);
    err(`pinsim scenario: ${sc.id} failed on ${kernels.join(', ')}: ${(e as Error).stack ?? e}`);
    return 1;
  }
}
