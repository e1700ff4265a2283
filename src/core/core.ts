// The Core interface: what the façade needs from a core. Both builds of the
// shared core sources (assembly/) provide it: the Wasm module compiled by
// asc and the pure-TS bundle of the same sources run by the JS engine.
import type * as Api from '../../assembly/api';

export type CoreFunctions = typeof Api;
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

export interface Core extends CoreFunctions {
  readonly backend: Backend;
  // Valid after boot(); memory never grows afterwards, so neither do these.
  views(): CoreViews;
}

// Raised when the core aborts (an AssemblyScript assertion or bounds check).
export class CoreAbort extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreAbort';
  }
}
