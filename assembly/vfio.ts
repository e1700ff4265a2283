// VFIO type1's walk over the pfns a pin filled (vfio_pin_pages_remote()):
// a run is physically contiguous pages of the same reserved-ness; it is
// charged and IOMMU-mapped as one. Entries are read from the page-array
// arena (gup_pages), where the pin wrote them.
import { PG_reserved } from './constants';
import { gup_pages, nr_frames } from './mem';
import { flags_at } from './raw';

let run_reserved = false;

// is_invalid_reserved_pfn(): no struct page, or PageReserved (the zero page).
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function reserved(pfn: i32): bool {
  return pfn >= nr_frames || (flags_at(pfn) & PG_reserved) != 0;
}

// The length of the run at arena entry `off`, at most n entries:
// pfn[off + i] == pfn[off] + i with the first entry's reserved-ness
// (vfio_run_reserved() tells which).
export function vfio_pfn_run(off: i32, n: i32): i32 {
  const base = gup_pages[off];
  run_reserved = reserved(base);
  let i = 1;
  while (i < n && gup_pages[off + i] == base + i && reserved(base + i) == run_reserved) i++;
  return i;
}

export function vfio_run_reserved(): bool { return run_reserved; }

// One pfn's reserved-ness (vfio_pin_page_external()'s accounting test).
export function vfio_pfn_reserved(pfn: i32): bool { return reserved(pfn); }
