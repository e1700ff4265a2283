// The core's public-facing types: which build runs a machine, the
// typed-array views of its state, and the error a core failure raises.
// Kept apart from core.ts, whose Core type is the AssemblyScript API's.
export type Backend = 'wasm' | 'ts';

// Typed-array views of the core's state, made once after boot. The struct
// page arrays (flags ... head) are indexed by page(pfn), pfn_to_page() of
// assembly/mem.ts: the pfn itself but on a sparse machine's 1 GiB folios.
export interface CoreViews {
  page: (pfn: number) => number;
  flags: Int32Array;
  refcount: Int32Array;
  mapcount: Int32Array;
  data: Uint32Array;
  mapping: Int32Array;
  index: Float64Array;
  head: Int32Array;
  migratetype: Uint8Array;
  scratch: Uint32Array;
  stats: Float64Array;
  zoneFree: Int32Array;
  pages: Int32Array; // the page-array arena (PageArray storage)
}

// Raised when the core aborts (an AssemblyScript assertion or bounds check).
export class CoreAbort extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreAbort';
  }
}

// pfn_to_page() of a machine whose sparse part starts at pfn `start` (see
// assembly/mem.ts): four struct pages per 1 GiB folio above it.
export function pfnToPage(start: number): (pfn: number) => number {
  return (pfn) => {
    if (pfn < start) return pfn;
    const off = pfn - start;
    return start + Math.floor(off / 2 ** 18) * 4 + Math.min(off % 2 ** 18, 3);
  };
}
