// The VMA the core is working on, as the façade describes it with set_vma()
// before each per-range call (the kernel's vmf->vma). VMAs themselves, and
// every per-VMA decision, live in the façade.
import { VM_SHARED, VM_MAYWRITE, VM_WRITE, VMA_THP_ELIGIBLE, VMA_WRITENOTIFY, VMA_HUGE_1G, VM_HUGETLB,
  HPAGE_PMD_ORDER, HPAGE_PUD_ORDER, GFP_HIGHUSER_MOVABLE, _PAGE_RW, _PAGE_DIRTY,
  _PAGE_ACCESSED } from './constants';

export let vma_flags = 0; // vm_flags
export let vma_backing = 0; // BACKING_*
export let vma_extra = 0; // VMA_* bits
export let vma_start = 0.0; // first vpn
export let vma_end = 0.0; // vpn after the last
export let vma_mapping = 0; // anon_vma id (anon) or file mapping id
export let vma_pgoff = 0.0; // file page index mapped at vma_start
export let vma_file_pages = 0.0; // i_size in pages: faults at or past it get SIGBUS
export let vma_dax_base = 0; // fsdax: pfn of the file's page 0
export let vma_anon_vma = 0; // anon_vma id for COW copies in a file VMA
export let alloc_gfp = GFP_HIGHUSER_MOVABLE; // GFP_HIGHUSER_PIN inside memalloc_pin_save()

export function set_vma(flags: i32, backing: i32, extra: i32, start: f64, end: f64, mapping: i32, pgoff: f64,
  file_pages: f64, dax_base: i32, anon_vma: i32): void {
  vma_flags = flags;
  vma_backing = backing;
  vma_extra = extra;
  vma_start = start;
  vma_end = end;
  vma_mapping = mapping;
  vma_pgoff = pgoff;
  vma_file_pages = file_pages;
  vma_dax_base = dax_base;
  vma_anon_vma = anon_vma;
}

export function set_alloc_gfp(gfp: i32): void { alloc_gfp = gfp; }

export function vma_is_shared(): bool { return (vma_flags & VM_SHARED) != 0; }
// is_cow_mapping(): private and may be written.
export function vma_is_cow(): bool { return (vma_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE; }
export function vma_thp(): bool { return (vma_extra & VMA_THP_ELIGIBLE) != 0; }
export function vma_writenotify(): bool { return (vma_extra & VMA_WRITENOTIFY) != 0; }
export function vma_is_hugetlb(): bool { return (vma_flags & VM_HUGETLB) != 0; }
export function vma_huge_order(): i32 { return (vma_extra & VMA_HUGE_1G) != 0 ? HPAGE_PUD_ORDER : HPAGE_PMD_ORDER; }
// The file page index that vpn maps.
export function vma_file_index(vpn: f64): f64 { return vma_pgoff + (vpn - vma_start); }
// The PTE write bit a new mapping of this VMA may carry.
export function vma_rw_bit(): i32 { return (vma_flags & VM_WRITE) != 0 ? _PAGE_RW : 0; }
// The bits a write fault gives the entry it resolves: dirty, and writable
// if the VMA is (maybe_mkwrite(): a FOLL_FORCE write to a read-only private
// mapping gets a read-only copy). An unshare fault only marks it young.
export function wp_bits(unshare: bool): i32 { return unshare ? _PAGE_ACCESSED : _PAGE_ACCESSED | _PAGE_DIRTY | vma_rw_bit(); }
