// Migration of the folios listed in the core's scratch (assembly/migrate.ts),
// as migrate_pages_batch() does it: unmap and copy them all, repoint every
// mapping, then move them all. The rmap is walked once per run of listed
// folios that share an anon_vma or file (one run for a process's anon
// range), not once per folio.
import { PAGE_SIZE } from '../../assembly/constants';
import type { KernelBase } from '../kernel';
import { rmapVmas } from './rmap';

// Migrates scratch[0, count); returns how many folios could not move
// (their -errno is in scratch[MIGRATE_BATCH + i]).
export function migrateListed(k: KernelBase, count: number): number {
  const core = k.core;
  const failed = core.migrate_folios_start(count);
  for (let from = 0; from < count;) {
    const to = core.mapping_run(from, count);
    rmapVmas(k, k.v.scratch[from], (mm, vma, delta) => core.migrate_folios_remap(from, to, mm.pgd,
      vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, delta));
    from = to;
  }
  core.migrate_folios_finish(count);
  return failed;
}
