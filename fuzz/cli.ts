// npm run fuzz [-- options]: the differential fuzz as a long run. See USAGE.
//
// fuzz/ in brief: ops.ts (the op families and their generators),
// machine.ts (one machine under test: run an op, the per-machine
// invariants), model.ts (the independent model of memory contents),
// lockstep.ts (two machines in lockstep, results and digests compared after
// every op, teardown checks), print.ts (a finding as seed, path and shrunk
// ops), known.ts (families with known unfixed bugs), worker.ts + this file
// (the long run: runs go to a worker thread with a time budget each, so a
// hang is a finding too). test/differential.test.ts is the short CI run.
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ALL_FAMILIES, type Family, type Op } from './ops';
import { KNOWN_UNFIXED } from './known';
import { KERNELS, PAIRS, runArb, type Pair } from './lockstep';
import type { KernelName, KernelRules } from '../src/index';
import { parseRuleOverrides } from '../src/eras/show';
import { FuzzFinding, type Shape } from './machine';
import { formatFinding } from './print';
import type { RunReply, WorkerInit } from './worker';

const USAGE = `npm run fuzz [-- options]
  --seconds N        run until N seconds are up (default 60)
  --seed S           the first batch's seed (default: from the clock); batch b uses S + b
  --path P           replay (and shrink) the run at fast-check path P of seed S, then stop
  --pair P           the two machines: debug-ts (default: Wasm debug build vs pure-TS core),
                     release-ts, debug-release
  --kernel K         boot every machine with this kernel preset (default: each run draws one of
                     ${KERNELS.join(', ')}; a finding shrinks towards latest)
  --rules k=v,...    override these rules on every machine (boot({ rules }))
  --ops-per-run M    at most M ops per run (default 80)
  --families a,b     only these op families (default: all): ${ALL_FAMILIES.join(', ')}
  --skip-known       leave out the families with known unfixed bugs (fuzz/known.ts)
  --keep-going       report a finding and go on (one report per distinct finding); exit 1 at the end
  --budget-ms N      a run that takes longer is stopped and reported as a hang (default 5000)
  --slow-op-ms N     an op that takes longer is a finding (default 3000)
  --trace            print every op before it starts
  --shrink-seconds N stop shrinking a finding after N s and report the smallest so far (default 120)
Exit 0 when nothing was found, 1 on a finding.`;

