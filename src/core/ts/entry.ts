// Entry point of the pure-TS build of the core: the same interface as the
// Wasm build (assembly/index.ts), with the arrays themselves as its views.
// scripts/build.mjs bundles this file into a factory, so that every machine
// gets its own copy of the core's module state.
import {
  pg_flags, pg_refcount, pg_mapcount, pg_data, pg_mapping, pg_index, pg_head, pb_migratetype, scratch, stats,
  zone_free, gup_pages,
} from '../../../assembly/mem';

export * from '../../../assembly/api';

// In VIEW_* order (assembly/constants.ts).
export function view_list(): ArrayBufferView[] {
  return [pg_flags, pg_refcount, pg_mapcount, pg_data, pg_mapping, pg_index, pg_head, pb_migratetype, scratch, stats,
    zone_free, gup_pages];
}
