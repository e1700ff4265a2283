// Entry point of the Wasm build: the core's interface plus the addresses of
// its arrays, from which the loader makes typed-array views once, after boot.
import {
  VIEW_FLAGS, VIEW_REFCOUNT, VIEW_MAPCOUNT, VIEW_DATA, VIEW_MAPPING, VIEW_INDEX, VIEW_HEAD, VIEW_MIGRATETYPE,
  VIEW_SCRATCH, VIEW_STATS, VIEW_ZONE_FREE, VIEW_PAGES,
} from './constants';
import {
  pg_flags, pg_refcount, pg_mapcount, pg_data, pg_mapping, pg_index, pg_head, pb_migratetype, scratch, stats,
  zone_free, gup_pages,
} from './mem';

export * from './api';

// Grows the memory once by what boot() will allocate (layout_bytes()), so
// that the allocator never grows it piecemeal (doubling) during boot.
export function reserve(bytes: f64): bool {
  const have = <f64>memory.size() * 65536.0;
  const need = <f64>__heap_base + bytes;
  if (need <= have) return true;
  return memory.grow(<i32>Math.ceil((need - have) / 65536.0)) >= 0;
}

export function view_ptr(which: i32): usize {
  switch (which) {
    case VIEW_FLAGS: return pg_flags.dataStart;
    case VIEW_REFCOUNT: return pg_refcount.dataStart;
    case VIEW_MAPCOUNT: return pg_mapcount.dataStart;
    case VIEW_DATA: return pg_data.dataStart;
    case VIEW_MAPPING: return pg_mapping.dataStart;
    case VIEW_INDEX: return pg_index.dataStart;
    case VIEW_HEAD: return pg_head.dataStart;
    case VIEW_MIGRATETYPE: return pb_migratetype.dataStart;
    case VIEW_SCRATCH: return scratch.dataStart;
    case VIEW_STATS: return stats.dataStart;
    case VIEW_ZONE_FREE: return zone_free.dataStart;
    case VIEW_PAGES: return gup_pages.dataStart;
  }
  return 0;
}
