// Running a scenario: boot the machine on a preset, run the steps in order,
// render what each step looks at, read the outcome. Runs are deterministic,
// so the player goes back by replaying from boot.
import { boot } from '../boot';
import type { KernelName } from '../eras/presets';
import type { Backend } from '../core/types';
import type { WasmSource } from '../core/load';
import { renderLook, type Table } from './look';
import type { Outcome, Scenario, ScenarioCtx } from './types';

export interface RunOptions {
  kernel?: KernelName; // default: the scenario's first preset
  backend?: Backend; // default 'wasm'
  wasm?: WasmSource;
  track?: boolean; // boot({ track }): pin provenance, e.g. for the lab's long-term pinned frames
}

// A kernel the scenario cannot be told on (Scenario.requires).
export class ScenarioUnsupported extends RangeError {
  override name = 'ScenarioUnsupported';
}

export interface StepResult {
  index: number; // 0-based
  narration: string;
  lines: string[]; // what the action returned
  tables: Table[];
  dmesg: string[]; // kernel log lines this step printed
}

export interface ScenarioRun {
  id: string;
  kernel: KernelName;
  backend: Backend;
  steps: StepResult[];
  outcome: Outcome;
}

function toLines(r: string | string[] | void): string[] {
  return r === undefined ? [] : Array.isArray(r) ? r : [r];
}

// A scenario being played one step at a time (the lab's player, the CLI).
export class ScenarioPlayer {
  #done: StepResult[] = [];

  private constructor(readonly scenario: Scenario, readonly opts: Required<Pick<RunOptions, 'kernel' | 'backend'>> & RunOptions,
    public ctx: ScenarioCtx) {}

  static async create(sc: Scenario, opts: RunOptions = {}): Promise<ScenarioPlayer> {
    const o = { ...opts, kernel: opts.kernel ?? sc.presets[0], backend: opts.backend ?? 'wasm' };
    return new ScenarioPlayer(sc, o, await ScenarioPlayer.#boot(sc, o));
  }

  static async #boot(sc: Scenario, o: RunOptions): Promise<ScenarioCtx> {
    const k = await boot({ ...sc.boot, kernel: o.kernel, backend: o.backend, ...(o.wasm ? { wasm: o.wasm } : {}), ...(o.track ? { track: true } : {}) });
    const why = sc.requires?.(k);
    if (why) throw new ScenarioUnsupported(`${sc.id} cannot run on kernel ${k.kernel}: ${why}`);
    return { k, tasks: new Map(), vars: {} };
  }

  get position(): number { return this.#done.length; } // steps run so far
  get done(): boolean { return this.#done.length === this.scenario.steps.length; }
  get results(): readonly StepResult[] { return this.#done; }

  // Runs the next step; null when there is none.
  step(): StepResult | null {
    if (this.done) return null;
    const index = this.#done.length;
    const s = this.scenario.steps[index];
    const before = this.ctx.k.dmesg().length;
    const lines = toLines(s.action(this.ctx));
    const r: StepResult = {
      index, narration: s.narration, lines,
      tables: (s.look ?? []).map((l) => renderLook(this.ctx, l)),
      dmesg: this.ctx.k.dmesg().slice(before),
    };
    this.#done.push(r);
    return r;
  }

  // Back to the state after step n (0 = just booted): a fresh boot and a replay.
  async seek(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0 || n > this.scenario.steps.length) throw new RangeError(`step ${n} is not in 0..${this.scenario.steps.length}`);
    this.ctx = await ScenarioPlayer.#boot(this.scenario, this.opts);
    this.#done = [];
    while (this.#done.length < n) this.step();
  }

  back(): Promise<void> { return this.seek(Math.max(0, this.position - 1)); }
  reset(): Promise<void> { return this.seek(0); }

  outcome(): Outcome { return this.scenario.outcome(this.ctx); }
}

// The whole scenario, start to end.
export async function runScenario(sc: Scenario, opts: RunOptions = {}): Promise<ScenarioRun> {
  const p = await ScenarioPlayer.create(sc, opts);
  while (p.step());
  return { id: sc.id, kernel: p.opts.kernel, backend: p.opts.backend, steps: [...p.results], outcome: p.outcome() };
}
