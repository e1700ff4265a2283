// Free play: boot a machine of any size on any preset and type API calls
// against it. `k` is the Kernel, `t` a task spawned at boot, `C` the
// constants; an expression's value is shown, `await` works, errors are
// shown with their code. The frame map and panels follow each call.
import { ALIASES, PRESETS, boot, constants, type Kernel, type KernelName, type Task } from '../src/index';
import { el } from './dom';
import { Pane } from './pane';
import { WASM } from './wasm';

type Fn = (k: Kernel, t: Task, C: typeof constants) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => Fn;

const SIZES = ['64MiB', '256MiB', '1GiB', '4GiB', '16GiB', '64GiB'];

// A value as the console shows it: strings as they are, the rest as JSON
// (typed arrays and bigints readable), cut at 4000 characters.
export function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : ArrayBuffer.isView(x) && !(x instanceof DataView)
    ? Array.from(x as unknown as ArrayLike<number>) : x), 2) ?? String(v);
  return s.length > 4000 ? `${s.slice(0, 4000)}…` : s;
}

// An expression if it parses as one, else a function body.
function compile(code: string): Fn {
  try {
    return new AsyncFunction('k', 't', 'C', `return (${code}\n);`);
  } catch {
    return new AsyncFunction('k', 't', 'C', code);
  }
}

export class PlayConsole {
  k: Kernel | null = null;
  t: Task | null = null;
  readonly pane = new Pane('play-pane', 1024);
  #history: string[] = [];
  #hpos = 0;

  constructor(readonly q: <T extends HTMLElement>(id: string) => T) {
    const mem = q<HTMLSelectElement>('play-memory');
    mem.replaceChildren(...SIZES.map((s) => { const o = el('option', '', s); o.value = s; return o; }));
    mem.value = '1GiB';
    const ker = q<HTMLSelectElement>('play-kernel');
    ker.replaceChildren(...[...PRESETS, ...ALIASES].map((s) => { const o = el('option', '', s); o.value = s; return o; }));
    ker.value = 'latest';
    q('play-boot').addEventListener('submit', (e) => { e.preventDefault(); void this.boot(); });
    const input = q<HTMLInputElement>('console-in');
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); void this.eval(input.value); input.value = ''; }
      else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
        e.preventDefault();
        this.#hpos = Math.max(0, Math.min(this.#history.length, this.#hpos + (e.key === 'ArrowUp' ? -1 : 1)));
        input.value = this.#history[this.#hpos] ?? '';
      }
    });
    q('play-pane-box').append(this.pane.root);
  }

  async boot(): Promise<void> {
    const memory = this.q<HTMLSelectElement>('play-memory').value;
    const kernel = this.q<HTMLSelectElement>('play-kernel').value as KernelName;
    const cma = this.q<HTMLInputElement>('play-cma').checked ? '64MiB' : 0;
    this.k = await boot({ memory, kernel, cma, track: true, wasm: WASM });
    this.t = this.k.spawn({ name: 'play' });
    this.pane.title.textContent = `free play: ${memory} on ${kernel}`;
    const k = this.k;
    const t = this.t;
    this.pane.attach(k, () => k.tasks.map((task) => ({ name: task === t ? 't' : task.name, task })));
    this.pane.update();
    Object.assign(globalThis, { k, t, C: constants }); // the same names in the browser's devtools console
    this.#print('out', `booted: k = ${memory} on ${kernel}${cma ? ', 64 MiB CMA' : ''} (pin tracking on), t = k.spawn({ name: 'play' }) (pid ${t.pid})`);
  }

  async eval(code: string): Promise<void> {
    if (!code.trim() || !this.k || !this.t) return;
    this.#history.push(code);
    this.#hpos = this.#history.length;
    this.#print('in', `> ${code}`);
    try {
      this.#print('out', show(await compile(code)(this.k, this.t, constants)));
    } catch (e) {
      this.#print('err', e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${show(e)}`);
    }
    this.pane.update();
  }

  #print(kind: 'in' | 'out' | 'err', text: string): void {
    const log = this.q('console-out');
    log.append(el('pre', kind, text));
    log.scrollTop = log.scrollHeight;
  }
}
