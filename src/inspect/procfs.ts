// /proc text in the kernel's format: /proc/<pid>/maps (show_map_vma()) and
// /proc/meminfo (meminfo_proc_show()), built from the façade's objects.
import { PAGE_SIZE, VM_READ, VM_WRITE, VM_EXEC, VM_MAYSHARE } from '../../assembly/constants';
import type { FsType, SimFile } from '../fs/file';
import type { Vma } from '../mm/vma';
import type { MemInfo } from './page';

// Where pinsim's filesystems are mounted, and their st_dev (major, minor).
// Files on them show as <dir>/<name>; anonymous files (shared anonymous
// memory, memfd, MAP_HUGETLB) live on the kernel's internal mounts and show
// as unlinked: "/dev/zero (deleted)", "/memfd:NAME (deleted)",
// "/anon_hugepage (deleted)".
type Dev = [major: number, minor: number];
const MOUNTS: Record<FsType, { dir: string; dev: Dev }> = {
  tmpfs: { dir: '/dev/shm', dev: [0, 0x19] },
  hugetlbfs: { dir: '/dev/hugepages', dev: [0, 0x1b] },
  ext4: { dir: '/mnt/ext4', dev: [8, 1] }, // /dev/sda1
  xfs: { dir: '/mnt/xfs', dev: [8, 2] },
  btrfs: { dir: '/mnt/btrfs', dev: [0, 0x21] }, // btrfs reports an anonymous dev
  fsdax: { dir: '/mnt/pmem', dev: [259, 0] }, // ext4 -o dax on /dev/pmem0
};
// The internal mounts of anonymous files: shm_mnt, and hugetlbfs's for the default size.
const INTERNAL: Partial<Record<FsType, Dev>> = { tmpfs: [0, 0x01], hugetlbfs: [0, 0x0f] };

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

// d_path() of the file: the mount's directory, or for an unlinked
// anonymous file its name with " (deleted)".
function path(f: SimFile): string {
  if (!f.anonymous) return `${MOUNTS[f.fs].dir}/${f.name}`;
  const name = f.name.replace(/^\//, '').replace(/ \(deleted\)$/, '');
  return `/${name} (deleted)`;
}

// One line of /proc/<pid>/maps: show_vma_header_prefix() then the name,
// which starts at column 73 (the header is padded to 72, then a space).
export function mapsLine(v: Vma): string {
  const f = v.file;
  const perms = (v.flags & VM_READ ? 'r' : '-') + (v.flags & VM_WRITE ? 'w' : '-') + (v.flags & VM_EXEC ? 'x' : '-')
    + (v.flags & VM_MAYSHARE ? 's' : 'p');
  const start = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms}`;
  if (f) {
    const [major, minor] = (f.anonymous && INTERNAL[f.fs]) || MOUNTS[f.fs].dev;
    return `${`${start} ${hex(v.pgoff * PAGE_SIZE, 8)} ${hex(major, 2)}:${hex(minor, 2)} ${f.id} `.padEnd(72)} ${path(f)}`;
  }
  // A private MAP_HUGETLB mapping has a hugetlbfs file in Linux, none in
  // pinsim (hence inode 0).
  if (v.isHugetlb) return `${`${start} 00000000 00:${hex(INTERNAL.hugetlbfs![1], 2)} 0 `.padEnd(72)} /anon_hugepage (deleted)`;
  return `${start} 00000000 00:00 0 `;
}

export function procMaps(vmas: readonly Vma[]): string {
  return vmas.map((v) => `${mapsLine(v)}\n`).join('');
}

// /proc/meminfo: the fields pinsim keeps, in meminfo_proc_show()'s order,
// each value right-aligned in 8 columns after a 16-column label
// (show_val_kb()); the hugetlb block as hugetlb_report_meminfo() prints it
// for the default (2 MiB) size. pinsim has no hugetlb reservations or
// surplus pages, so HugePages_Rsvd and HugePages_Surp are 0.
export function procMeminfo(m: MemInfo): string {
  const kb = (name: string, v: number) => `${`${name}:`.padEnd(16)}${String(v).padStart(8)} kB\n`;
  const count = (name: string, v: number) => `${`${name}:`.padEnd(19)}${String(v).padStart(5)}\n`;
  return kb('MemTotal', m.MemTotal) + kb('MemFree', m.MemFree) + kb('Cached', m.Cached)
    + kb('Unevictable', m.Unevictable) + kb('Mlocked', m.Mlocked)
    + kb('AnonPages', m.AnonPages) + kb('Shmem', m.Shmem) + kb('PageTables', m.PageTables)
    + kb('AnonHugePages', m.AnonHugePages) + kb('CmaTotal', m.CmaTotal) + kb('CmaFree', m.CmaFree)
    + count('HugePages_Total', m.HugePages_Total) + count('HugePages_Free', m.HugePages_Free)
    + count('HugePages_Rsvd', 0) + count('HugePages_Surp', 0)
    + kb('Hugepagesize', m.Hugepagesize) + kb('Hugetlb', m.Hugetlb);
}
