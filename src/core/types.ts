// The core's public-facing types: which build runs a machine, the
// typed-array views of its state, and the error a core failure raises.
// Kept apart from core.ts, whose Core type is the AssemblyScript API's.
export type Backend = 'wasm' | 'ts';

// Typed-array views of the core's state, made once after boot.
export interface CoreViews {
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
