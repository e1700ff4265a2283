// Migration of the folios listed in the core's scratch (assembly/migrate.ts),
// as migrate_pages_batch() does it: unmap and copy them all, repoint every
// mapping, then move them all. The rmap is walked once per run of listed
// folios that share an anon_vma or file (one run for a process's anon
// range), not once per folio.
import {
  PAGE_SIZE, MIGRATE_BATCH, MMU_NOTIFY_CLEAR, PG_ORDER_MASK, PG_ORDER_SHIFT,
} from '../../assembly/constants';
import type { KernelBase } from '../kernel';
import type { Mm } from './mm';
import { rmapVmas } from './rmap';
import type { Vma } from './vma';

// try_to_migrate_one() fires CLEAR over each folio's span in each VMA
// (UNVERIFIED); pinsim fires one range per VMA for the folios of a run
// that moved, before their entries are repointed. The batch in scratch is
// kept safe from callbacks that use the core.
function notifyRun(k: KernelBase, count: number, from: number, to: number, mm: Mm, vma: Vma, delta: number): void {
  const { scratch: s, index, flags } = k.v;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    if ((s[MIGRATE_BATCH + i] | 0) < 0) continue;
    const vpn = index[s[i]] + delta;
    const end = vpn + 2 ** ((flags[s[i]] & PG_ORDER_MASK) >>> PG_ORDER_SHIFT);
    if (end * PAGE_SIZE <= vma.start || vpn * PAGE_SIZE >= vma.end) continue;
    lo = Math.min(lo, Math.max(vpn, vma.start / PAGE_SIZE));
    hi = Math.max(hi, Math.min(end, vma.end / PAGE_SIZE));
  }
  if (hi <= lo) return;
  const heads = s.slice(0, count);
  const targets = s.slice(MIGRATE_BATCH, MIGRATE_BATCH + count);
  mm.notify(MMU_NOTIFY_CLEAR, lo * PAGE_SIZE, hi * PAGE_SIZE, 'try_to_migrate_one');
  s.set(heads, 0);
  s.set(targets, MIGRATE_BATCH);
}

// Migrates scratch[0, count); returns how many folios could not move
// (their -errno is in scratch[MIGRATE_BATCH + i]).
export function migrateListed(k: KernelBase, count: number): number {
  const core = k.core;
  const failed = core.migrate_folios_start(count);
  for (let from = 0; from < count;) {
    const to = core.mapping_run(from, count);
    rmapVmas(k, k.v.scratch[from], (mm, vma, delta) => {
      if (mm.notifierSubscriptions) notifyRun(k, count, from, to, mm, vma, delta);
      core.migrate_folios_remap(from, to, mm.pgd, vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, delta);
    });
    from = to;
  }
  core.migrate_folios_finish(count);
  return failed;
}
