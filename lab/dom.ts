// Tiny DOM helpers: elements with a class and children, and tables.
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.append(...kids);
  return e;
}

export function table(columns: string[], rows: string[][], caption = ''): HTMLTableElement {
  const t = el('table');
  if (caption) t.append(el('caption', '', caption));
  t.append(el('thead', '', el('tr', '', ...columns.map((c) => el('th', '', c)))));
  t.append(el('tbody', '', ...rows.map((r) => el('tr', '', ...r.map((c) => el('td', '', c))))));
  return t;
}

export const hex = (n: number): string => `0x${n.toString(16)}`;