interface Args {
  seconds: number; seed: number; path: string | null; pair: Pair; kernel: KernelName | undefined; rules: Partial<KernelRules> | undefined; opsPerRun: number; families: Family[];
  keepGoing: boolean; budgetMs: number; slowOpMs: number; trace: boolean; shrinkSeconds: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    seconds: 60, seed: Date.now() % 2 ** 31, path: null, pair: 'debug-ts', kernel: undefined, rules: undefined, opsPerRun: 80, families: [...ALL_FAMILIES],
    keepGoing: false, budgetMs: 5_000, slowOpMs: 3_000, trace: false, shrinkSeconds: 120,
  };
  let skipKnown = false;
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=', 2);
    const val = () => inline ?? argv[++i];
    const num = () => {
      const n = Number(val());
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k} needs a number`);
      return n;
    };
    switch (k) {
      case '--seconds': a.seconds = num(); break;
      case '--seed': { // fast-check's seeds are signed 32-bit integers
        const n = Number(val());
        if (!Number.isSafeInteger(n)) throw new Error('--seed needs an integer');
        a.seed = n;
        break;
      }
      case '--path': a.path = val(); break;
      case '--pair': a.pair = val() as Pair; if (!PAIRS.includes(a.pair)) throw new Error(`--pair: one of ${PAIRS.join(', ')}`); break;
      case '--backend-pair': a.pair = val() as Pair; if (!PAIRS.includes(a.pair)) throw new Error(`--pair: one of ${PAIRS.join(', ')}`); break;
      case '--kernel': {
        const k = val() as KernelName;
        if (!KERNELS.includes(k)) throw new Error(`--kernel: one of ${KERNELS.join(', ')}`);
        a.kernel = k;
        break;
      }
      case '--rules': a.rules = parseRuleOverrides(val()); break;
      case '--ops-per-run': a.opsPerRun = Math.max(5, num()); break;
      case '--families': a.families = val().split(',') as Family[]; break;
      case '--skip-known': skipKnown = true; break;
      case '--keep-going': a.keepGoing = true; break;
      case '--budget-ms': a.budgetMs = num(); break;
      case '--slow-op-ms': a.slowOpMs = num(); break;
      case '--trace': a.trace = true; break;
      case '--shrink-seconds': a.shrinkSeconds = num(); break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  const bad = a.families.filter((f) => !ALL_FAMILIES.includes(f));
  if (bad.length) throw new Error(`unknown families: ${bad.join(', ')}`);
  if (skipKnown) a.families = a.families.filter((f) => !KNOWN_UNFIXED.has(f));
  return a;
}

// Runs op sequences in a worker thread, each within a time budget: a run
// that overruns it is a hang, reported with the op it never returned from.
class WorkerHost {
  #worker!: Worker;
  #marks = new SharedArrayBuffer(4);
  #nextId = 0;
  #pending: { id: number; resolve: (r: RunReply) => void } | null = null;

  constructor(readonly a: Args) {
    this.#start();
  }

  #start(): void {
    const init: WorkerInit = { marks: this.#marks, pair: this.a.pair, slowOpMs: this.a.slowOpMs, trace: this.a.trace };
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.#worker.on('message', (r: RunReply) => {
      if (this.#pending?.id === r.id) this.#pending.resolve(r);
    });
    this.#worker.on('error', (e) => this.#pending?.resolve({ id: this.#pending.id, ok: false, finding: false, message: `worker died: ${e}` }));
    this.#worker.unref();
  }

  async run(shape: Shape, ops: Op[]): Promise<void> {
    const id = this.#nextId++;
    Atomics.store(new Int32Array(this.#marks), 0, -1);
    let timer: NodeJS.Timeout | undefined;
    const reply = await new Promise<RunReply | null>((resolve) => {
      this.#pending = { id, resolve };
      timer = setTimeout(() => resolve(null), this.a.budgetMs);
      this.#worker.postMessage({ id, shape, ops });
    });
    clearTimeout(timer);
    this.#pending = null;
    if (reply === null) {
      const i = Atomics.load(new Int32Array(this.#marks), 0);
      await this.#worker.terminate();
      this.#start();
      const what = i < 0 ? 'boot' : i < ops.length ? `step ${i} ${JSON.stringify(ops[i])}` : 'teardown';
      throw new FuzzFinding(`hang: the run took over ${this.a.budgetMs} ms; the op that never returned: ${what}`);
    }
    if (!reply.ok) throw reply.finding ? new FuzzFinding(reply.message) : new Error(reply.message);
  }

  stop(): Promise<number> { return this.#worker.terminate(); }
}

// One line per distinct finding: its message without numbers.
const signature = (msg: string) => msg.replace(/step \d+ \{.*?\}(?=[: ]| on)/, 'step').replace(/0x[0-9a-f]+|\d+/g, 'N');

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const host = new WorkerHost(a);
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  let runs = 0;
  let ops = 0;
  const found = new Set<string>();
  console.log(`fuzz: ${a.seconds} s, pair ${a.pair}, kernel ${a.kernel ?? 'any'}${a.rules ? `, rules ${JSON.stringify(a.rules)}` : ''}, families ${a.families.join(',')}, seed ${a.seed}`);
  // While a batch shrinks, only a failure like the first one counts: the
  // shrunk ops then show that bug, not another one met on the way.
  // Shrinking can take long (a hang costs a whole budget per attempt): the
  // finding is announced at once, and after --shrink-seconds every further
  // candidate counts as passing, so fast-check reports the smallest so far.
  let target: string | null = null;
  let shrinkUntil = Infinity;
  const prop = fc.asyncProperty(runArb(a.families, a.opsPerRun, a.kernel, a.rules), async ([shape, list]) => {
    if (performance.now() > shrinkUntil) return;
    runs++;
    ops += list.length;
    try {
      await host.run(shape, list);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const sig = signature(msg);
      if (target === null) {
        target = sig;
        shrinkUntil = performance.now() + a.shrinkSeconds * 1000;
        console.log(`fuzz: finding, shrinking for up to ${a.shrinkSeconds} s: ${msg.split('\n')[0]}`);
      }
      if (sig === target) throw e;
    }
  });
  let lastReport = 0;
  for (let batch = 0; a.path !== null ? batch < 1 : elapsed() < a.seconds; batch++) {
    const seed = a.seed + batch;
    target = null;
    shrinkUntil = Infinity;
    const r = await fc.check(prop, a.path !== null ? { seed, path: a.path, numRuns: 1 } : { seed, numRuns: 25 });
    if (r.failed) {
      const msg = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
      const sig = signature(msg);
      if (!found.has(sig)) {
        found.add(sig);
        console.log(`\n${formatFinding(r, a.kernel, a.rules)}\n`);
      }
      if (!a.keepGoing) break;
    }
    if (elapsed() - lastReport >= 10) {
      lastReport = elapsed();
      console.log(`fuzz: ${runs} runs, ${ops} ops, ${Math.round(elapsed())} s, ${Math.round(ops / elapsed())} ops/s, findings ${found.size}`);
    }
  }
  await host.stop();
  console.log(`fuzz: done: ${runs} runs, ${ops} ops in ${Math.round(elapsed())} s (${Math.round(ops / elapsed())} ops/s), findings ${found.size}`);
  return found.size === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(2);
});
