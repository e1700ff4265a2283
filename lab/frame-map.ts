// The frame map: every frame of the machine on one canvas, summarised per
// pixel by the core (k.frameMap()) when frames outnumber pixels, one cell
// per frame when zoomed in. Hover, click or the arrow keys pick a frame and
// show k.page() and k.dump_page() for it.
import { constants as C, type Kernel } from '../src/index';
import { lut, STATES, type Region } from './palette';

const MAX_CELL = 32; // pixels per frame side at the closest zoom

interface Bounds { cmaStart: number; normalEnd: number; ramEnd: number }

export interface FrameMapOptions {
  canvas: HTMLCanvasElement;
  info: HTMLElement; // where the picked frame is described
  onPick?: (pfn: number) => void;
}

// The RAM layout from public numbers: ZONE_NORMAL from pfn 0, CMA at its
// top, ZONE_MOVABLE after it, then device memory.
function bounds(k: Kernel): Bounds {
  const m = k.meminfo();
  const normalEnd = m.zones.Normal.managed;
  return { cmaStart: normalEnd - m.CmaTotal / 4, normalEnd, ramEnd: normalEnd + (m.zones.Movable?.managed ?? 0) };
}

const LUTS: Record<Region, Uint32Array> = { normal: lut('normal'), cma: lut('cma'), movable: lut('movable'), device: lut('device') };

export class FrameMap {
  k: Kernel | null = null;
  start = 0; // first frame in view
  per = 1; // frames per cell
  cell = 1; // pixels per cell side
  picked: number | null = null;
  longterm: ReadonlySet<number> = new Set();
  highlight: ReadonlySet<number> = new Set();
  lastDrawMs = 0;
  #b: Bounds = { cmaStart: 0, normalEnd: 0, ramEnd: 0 };
  #bytes = new Uint8Array(0);
  #off = document.createElement('canvas');

  constructor(readonly o: FrameMapOptions) {
    const c = o.canvas;
    c.tabIndex = 0;
    c.addEventListener('mousemove', (e) => this.#describe(this.pfnAt(e.offsetX, e.offsetY)));
    c.addEventListener('mouseleave', () => this.#describe(this.picked));
    c.addEventListener('click', (e) => this.pick(this.pfnAt(e.offsetX, e.offsetY)));
    c.addEventListener('keydown', (e) => this.#key(e));
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1 : -1, this.pfnAt(e.offsetX, e.offsetY) ?? undefined);
      this.draw();
    }, { passive: false });
  }

  get cols(): number { return this.o.canvas.width / this.cell; }
  get rows(): number { return this.o.canvas.height / this.cell; }

  setKernel(k: Kernel): void {
    const fresh = this.k === null || this.k.nrFrames !== k.nrFrames;
    this.k = k;
    this.#b = bounds(k);
    if (fresh) this.fit();
    if (this.picked !== null && this.picked >= k.nrFrames) this.picked = null;
  }

  // The whole machine: one frame per cell if it fits, as large as fits.
  fit(): void {
    const n = this.k?.nrFrames ?? 1;
    const px = this.o.canvas.width * this.o.canvas.height;
    this.start = 0;
    this.per = Math.max(1, 2 ** Math.ceil(Math.log2(n / px)));
    this.cell = 1;
    while (this.per === 1 && this.cell < MAX_CELL && (this.cols / 2) * (this.rows / 2) >= n) this.cell *= 2;
  }

  // The closest view that shows all these frames (one cell each if they fit).
  zoomTo(pfns: Iterable<number>): void {
    const list = [...pfns];
    if (!this.k || !list.length) return;
    const lo = Math.min(...list);
    const span = Math.max(...list) - lo + 1;
    this.per = 1;
    this.cell = MAX_CELL;
    while (this.cell > 1 && this.cols * (this.rows - 1) < span) this.cell /= 2;
    while (this.cols * (this.rows - 1) * this.per < span) this.per *= 2;
    const row = this.cols * this.per;
    this.start = Math.max(0, Math.floor(lo / row) * row);
  }

  // Zoom in (dir 1) or out (-1) around a frame.
  zoom(dir: 1 | -1, around = this.picked ?? this.start + (this.cols * this.rows * this.per) / 2): void {
    if (!this.k) return;
    if (dir > 0) {
      if (this.per > 1) this.per /= 2;
      else if (this.cell < MAX_CELL) this.cell *= 2;
      else return;
    } else if (this.cell > 1) this.cell /= 2;
    else if (this.cols * this.rows * this.per < this.k.nrFrames) this.per *= 2;
    else return;
    this.#center(around);
  }

