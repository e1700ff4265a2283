// The scenario player: a scenario from the catalogue run step by step on a
// kernel preset (or two presets side by side), with the narration beside
// the picture. Buttons and keys: → or n step, ← or p back, e run to the
// end, r reset.
import { ALIASES, PRESETS, type KernelName } from '../src/index';
import { SCENARIOS, ScenarioPlayer, scenario, type StepResult } from '../src/scenarios/index';
import { el } from './dom';
import { Pane } from './pane';
import { WASM } from './wasm';

const KERNELS: KernelName[] = [...PRESETS, ...ALIASES];

function options(sel: HTMLSelectElement, values: readonly string[], labels: (v: string) => string = (v) => v): void {
  sel.replaceChildren(...values.map((v) => { const o = el('option', '', labels(v)); o.value = v; return o; }));
}

// What a step printed: its result lines, then its kernel log.
function stepLines(r: StepResult | undefined): string[] {
  return r ? [...r.lines, ...r.dmesg.map((d) => `dmesg: ${d}`)] : ['(booted)'];
}

export class PlayerUI {
  players: ScenarioPlayer[] = [];
  panes: Pane[] = [];
  stepMs: number[] = []; // each step's time, action and redraw (the lab test reads it)
  actionMs: number[] = []; // of which the scenario's action (ScenarioPlayer.step())
  #busy: Promise<void> = Promise.resolve();
  // The outcome of each finished run, read once: reading it may touch memory.
  #outcomes = new WeakMap<object, string>();

  constructor(readonly root: HTMLElement, readonly q: <T extends HTMLElement>(id: string) => T) {
    const sc = q<HTMLSelectElement>('scenario');
    options(sc, SCENARIOS.map((s) => s.id), (id) => `${id}: ${scenario(id)!.title}`);
    for (const id of ['preset', 'preset2']) options(q<HTMLSelectElement>(id), KERNELS);
    sc.addEventListener('change', () => { this.#defaults(); this.load(); });
    for (const id of ['preset', 'preset2', 'compare-on']) q(id).addEventListener('change', () => this.load());
    const act: Record<string, () => unknown> = { step: () => this.step(), back: () => this.back(), run: () => this.run(), reset: () => this.reset() };
    for (const [id, fn] of Object.entries(act)) q(id).addEventListener('click', () => fn());
    document.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement;
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || root.hidden || /^(INPUT|SELECT|TEXTAREA|CANVAS)$/.test(t.tagName)) return;
      const key: Record<string, string> = { ArrowRight: 'step', n: 'step', ArrowLeft: 'back', p: 'back', e: 'run', r: 'reset' };
      if (key[e.key]) { e.preventDefault(); act[key[e.key]](); }
    });
    this.#defaults();
  }

  get scenario() { return scenario(this.q<HTMLSelectElement>('scenario').value)!; }

  #defaults(): void {
    const s = this.scenario;
    this.q<HTMLSelectElement>('preset').value = s.presets[0];
    this.q<HTMLSelectElement>('preset2').value = s.presets[1] ?? s.presets[0];
  }

  // Queued so that a key held down never runs two replays at once.
  #queue(fn: () => Promise<void> | void): Promise<void> {
    this.#busy = this.#busy.then(fn).catch((e) => this.#error(e));
    return this.#busy;
  }

  #error(e: unknown): void {
    this.q('outcome').textContent = `error: ${e instanceof Error ? e.message : String(e)}`;
    console.warn(e);
  }

  load(): Promise<void> {
    return this.#queue(async () => {
      const s = this.scenario;
      const kernels = [this.q<HTMLSelectElement>('preset').value as KernelName];
      const compare = this.q<HTMLInputElement>('compare-on').checked;
      if (compare) kernels.push(this.q<HTMLSelectElement>('preset2').value as KernelName);
      this.players = await Promise.all(kernels.map((kernel) => ScenarioPlayer.create(s, { kernel, wasm: WASM, track: true })));
      const width = compare ? 512 : 1024; // powers of two: whole cells at every zoom
      this.panes = kernels.map((kernel, i) => {
        const p = new Pane(`pane-${i}`, width, true);
        p.title.textContent = `${s.id} on ${kernel}`;
        return p;
      });
      const box = this.q('panes');
      box.classList.toggle('compare', compare);
      box.replaceChildren(...this.panes.map((p) => p.root));
      this.q('steps').replaceChildren(...s.steps.map((st, i) => {
        const li = el('li', '', st.narration);
        li.id = `step-${i}`;
        return li;
      }));
      this.q('refs').replaceChildren(...s.refs.map((r) => {
        const a = el('a', '', r.label);
        a.href = r.url;
        return el('li', '', a);
      }));
      this.#show();
    });
  }

  step(): Promise<void> {
    return this.#queue(() => {
      const t0 = performance.now();
      if (!this.players.every((p) => p.step())) return;
      this.actionMs.push(performance.now() - t0);
      this.#show();
      this.stepMs.push(performance.now() - t0);
    });
  }

  run(): Promise<void> {
    return this.#queue(() => {
      while (this.players.every((p) => p.step()));
      this.#show();
    });
  }

  back(): Promise<void> { return this.#queue(async () => { await Promise.all(this.players.map((p) => p.back())); this.#show(); }); }
  reset(): Promise<void> { return this.#queue(async () => { await Promise.all(this.players.map((p) => p.reset())); this.#show(); }); }

  // Everything after the players moved: panes re-attached (a replay boots a
  // new machine), the step's lines, narration, outcome.
  #show(): void {
    const s = this.scenario;
    const pos = this.players[0].position;
    const done = this.players[0].done;
    if (done) for (const p of this.players) if (!this.#outcomes.has(p.ctx)) this.#outcomes.set(p.ctx, p.outcome().summary);
    this.players.forEach((p, i) => {
      const pane = this.panes[i];
      if (pane.kernel !== p.ctx.k) pane.attach(p.ctx.k, () => [...p.ctx.tasks].map(([name, task]) => ({ name, task })));
      const lines = stepLines(p.results[pos - 1]);
      // In compare view, the second run's lines that differ from the first's are marked (≠, and in bold).
      const other = i > 0 ? stepLines(this.players[0].results[pos - 1]) : lines;
      pane.lines.replaceChildren(...lines.map((l, j) => (l === other[j] ? el('div', '', l) : el('div', 'differs', `≠ ${l}`))));
      pane.update();
    });
    this.q('position').textContent = `step ${pos} of ${s.steps.length}`;
    this.q('narration').textContent = pos === 0 ? `${s.title}. Press Step (→) to begin.` : s.steps[pos - 1].narration;
    s.steps.forEach((_, i) => {
      const li = this.q(`step-${i}`);
      li.classList.toggle('done', i < pos);
      li.toggleAttribute('aria-current', i === pos - 1);
    });
    this.q('outcome').textContent = done
      ? this.players.map((p) => `${p.opts.kernel}: ${this.#outcomes.get(p.ctx)}`).join('\n') : '';
    (this.q('step') as HTMLButtonElement).disabled = done;
    (this.q('run') as HTMLButtonElement).disabled = done;
    (this.q('back') as HTMLButtonElement).disabled = pos === 0;
  }
}
