// The reverse map (mm/rmap.c rmap_walk): every place a folio is mapped.
// Anon folios point at an anon_vma; the VMAs whose anon_vma chain holds it
// map the folio at its index (a virtual page number). File folios are found
// through the file's VMAs (its i_mmap) at their page offset.
import { PAGE_SIZE, PG_anon, PG_head, PG_ORDER_MASK, PG_ORDER_SHIFT } from '../../assembly/constants';
import type { CoreViews } from '../core/core';
import type { Mm } from './mm';
import type { Vma } from './vma';

export interface RmapHost {
  readonly v: CoreViews;
  readonly tasks: readonly { mm: Mm }[];
}

function chainHas(vma: Vma, anonVmaId: number): boolean {
  for (let av = vma.anonVma; av; av = av.parent) if (av.id === anonVmaId) return true;
  return false;
}

// Calls fn(mm, vma, vpn, nr) for each VMA that may map the folio at `head`,
// with the virtual page range [vpn, vpn + nr) where it would sit.
export function rmapWalk(k: RmapHost, head: number, fn: (mm: Mm, vma: Vma, vpn: number, nr: number) => void): void {
  const flags = k.v.flags[head];
  const nr = flags & PG_head ? 2 ** ((flags & PG_ORDER_MASK) >>> PG_ORDER_SHIFT) : 1;
  const mapping = k.v.mapping[head];
  const index = k.v.index[head];
  for (const t of k.tasks) {
    for (const vma of t.mm.vmas) {
      let vpn: number;
      if (flags & PG_anon) {
        if (!chainHas(vma, mapping)) continue;
        vpn = index;
      } else {
        if (!vma.file || vma.file.id !== mapping) continue;
        vpn = vma.start / PAGE_SIZE + (index - vma.pgoff);
      }
      if (vpn + nr > vma.start / PAGE_SIZE && vpn < vma.end / PAGE_SIZE) fn(t.mm, vma, vpn, nr);
    }
  }
}
