// The harness: for each case, build the Wasm and the pure-TS machine, check
// that they agree (setup result and digest, then each step of one run of the
// operation with the digest after it), and only then time them with
// tinybench. runCases() is the full run, runSmoke() the correctness-only
// path (tiny sizes, no timing) that test/bench-smoke.test.ts calls. No
// Node-only API here: bench/page.ts runs this file in a browser.
import { Bench } from 'tinybench';
import type { WasmSource } from '../src/index';
import { allCases, type Backend, type CaseDef, type Instance, type SuiteConfig, type Unit } from './cases';
import { fmt } from './util';

export interface Measurement {
  value: number; // in the row's unit
  rme: number; // relative margin of error of the mean, % (95% CI)
  samples: number;
}

export interface Row {
  key: string; // `${case}:${metric}`, the baseline key
  case: string;
  metric: string;
  unit: Unit;
  title: string;
  what: string;
  ref?: string;
  wasm: Measurement;
  ts: Measurement;
}

export interface Pair {
  wasm: Instance;
  ts: Instance;
  steps: string[];
}

export class MismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MismatchError';
  }
}

interface Mark {
  step: string;
  result: string;
  digest: unknown;
}

function show(s: string): string {
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

function compareMarks(id: string, w: Mark, t: Mark): void {
  if (w.step !== t.step) throw new MismatchError(`${id}: steps differ: wasm '${w.step}', ts '${t.step}'`);
  if (w.result !== t.result) {
    throw new MismatchError(`${id}, after ${w.step}: results differ\n  wasm: ${show(w.result)}\n  ts:   ${show(t.result)}`);
  }
  if (w.digest !== t.digest) {
    throw new MismatchError(`${id}, after ${w.step}: k.digest() differs: wasm ${String(w.digest)}, ts ${String(t.digest)}`);
  }
}

function runOnce(inst: Instance): Mark[] {
  const marks: Mark[] = [{ step: 'setup', result: JSON.stringify(inst.setup), digest: inst.k.digest() }];
  inst.once((step, result) => marks.push({ step, result: JSON.stringify(result), digest: inst.k.digest() }));
  return marks;
}

// Builds both machines for a case and checks that they agree. Throws
// MismatchError on the first difference.
export async function verifyCase(c: CaseDef, cfg: SuiteConfig): Promise<Pair> {
  const wasm = await c.create('wasm', cfg);
  const ts = await c.create('ts', cfg);
  const mw = runOnce(wasm);
  const mt = runOnce(ts);
  if (mw.length !== mt.length) throw new MismatchError(`${c.id}: ${mw.length} steps on wasm, ${mt.length} on ts`);
  for (let i = 0; i < mw.length; i++) compareMarks(c.id, mw[i], mt[i]);
  return { wasm, ts, steps: mw.map((m) => m.step) };
}

function derive(unit: Unit, meanMs: number, per: number): number {
  switch (unit) {
    case 'ns/page':
    case 'ns/frame':
      return (meanMs * 1e6) / per;
    case 'ms/op':
      return meanMs / per;
    case 'ops/s':
      return per / (meanMs / 1000);
  }
}

// Times every metric of a case on both cores, in one tinybench run with the
// case's budget. Tasks are interleaved (wasm, ts, wasm, ts …) so that drift
// in machine load hits both cores alike.
export function timeCase(c: CaseDef, pair: Pair): Row[] {
  const bench = new Bench({
    name: c.id,
    time: c.budget.time,
    iterations: c.budget.iterations,
    warmupTime: c.budget.warmupTime,
    warmupIterations: c.budget.warmupIterations,
    throws: true,
  });
  const backends: Backend[] = ['wasm', 'ts'];
  for (const m of c.metrics) {
    for (const b of backends) {
      const t = pair[b].timed[m.id];
      if (!t) throw new Error(`${c.id}: no timed function for metric ${m.id}`);
      // async: false, or tinybench calls fn once at add() (outside the
      // hooks) to find out whether it returns a promise.
      bench.add(`${m.id}:${b}`, t.fn, { async: false, beforeEach: t.beforeEach, afterEach: t.afterEach });
    }
  }
  bench.runSync();
  for (const b of backends) pair[b].check();
  return c.metrics.map((m) => {
    const meas = (b: Backend): Measurement => {
      const task = bench.getTask(`${m.id}:${b}`)!;
      const r = task.result;
      if (r.state !== 'completed') {
        throw new Error(`${c.id}:${m.id}:${b}: tinybench state ${r.state}${r.state === 'errored' ? `: ${r.error.message}` : ''}`);
      }
      return { value: derive(m.unit, r.latency.mean, pair[b].timed[m.id].per), rme: r.latency.rme, samples: r.latency.samplesCount };
    };
    return {
      key: `${c.id}:${m.id}`, case: c.id, metric: m.id, unit: m.unit, title: c.title, what: m.what, ref: m.ref,
      wasm: meas('wasm'), ts: meas('ts'),
    };
  });
}

export function selectCases(only?: string[]): CaseDef[] {
  const cases = allCases();
  if (!only || only.length === 0) return cases;
  const picked = cases.filter((c) => only.some((o) => c.id === o || c.id.startsWith(`${o}/`) || c.id.includes(o)));
  if (picked.length === 0) throw new Error(`no case matches ${only.join(', ')}; cases: ${cases.map((c) => c.id).join(' ')}`);
  return picked;
}

export interface RunOptions {
  wasm?: WasmSource; // default 'release'; a URL in browsers (bench/page.ts)
  only?: string[];
  log?: (line: string) => void;
}

// The full run: each selected case verified, then timed, one log line per
// case. Throws MismatchError on the first disagreement.
export async function runCases(opts: RunOptions = {}): Promise<{ rows: Row[]; notes: string[] }> {
  const cfg: SuiteConfig = { smoke: false, wasm: opts.wasm ?? 'release' };
  const rows: Row[] = [];
  const notes = new Set<string>();
  for (const c of selectCases(opts.only)) {
    const t1 = performance.now();
    const pair = await verifyCase(c, cfg);
    const t2 = performance.now();
    const got = timeCase(c, pair);
    rows.push(...got);
    for (const n of [pair.wasm.note, pair.ts.note]) if (n) notes.add(n);
    const summary = got.map((r) => `${r.metric} ${fmt(r.wasm.value)} / ${fmt(r.ts.value)} ${r.unit}`).join(', ');
    opts.log?.(`  ${c.id.padEnd(16)} verified (${pair.steps.join(' → ')}) in ${((t2 - t1) / 1000).toFixed(1)} s, `
      + `timed in ${((performance.now() - t2) / 1000).toFixed(1)} s: wasm/ts ${summary}`);
  }
  return { rows, notes: [...notes] };
}

export interface SmokeResult { id: string; steps: string[]; notes: string[] }

// Correctness only: every case once, tiny sizes, both cores must agree.
// Returns the verified steps per case; throws MismatchError otherwise.
export async function runSmoke(opts: RunOptions = {}): Promise<SmokeResult[]> {
  const cfg: SuiteConfig = { smoke: true, wasm: opts.wasm ?? 'release' };
  const out: SmokeResult[] = [];
  for (const c of selectCases(opts.only)) {
    const pair = await verifyCase(c, cfg);
    // Run each timed function once too, with its hooks, so that the timed
    // paths are exercised, and check the invariants after them.
    for (const b of ['wasm', 'ts'] as const) {
      for (const m of c.metrics) {
        const t = pair[b].timed[m.id];
        t.beforeEach?.();
        t.fn();
        t.afterEach?.();
      }
      pair[b].check();
    }
    if (pair.wasm.k.digest() !== pair.ts.k.digest()) throw new MismatchError(`${c.id}: digests differ after the timed functions ran once`);
    const notes = [pair.wasm.note, pair.ts.note].filter((n): n is string => !!n);
    out.push({ id: c.id, steps: pair.steps, notes });
    opts.log?.(`  ok  ${c.id.padEnd(16)} both cores agree: ${pair.steps.join(' → ')}`);
  }
  return out;
}