  #center(pfn: number): void {
    const span = this.cols * this.rows * this.per;
    const row = this.cols * this.per;
    const s = Math.floor((pfn - span / 2) / row) * row;
    this.start = Math.max(0, Math.min(s, Math.ceil((this.k!.nrFrames - span) / row) * row));
  }

  pfnAt(x: number, y: number): number | null {
    const i = Math.floor(y / this.cell) * this.cols + Math.floor(x / this.cell);
    const pfn = this.start + i * this.per;
    return this.k && x >= 0 && y >= 0 && x < this.o.canvas.width && pfn < this.k.nrFrames ? pfn : null;
  }

  // The canvas rectangle of the cell holding pfn, or null when out of view.
  cellOf(pfn: number): { x: number; y: number; size: number } | null {
    const i = Math.floor((pfn - this.start) / this.per);
    if (i < 0 || i >= this.cols * this.rows) return null;
    return { x: (i % this.cols) * this.cell, y: Math.floor(i / this.cols) * this.cell, size: this.cell };
  }

  pick(pfn: number | null): void {
    this.picked = pfn;
    if (pfn !== null && !this.cellOf(pfn)) this.#center(pfn);
    this.draw();
    this.#describe(pfn);
    if (pfn !== null) this.o.onPick?.(pfn);
  }

  draw(): void {
    const k = this.k;
    if (!k) return;
    const t0 = performance.now();
    const { cols, rows, per, start } = this;
    const n = Math.min(cols * rows, Math.ceil((k.nrFrames - start) / per));
    if (this.#bytes.length < cols * rows) this.#bytes = new Uint8Array(cols * rows);
    const bytes = this.#bytes;
    bytes.fill(0);
    k.frameMap(start, per, n, bytes);
    this.#off.width = cols;
    this.#off.height = rows;
    const ctx = this.#off.getContext('2d')!;
    const img = ctx.createImageData(cols, rows);
    const px = new Uint32Array(img.data.buffer);
    const region = (pfn: number): Uint32Array => (pfn < this.#b.cmaStart ? LUTS.normal : pfn < this.#b.normalEnd ? LUTS.cma
      : pfn < this.#b.ramEnd ? LUTS.movable : LUTS.device);
    // Pixels by region: each region's stretch through one table.
    const edges = [this.#b.cmaStart, this.#b.normalEnd, this.#b.ramEnd, Infinity];
    let i = 0;
    for (const edge of edges) {
      const end = Math.min(n, Math.max(i, Math.ceil((edge - start) / per)));
      const t = region(start + i * per);
      for (; i < end; i++) px[i] = t[bytes[i]];
    }
    for (; i < cols * rows; i++) px[i] = 0xffffffff; // past the last frame
    for (const pfn of this.longterm) {
      const j = Math.floor((pfn - start) / per);
      if (j >= 0 && j < n) px[j] = region(pfn)[(bytes[j] & ~C.FRAME_STATE_MASK) | C.FRAME_LONGTERM];
    }
    ctx.putImageData(img, 0, 0);
    const g = this.o.canvas.getContext('2d')!;
    g.imageSmoothingEnabled = false;
    g.drawImage(this.#off, 0, 0, cols * this.cell, rows * this.cell);
    if (this.cell >= 4 && per === 1) this.#details(g, bytes, n);
    this.#outline(g);
    this.lastDrawMs = performance.now() - t0;
  }

  // Close up: pageblock starts as a dark left edge, each frame's glyph.
  #details(g: CanvasRenderingContext2D, bytes: Uint8Array, n: number): void {
    const c = this.cell;
    g.fillStyle = '#333';
    for (let pfn = Math.ceil(this.start / 512) * 512; pfn < this.start + n; pfn += 512) {
      const r = this.cellOf(pfn)!;
      g.fillRect(r.x, r.y, 1, c);
    }
    if (c < 12) return;
    g.font = `${Math.floor(c * 0.6)}px monospace`;
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillStyle = '#000';
    for (let j = 0; j < n; j++) {
      const lt = this.longterm.has(this.start + j);
      const glyph = STATES[lt ? C.FRAME_LONGTERM : bytes[j] & C.FRAME_STATE_MASK].glyph;
      if (glyph) g.fillText(glyph, (j % this.cols) * c + c / 2, Math.floor(j / this.cols) * c + c / 2 + 1);
    }
  }

  // The frames the PTE panel points at, and the picked one.
  #outline(g: CanvasRenderingContext2D): void {
    const box = (pfn: number, colour: string) => {
      const r = this.cellOf(pfn);
      if (!r) return;
      g.strokeStyle = colour;
      g.lineWidth = 2;
      const s = Math.max(r.size, 6);
      g.strokeRect(r.x - (s - r.size) / 2 - 1, r.y - (s - r.size) / 2 - 1, s + 2, s + 2);
    };
    for (const pfn of this.highlight) box(pfn, '#0072b2');
    if (this.picked !== null) box(this.picked, '#000');
  }

  #describe(pfn: number | null): void {
    const k = this.k;
    if (!k || pfn === null) return;
    const b = k.frameMap(pfn, this.per, 1)[0];
    const lt = [...this.longterm].some((p) => p >= pfn && p < pfn + this.per);
    const s = STATES[lt ? C.FRAME_LONGTERM : b & C.FRAME_STATE_MASK];
    const head = this.per === 1 ? `pfn ${pfn} (0x${pfn.toString(16)})` : `pfns ${pfn}-${Math.min(pfn + this.per, k.nrFrames) - 1}`;
    const lines = [`${head}: ${s.name}${this.per > 1 ? ` (most notable), ${Math.round(((b >>> C.FRAME_FILL_SHIFT) / 15) * 100)}% in use` : ''}`];
    if (this.per === 1) {
      lines.push(k.dump_page(pfn), '', JSON.stringify(k.page(pfn)));
      try {
        for (const r of k.pinners(pfn)) lines.push(`held by ${r.api} (${r.gup_flags & C.FOLL_LONGTERM ? 'FOLL_LONGTERM, ' : ''}pid ${r.pid} ${r.comm}${r.device ? `, ${r.device}` : ''})`);
      } catch { /* tracking off: no provenance to show */ }
    }
    this.o.info.textContent = lines.join('\n');
  }

  #key(e: KeyboardEvent): void {
    const k = this.k;
    if (!k) return;
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -this.cols, ArrowDown: this.cols };
    if (e.key in step) {
      const p = (this.picked ?? this.start) + step[e.key] * this.per;
      this.pick(Math.max(0, Math.min(k.nrFrames - 1, p)));
    } else if (e.key === '+' || e.key === '=') {
      this.zoom(1);
      this.draw();
    } else if (e.key === '-') {
      this.zoom(-1);
      this.draw();
    } else if (e.key === '0') {
      this.fit();
      this.draw();
    } else return;
    e.preventDefault();
  }
}
