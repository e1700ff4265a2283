// Each device model with the pins it holds (MRs, buffers, IOVA ranges)
// and its memlock charges: d.pins() and d.charges().
import { constants as C, type Kernel } from '../src/index';
import { el, hex, table } from './dom';

export function renderDevices(root: HTMLElement, k: Kernel): void {
  const devs = k.devices();
  if (!devs.length) return root.replaceChildren(el('p', 'empty', 'no devices'));
  root.replaceChildren(...devs.map((d) => {
    const rows = d.pins().map((p) => [p.object, `pid ${p.pid}`, hex(p.addr), String(p.pages),
      p.gup_flags & C.FOLL_PIN ? (p.gup_flags & C.FOLL_LONGTERM ? 'FOLL_PIN|FOLL_LONGTERM' : 'FOLL_PIN') : 'FOLL_GET']);
    for (const c of d.charges()) rows.push([`charge ${c.counter}`, `pid ${c.pid}`, '-', String(c.pages), c.by]);
    return table(['object', 'task', 'addr', 'pages', 'kind'], rows.length ? rows : [['(nothing held)', '', '', '', '']], d.name);
  }));
}
