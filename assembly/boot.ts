// Boot: lay out memory, carve the boot-time hugetlb pools, then hand the
// rest of RAM to the buddy allocator.
import { HPAGE_PMD_ORDER, HPAGE_PUD_ORDER, GFP_KERNEL, HUGETLB_TOTAL, HUGETLB_TOTAL_1G } from './constants';
import { mem_layout, movable_start, device_start, cma_start, stats } from './mem';
import { free_range, alloc_pages } from './buddy';
import { prep_hugetlb_folio } from './folio';
import { raw_attach } from './raw';

// Sizes in 4 KiB frames, each a multiple of 1024. Gigantic (1 GiB) pages
// are carved from ZONE_NORMAL below the CMA area, top down, before the
// buddy allocator sees that memory (as memblock does for hugepagesz=1G);
// 2 MiB pages are then allocated from the buddy allocator. A pool that does
// not fit comes out smaller (stats HUGETLB_TOTAL*), as in Linux.
export function boot(ram_frames: i32, movable_frames: i32, cma_frames: i32, device_frames: i32, pool_2m: i32,
  pool_1g: i32): void {
  mem_layout(ram_frames, movable_frames, cma_frames, device_frames, pool_2m, pool_1g);
  raw_attach(); // before anything below reads the arrays through assembly/raw.ts
  const giant = 1 << HPAGE_PUD_ORDER;
  const gig_top = (cma_start >>> HPAGE_PUD_ORDER) << HPAGE_PUD_ORDER;
  let gig_low = gig_top;
  let n1g = 0;
  while (n1g < pool_1g && gig_low - giant >= giant) {
    gig_low -= giant;
    prep_hugetlb_folio(gig_low, HPAGE_PUD_ORDER);
    n1g++;
  }
  stats[HUGETLB_TOTAL_1G] = <f64>n1g;
  // pfn 0 is the zero page: never handed to the allocator.
  free_range(1, gig_low);
  free_range(gig_top > 0 ? gig_top : 1, movable_start);
  free_range(movable_start, device_start);
  let n2m = 0;
  while (n2m < pool_2m) {
    const pfn = alloc_pages(HPAGE_PMD_ORDER, GFP_KERNEL);
    if (pfn < 0) break;
    prep_hugetlb_folio(pfn, HPAGE_PMD_ORDER);
    n2m++;
  }
  stats[HUGETLB_TOTAL] = <f64>n2m;
}
