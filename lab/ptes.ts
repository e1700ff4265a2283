// Each task's VMAs, and for a selected range the PTE → frame arrows: the
// pages a task maps on the left, the frames on the right, and the frames a
// device holds (pin provenance) pointing at theirs too. A COW split or a
// pin the process no longer maps is two arrows landing on different frames.
import { constants as C, type Kernel, type Task } from '../src/index';
import { el, hex } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_PAGES = 8; // pages shown per selected range

export interface Named { name: string; task: Task }

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text = ''): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [a, v] of Object.entries(attrs)) e.setAttribute(a, String(v));
  if (text) e.textContent = text;
  return e;
}

export class PtePanel {
  // task pid → the selected range's start (a VMA's start, by default the first)
  #sel = new Map<number, number>();
  frames: Set<number> = new Set(); // the frames the arrows point at

  constructor(readonly root: HTMLElement, readonly onChange: () => void) {}

  reset(): void { this.#sel.clear(); }

  render(k: Kernel, tasks: Named[]): void {
    const lists = tasks.map(({ name, task }) => {
      const head = el('h4', '', `${name} (pid ${task.pid})${task.exited ? ': exited' : ''}`);
      if (task.exited) return el('div', 'vmas', head);
      const vmas = task.maps();
      if (!this.#sel.has(task.pid) && vmas.length) this.#sel.set(task.pid, vmas[0].start);
      const ul = el('ul', 'vma-list', ...vmas.map((v) => {
        const b = el('button', this.#sel.get(task.pid) === v.start ? 'vma selected' : 'vma',
          `${hex(v.start)}-${hex(v.end)} ${v.perms} ${v.file ?? (v.hugetlb ? '[hugetlb]' : '[anon]')} ${(v.end - v.start) / C.PAGE_SIZE}p`);
        b.setAttribute('aria-pressed', String(this.#sel.get(task.pid) === v.start));
        b.addEventListener('click', () => { this.#sel.set(task.pid, v.start); this.onChange(); });
        return el('li', '', b);
      }));
      return el('div', 'vmas', head, ul);
    });
    this.root.replaceChildren(...lists, this.#arrows(k, tasks));
  }

  #arrows(k: Kernel, tasks: Named[]): SVGSVGElement {
    const left: { label: string; pfn: number | null }[] = [];
    for (const { name, task } of tasks) {
      const start = this.#sel.get(task.pid);
      if (task.exited || start === undefined) continue;
      const vma = task.maps().find((v) => v.start === start);
      if (!vma) continue;
      const n = Math.min(MAX_PAGES, (vma.end - vma.start) / C.PAGE_SIZE);
      for (let i = 0; i < n; i++) left.push({ label: `${name} ${hex(start + i * C.PAGE_SIZE)}`, pfn: task.translate(start + i * C.PAGE_SIZE) });
    }
    try {
      for (const r of k.pins()) {
        if (!r.device) continue;
        for (const pfn of r.pfns.slice(0, MAX_PAGES)) left.push({ label: `${r.device} ${r.gup_flags & C.FOLL_LONGTERM ? 'long-term ' : ''}pin`, pfn });
      }
    } catch { /* no tracking: devices' frames unknown */ }
    const frames = [...new Set(left.map((l) => l.pfn).filter((p): p is number => p !== null))].sort((a, b) => a - b);
    this.frames = new Set(frames);
    const row = 20;
    const h = Math.max(left.length, frames.length, 1) * row + 10;
    const s = svg('svg', { class: 'arrows', width: '100%', height: h, viewBox: `0 0 460 ${h}`, role: 'img' });
    s.append(svg('title', {}, 'PTE and device pin arrows to frames'));
    const fy = (pfn: number) => frames.indexOf(pfn) * row + 15;
    frames.forEach((pfn) => {
      const p = k.page(pfn);
      s.append(svg('rect', { x: 330, y: fy(pfn) - 9, width: 125, height: 16, class: p.maybeDmaPinned ? 'frame pinned' : 'frame' }));
      s.append(svg('text', { x: 335, y: fy(pfn) + 3 }, `pfn ${pfn} rc ${p.refcount}${p.maybeDmaPinned ? ' P' : ''}`));
    });
    left.forEach((l, i) => {
      const y = i * row + 15;
      s.append(svg('text', { x: 2, y: y + 3, class: l.label.includes(' pin') ? 'dev' : '' }, l.label));
      if (l.pfn === null) s.append(svg('text', { x: 200, y: y + 3, class: 'none' }, '(not present)'));
      else s.append(svg('line', { x1: 190, y1: y, x2: 328, y2: fy(l.pfn), class: l.label.includes(' pin') ? 'arrow dev' : 'arrow' }));
    });
    return s;
  }
}
