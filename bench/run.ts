// npm run bench [-- options]: the Wasm core against the pure-TS core. See USAGE.
// A disagreement between the cores always exits 1.
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Unit } from './cases';
import { browserCases, browserSmoke, type BrowserInfo } from './browser';
import { MismatchError, runCases, runSmoke, selectCases, type Row } from './suite';
import { fmt, table } from './util';
import { progress } from '../src/progress';

const USAGE = `npm run bench [-- options]
  (no option)        verify + time every case on both cores, print the table
  --smoke            tiny sizes, verify only (both cores must agree), no timing
  --browser          run the suite in headless Chromium (/usr/bin/chromium) instead of Node
  --compare          also compare each measurement with bench/baseline.json
  --strict           with --compare: exit 1 if a measurement is slower than its band
  --tolerance=N      the band: ± N % of the baseline time per unit of work (default 25)
  --write-baseline   write bench/baseline.json from this run
  --baseline=FILE    another baseline file
  --only=a,b         only the cases whose id is or contains a or b (e.g. 4k, thp/512, fork, mixed)
  --json=FILE        also write the rows as JSON
A disagreement between the cores always exits 1.`;

const REFERENCE_NOTE = `Kernel references (from the issue; real hardware, not this machine): gup_test PIN_LONGTERM_BENCHMARK (-L)
pins with pin_user_pages() (the slow path, under mmap_lock; compare 4k-slow/512) in batches of nr_pages_per_call and
unpins the whole array in one unpin_user_pages() call, so its put is closest to the */all rows; THP, hugetlb 2 MiB and
1 GiB are shown on the 512/call rows. GUP-fast one page per call: ≈540 ns per call on a small RISC-V core, ≈9.5 µs per
page on a kernel simulator (Arm FVP). pinsim times a model, not a kernel: compare shapes (per-call overhead, per-page
vs per-folio cost), not absolute numbers.`;

interface Args {
  smoke: boolean; browser: boolean; compare: boolean; strict: boolean; tolerance: number; writeBaseline: boolean;
  only: string[]; json: string | null; baseline: string; baselineGiven: boolean;
}

function defaultBaselinePath(): string {
  // build/bench/run.js -> bench/baseline.json; also works from cwd = package root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../bench/baseline.json'), path.resolve(here, 'baseline.json'),
    path.resolve(process.cwd(), 'bench/baseline.json')];
  return candidates.find((p) => existsSync(p)) ?? candidates[2];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    smoke: false, browser: false, compare: false, strict: false, tolerance: 25, writeBaseline: false, only: [], json: null,
    baseline: defaultBaselinePath(), baselineGiven: false,
  };
  for (const arg of argv) {
    const [k, v] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, ''];
    switch (k) {
      case '--smoke': a.smoke = true; break;
      case '--browser': a.browser = true; break;
      case '--compare': a.compare = true; break;
      case '--strict': a.strict = true; break;
      case '--write-baseline': a.writeBaseline = true; break;
      case '--tolerance': a.tolerance = Number(v); break;
      case '--only': a.only.push(...v.split(',').filter(Boolean)); break;
      case '--json': a.json = v; break;
      case '--baseline': a.baseline = path.resolve(v); a.baselineGiven = true; break;
      case '--help': case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        console.error(`bench: unknown option ${arg} (try --help)`);
        process.exit(2);
    }
  }
  if (!(a.tolerance > 0)) {
    console.error('bench: --tolerance must be a positive percentage');
    process.exit(2);
  }
  if (a.browser && (a.compare || a.writeBaseline) && !a.baselineGiven) {
    console.error('bench: bench/baseline.json holds Node numbers; with --browser, --compare and --write-baseline need --baseline=FILE');
    process.exit(2);
  }
  return a;
}

// The commit measured, '+dirty' when assembly/ or src/ have local changes;
// null outside a git checkout.
function commit(): string | null {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', 'assembly', 'src') ? '+dirty' : '');
  } catch {
    return null;
  }
}

