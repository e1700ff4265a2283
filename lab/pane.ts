// One machine on screen: its frame map, its tasks' VMAs and PTE arrows, its
// devices, counter plots and dmesg. The scenario player shows one pane, or
// two side by side to compare presets; the free-play console has its own.
import { constants as C, type Kernel } from '../src/index';
import { CounterPlots, sample } from './counters';
import { renderDevices } from './devices';
import { el } from './dom';
import { FrameMap } from './frame-map';
import { PtePanel, type Named } from './ptes';

// The frames held by FOLL_LONGTERM pins, known only from pin provenance
// (boot({ track: true })): the core keeps no per-pin flags.
function longtermFrames(k: Kernel): Set<number> {
  const s = new Set<number>();
  try {
    for (const r of k.pins()) if (r.gup_flags & C.FOLL_LONGTERM) for (const p of r.pfns) s.add(p);
  } catch { /* tracking off */ }
  return s;
}

export class Pane {
  readonly root: HTMLElement;
  readonly map: FrameMap;
  readonly title = el('h2', 'pane-title');
  readonly lines = el('div', 'step-lines');
  #ptes: PtePanel;
  #plots: CounterPlots;
  #devices = el('div', 'devices');
  #dmesg = el('pre', 'dmesg');
  #k: Kernel | null = null;
  // Keep the frames the arrows point at in view, until the user zooms.
  follow: boolean;
  #tasks: () => Named[] = () => [];

  constructor(id: string, width: number, follow = false) {
    this.follow = follow;
    const canvas = el('canvas', 'map');
    canvas.width = width;
    canvas.height = 256;
    canvas.id = `${id}-map`;
    canvas.setAttribute('aria-label', 'frame map: arrow keys pick a frame, + and - zoom, 0 shows the whole machine');
    const info = el('pre', 'frame-info', 'Hover or click a frame, or focus the map and use the arrow keys: k.page() and k.dump_page() show here.');
    info.setAttribute('aria-live', 'polite');
    this.map = new FrameMap({ canvas, info });
    const ptes = el('div', 'ptes');
    this.#ptes = new PtePanel(ptes, () => this.render());
    const plots = el('div', 'counters');
    this.#plots = new CounterPlots(plots);
    const zoom = el('div', 'controls map-controls');
    zoom.setAttribute('aria-label', 'frame map zoom');
    const button = (label: string, key: string, fn: () => void) => {
      const b = el('button', '', label, ' ', el('kbd', '', key));
      b.addEventListener('click', () => { this.follow = false; fn(); this.map.draw(); });
      zoom.append(b);
    };
    button('Zoom in', '+', () => this.map.zoom(1));
    button('Zoom out', '−', () => this.map.zoom(-1));
    button('Whole machine', '0', () => this.map.fit());
    button('Frames of the arrows', 'z', () => this.map.zoomTo(this.#ptes.frames));
    canvas.addEventListener('wheel', () => { this.follow = false; });
    canvas.addEventListener('keydown', (e) => {
      if ('+=-0'.includes(e.key)) this.follow = false;
      if (e.key === 'z') { this.map.zoomTo(this.#ptes.frames); this.map.draw(); }
    });
    this.root = el('section', 'pane', this.title, this.lines, zoom, canvas, info,
      el('div', 'panels',
        el('div', 'panel', el('h3', '', 'Tasks: VMAs and PTE → frame'), ptes),
        el('div', 'panel', el('h3', '', 'Devices'), this.#devices),
        el('div', 'panel', el('h3', '', 'Counters'), plots),
        el('div', 'panel', el('h3', '', 'dmesg'), this.#dmesg)));
    this.root.id = id;
  }

  get kernel(): Kernel | null { return this.#k; }

  // A new machine (a boot, or a player's replay from boot).
  attach(k: Kernel, tasks: () => Named[]): void {
    this.#k = k;
    this.#tasks = tasks;
    this.#ptes.reset();
    this.#plots.reset();
    this.map.setKernel(k);
  }

  // After something happened: a sample for the plots, then everything redrawn.
  update(): void {
    if (!this.#k) return;
    this.#guard(() => this.#plots.push(sample(this.#k!, this.#tasks())));
    this.render();
  }

  render(): void {
    const k = this.#k;
    if (!k) return;
    this.#guard(() => {
      this.#ptes.render(k, this.#tasks());
      this.map.longterm = longtermFrames(k);
      this.map.highlight = this.#ptes.frames;
      this.map.setKernel(k);
      if (this.follow) this.map.zoomTo(this.#ptes.frames);
      this.map.draw();
      renderDevices(this.#devices, k);
      this.#plots.render();
    });
    this.#dmesg.textContent = k.dmesg().slice(-200).join('\n');
    // Scrolled after the frame, not here: reading scrollHeight would force a layout per step.
    requestAnimationFrame(() => { this.#dmesg.scrollTop = this.#dmesg.scrollHeight; });
  }

  // A machine halted by a kernel BUG (a scenario's point, on some eras)
  // refuses all further calls: the panes keep their last picture and say so.
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!/machine is unusable|has halted/.test(String(e))) throw e;
      if (!this.lines.querySelector('.halted')) this.lines.append(el('div', 'halted', `✖ ${(e as Error).message}`));
    }
  }
}
