// The memory lines of /proc/<pid>/status (fs/proc/task_mmu.c task_mem()
// and hugetlb_report_usage()), in kB.
import { PAGE_SIZE } from '../../assembly/constants';
import type { Mm } from '../mm/mm';

export interface ProcStatus {
  VmSize: number;
  VmLck: number;
  VmPin: number;
  VmRSS: number;
  RssAnon: number;
  RssFile: number;
  RssShmem: number;
  VmPTE: number;
  HugetlbPages: number;
}

const kB = (pages: number) => (pages * PAGE_SIZE) / 1024;

// What it needs of the machine (typed here so the public types stay free of the core's).
interface RssHost { core: { mm_rss(pgd: number): void }; v: { scratch: Uint32Array } }

export function procStatus(k: RssHost, mm: Mm): ProcStatus {
  k.core.mm_rss(mm.pgd);
  const s = k.v.scratch;
  const [anon, file, shmem, hugetlb, tables] = [s[0]!, s[1]!, s[2]!, s[3]!, s[4]!];
  return {
    VmSize: kB(mm.total_vm), VmLck: kB(mm.locked_vm), VmPin: kB(mm.pinned_vm),
    VmRSS: kB(anon + file + shmem), RssAnon: kB(anon), RssFile: kB(file), RssShmem: kB(shmem),
    VmPTE: kB(tables), HugetlbPages: kB(hugetlb),
  };
}

// Each line: the name, a tab, the value right-aligned in 8 columns, " kB".
export function procStatusText(st: ProcStatus): string {
  return Object.entries(st).map(([name, v]) => `${name}:\t${String(v).padStart(8)} kB\n`).join('');
}