function environment() {
  const cpus = os.cpus();
  return {
    commit: commit(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
    browser: undefined as BrowserInfo | undefined, // set by a --browser run
  };
}

// Time per unit of work, lower is better, so that ratios read the same way
// for every unit: for ops/s this is the time per operation.
function timeOf(unit: Unit, value: number): number {
  return unit === 'ops/s' ? 1 / value : value;
}

function resultsTable(rows: Row[]): string {
  return table(
    ['case', 'metric', 'unit', '>Wasm', '>±%', '>TS', '>±%', '>TS/Wasm', 'kernel reference (ns/page)'],
    rows.map((r) => [
      r.case, r.metric, r.unit, fmt(r.wasm.value), r.wasm.rme.toFixed(1), fmt(r.ts.value), r.ts.rme.toFixed(1),
      (timeOf(r.unit, r.ts.value) / timeOf(r.unit, r.wasm.value)).toFixed(2), r.ref ?? '',
    ]),
  );
}

interface Baseline {
  env: ReturnType<typeof environment>;
  note: string;
  cases: Record<string, { unit: Unit; wasm: number; ts: number }>;
}

function writeBaseline(file: string, rows: Row[], env: ReturnType<typeof environment>): void {
  const b: Baseline = {
    env,
    note: 'Written by `npm run bench -- --write-baseline` from one full run. Values are in each case\'s unit '
      + '(ns/page, ns/frame, ms/op: lower is better; ops/s: higher is better). The machine is shared and noisy.',
    cases: Object.fromEntries(rows.map((r) => [r.key, {
      unit: r.unit, wasm: Number(r.wasm.value.toPrecision(4)), ts: Number(r.ts.value.toPrecision(4)),
    }])),
  };
  writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

// Compares with the baseline; returns how many measurements were slower than their band.
function compare(file: string, rows: Row[], tolerance: number, partial: boolean): number {
  if (!existsSync(file)) {
    console.log(`\n--compare: no baseline at ${file} (write one with --write-baseline)`);
    return 0;
  }
  const base = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  const tol = tolerance / 100;
  let slower = 0;
  const out: string[][] = [];
  for (const r of rows) {
    const b = base.cases[r.key];
    for (const be of ['wasm', 'ts'] as const) {
      if (!b || b.unit !== r.unit) {
        out.push([r.key, be, '—', fmt(r[be].value), '', b ? `unit changed (${b.unit})` : 'new (not in baseline)']);
        continue;
      }
      const ratio = timeOf(r.unit, r[be].value) / timeOf(r.unit, b[be]); // > 1: slower
      const verdict = ratio > 1 + tol ? 'SLOWER' : ratio < 1 - tol ? 'faster' : 'ok';
      if (verdict === 'SLOWER') slower++;
      out.push([r.key, be, fmt(b[be]), fmt(r[be].value), `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(0)}%`, verdict]);
    }
  }
  console.log(`\nAgainst ${path.relative(process.cwd(), file) || file} (${base.env.commit ?? 'unknown commit'}, ${base.env.date}, `
    + `${base.env.cpu}, ${base.env.browser ? `${base.env.browser.browser}, V8 ${base.env.browser.v8}` : `node ${base.env.node}`}); `
    + `band ±${tolerance}% of the baseline time per unit of work (ops/s compared as time per op):\n`);
  console.log(table(['case', 'core', '>baseline', '>now', '>Δ time', 'verdict'], out));
  const missing = Object.keys(base.cases).filter((k) => !rows.some((r) => r.key === k));
  if (missing.length && !partial) console.log(`in the baseline but not run: ${missing.join(', ')}`);
  console.log(`\n${slower} measurement(s) slower than the band.`);
  return slower;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const env = environment();
  console.log(`pinsim bench${env.commit ? ` at ${env.commit}` : ''}: node ${env.node}, V8 ${env.v8}, ${env.cpu}, ${env.cores} cores, `
    + `load ${env.loadavg.join(' ')}`);
  const log = (l: string) => console.log(l);
  const total = selectCases(args.only).length; // a bad --only fails here, before a browser starts
  // In Node each case logs one line when done: a progress line on a terminal's stderr in between.
  const bar = progress(process.stderr, 'bench: cases done');
  let done = 0;
  const caseLog = bar.wrap(log);
  const nodeLog = (l: string) => {
    caseLog(l);
    bar.update(++done, total);
  };

  if (args.smoke) {
    console.log('smoke: tiny sizes, one run per case, both cores must agree (no timing)');
    let res;
    if (args.browser) {
      res = (await browserSmoke(args.only, log)).result;
    } else {
      bar.update(0, total);
      res = await runSmoke({ only: args.only, log: nodeLog });
      bar.end();
    }
    for (const n of new Set(res.flatMap((r) => r.notes))) console.log(`  note: ${n}`);
    console.log(`smoke: ${res.length} cases, Wasm and TS cores agree`);
    return 0;
  }

  console.log('Each case is first checked (same results, pfns and k.digest() on both cores), then timed with tinybench.');
  console.log('Numbers are the mean per unit of work; ±% is the 95% relative margin of error of that mean. The machine is shared: expect noise.\n');
  const t0 = performance.now();
  let rows: Row[];
  let notes: string[];
  if (args.browser) {
    const r = await browserCases(args.only, log);
    ({ rows, notes } = r.result);
    env.browser = r.info;
  } else {
    bar.update(0, total);
    ({ rows, notes } = await runCases({ only: args.only, log: nodeLog }));
    bar.end();
  }
  console.log(`\n${resultsTable(rows)}\n`);
  console.log('What one timed call is (the value is its mean time divided by its pages, frames or operations):');
  const legend = new Map<string, string[]>();
  for (const c of selectCases(args.only)) {
    for (const m of c.metrics) legend.set(m.what, [...(legend.get(m.what) ?? []), `${c.id}:${m.id}`]);
  }
  for (const [what, keys] of legend) {
    const ids = keys.length > 3 ? `${keys.length} rows (${keys[0].split(':')[1]})` : keys.join(', ');
    console.log(`  ${ids}: ${what}`);
  }
  console.log('TS/Wasm > 1: the TS core is slower (for ops/s, compared as time per operation).');
  console.log(REFERENCE_NOTE);
  for (const n of notes) console.log(`note: ${n}`);
  const where = env.browser ? `${env.browser.browser}, V8 ${env.browser.v8} (driven by node ${env.node})` : `node ${env.node}, V8 ${env.v8}`;
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s; ${where}, ${env.cpu}, ${env.cores} cores, `
    + `load before ${env.loadavg.join(' ')}, after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  if (args.json) writeFileSync(args.json, `${JSON.stringify({ env, rows }, null, 2)}\n`);
  if (args.writeBaseline) writeBaseline(args.baseline, rows, env);
  if (args.compare) {
    const slower = compare(args.baseline, rows, args.tolerance, args.only.length > 0);
    if (slower && args.strict) return 1;
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(e instanceof MismatchError ? `\n${e.name}: ${e.message}` : e);
  process.exitCode = 1;
});
