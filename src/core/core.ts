// The Core interface: what the façade needs from a core. Both builds of the
// shared core sources (assembly/) provide it: the Wasm module compiled by
// asc and the pure-TS bundle of the same sources run by the JS engine.
import type * as Api from '../../assembly/api';
import type { Backend, CoreViews } from './types';

export { CoreAbort, type Backend, type CoreViews } from './types';

export type CoreFunctions = typeof Api;

export interface Core extends CoreFunctions {
  readonly backend: Backend;
  // Valid after boot(); memory never grows afterwards, so neither do these.
  views(): CoreViews;
}

