// Counters over time: a sample after every step or console command, each
// series drawn as a small plot with its current value beside it.
import type { Kernel, Task } from '../src/index';
import { el } from './dom';

const KEEP = 200; // samples kept per series

export type Sample = Record<string, number>;

// The counters the lab follows: the FOLL_PIN vmstat pair, each task's VmLck
// and VmPin, each user's locked_vm (kB, as /proc shows them), and meminfo.
export function sample(k: Kernel, tasks: { name: string; task: Task }[]): Sample {
  const v = k.vmstat() as unknown as Record<string, number>;
  const m = k.meminfo();
  const s: Sample = {
    nr_foll_pin_acquired: v.nr_foll_pin_acquired ?? 0,
    nr_foll_pin_released: v.nr_foll_pin_released ?? 0,
    'MemFree kB': m.MemFree,
    'AnonPages kB': m.AnonPages,
  };
  const uids = new Set<number>();
  for (const { name, task } of tasks) {
    if (task.exited) continue;
    s[`${name} VmLck kB`] = task.mm.locked_vm * 4;
    s[`${name} VmPin kB`] = task.mm.pinned_vm * 4;
    uids.add(task.uid);
  }
  for (const uid of uids) s[`uid ${uid} locked_vm kB`] = k.user(uid).locked_vm * 4;
  return s;
}

export class CounterPlots {
  #hist: Sample[] = [];
  #rows = new Map<string, HTMLElement>();

  constructor(readonly root: HTMLElement) {}

  reset(): void {
    this.#hist = [];
    this.#rows.clear();
  }

  push(s: Sample): void {
    this.#hist.push(s);
    if (this.#hist.length > KEEP) this.#hist.shift();
  }

  render(): void {
    const last = this.#hist[this.#hist.length - 1] ?? {};
    this.root.replaceChildren(...Object.keys(last).map((key) => {
      const row = this.#rows.get(key) ?? this.#row(key);
      const ys = this.#hist.map((h) => h[key] ?? 0);
      const c = row.querySelector('canvas')!;
      const g = c.getContext('2d')!;
      g.clearRect(0, 0, c.width, c.height);
      const lo = Math.min(...ys);
      const hi = Math.max(...ys);
      g.strokeStyle = '#0072b2';
      g.beginPath();
      ys.forEach((y, i) => {
        const x = ys.length === 1 ? 119 : (i / (ys.length - 1)) * 119;
        const py = hi === lo ? 12 : 22 - ((y - lo) / (hi - lo)) * 20;
        if (i) g.lineTo(x, py); else g.moveTo(x, py);
      });
      g.stroke();
      row.querySelector('.value')!.textContent = String(last[key]);
      return row;
    }));
  }

  // A row per counter, made once: name, plot, value.
  #row(key: string): HTMLElement {
    const c = el('canvas', 'plot');
    c.width = 120;
    c.height = 24;
    c.setAttribute('aria-hidden', 'true');
    const row = el('div', 'counter', el('span', 'name', key), c, el('span', 'value'));
    row.dataset.counter = key;
    this.#rows.set(key, row);
    return row;
  }
}
