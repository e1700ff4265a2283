// The reverse map (mm/rmap.c rmap_walk): every place a folio may be mapped.
// Anon folios point at an anon_vma; the VMAs whose anon_vma chain holds it
// map the folio at its index (a virtual page number). File folios are found
// through the file's VMAs (its i_mmap) at their page offset.
import { PAGE_SIZE, PG_anon } from '../../assembly/constants';
import type { CoreViews } from '../core/types';
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

// Calls fn(mm, vma, delta) for each VMA that may map folios of the mapping
// (anon_vma or file) of the folio at `head`: a folio of that mapping with
// index x would sit there at vpn x + delta.
export function rmapVmas(k: RmapHost, head: number, fn: (mm: Mm, vma: Vma, delta: number) => void): void {
  const anon = (k.v.flags[k.v.page(head)] & PG_anon) !== 0;
  const mapping = k.v.mapping[k.v.page(head)];
  for (const t of k.tasks) {
    for (const vma of t.mm.vmas) {
      if (anon ? chainHas(vma, mapping) : vma.file?.id === mapping) {
        fn(t.mm, vma, anon ? 0 : vma.start / PAGE_SIZE - vma.pgoff);
      }
    }
  }
}
