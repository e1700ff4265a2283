// The frame map's colours: one per FRAME_* state (constants.ts), each with a
// name and a glyph, so that a state is told by its label, hover text and
// glyph as well as by its colour (the legend shows all three).
import { constants as C } from '../src/index';

export interface StateStyle { state: number; name: string; colour: string; glyph: string; help: string }

// Colours from the Okabe-Ito palette (distinguishable with the common colour
// vision deficiencies), free frames light.
export const STATES: StateStyle[] = [
  { state: C.FRAME_FREE, name: 'free', colour: '#f2f2f2', glyph: '', help: 'in the buddy allocator' },
  { state: C.FRAME_OTHER, name: 'other', colour: '#999999', glyph: '·', help: 'allocated, neither anon nor page cache: the zero page, hugetlb pool, cma_alloc' },
  { state: C.FRAME_FILE, name: 'file', colour: '#56b4e9', glyph: 'f', help: 'page cache (or an fsdax block)' },
  { state: C.FRAME_ANON, name: 'anon', colour: '#009e73', glyph: 'a', help: 'anonymous memory' },
  { state: C.FRAME_TABLE, name: 'page table', colour: '#f0e442', glyph: 't', help: 'a page-table page' },
  { state: C.FRAME_MLOCKED, name: 'mlocked', colour: '#cc79a7', glyph: 'm', help: 'PG_mlocked (mlock, MAP_LOCKED)' },
  { state: C.FRAME_PINNED, name: 'pinned', colour: '#e69f00', glyph: 'P', help: 'folio_maybe_dma_pinned()' },
  { state: C.FRAME_LONGTERM, name: 'long-term pinned', colour: '#d55e00', glyph: 'L', help: 'held by a FOLL_LONGTERM pin (pin provenance)' },
];

// Free frames of special regions get a tint, so that zones show through.
export type Region = 'normal' | 'cma' | 'movable' | 'device';
export const REGION_FREE: Record<Region, string> = { normal: '#f2f2f2', cma: '#e4dcf2', movable: '#dcecf2', device: '#f2ecdc' };

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

// A byte of k.frameMap() → an ImageData word (ABGR, little-endian): the
// state's colour mixed with the region's free colour by the share in use.
export function lut(region: Region): Uint32Array {
  const t = new Uint32Array(256);
  const free = rgb(REGION_FREE[region]);
  for (let b = 0; b < 256; b++) {
    const s = STATES[b & C.FRAME_STATE_MASK];
    const fill = b >>> C.FRAME_FILL_SHIFT;
    const c = rgb(s.colour);
    // A pixel with any frame in use shows at least 40% of its colour.
    const w = s.state === C.FRAME_FREE ? 0 : 0.4 + 0.6 * (fill / 15);
    const mix = c.map((v, i) => Math.round(v * w + free[i] * (1 - w)));
    t[b] = (255 << 24) | (mix[2] << 16) | (mix[1] << 8) | mix[0];
  }
  return t;
}

export function legend(el: HTMLElement): void {
  el.replaceChildren(...STATES.map((s) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = s.colour;
    sw.textContent = s.glyph;
    li.append(sw, ` ${s.name}`);
    li.title = s.help;
    return li;
  }), ...(['cma', 'movable', 'device'] as Region[]).map((r) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = REGION_FREE[r];
    li.append(sw, ` free, ${r === 'cma' ? 'CMA' : r === 'movable' ? 'ZONE_MOVABLE' : 'ZONE_DEVICE'}`);
    return li;
  }));
}
