// The Wasm core: one compiled module (cached by the loader), one instance
// per machine. Its functions are the instance's exports; its views are
// typed arrays over the instance's memory at the addresses view_ptr() gives.
import {
  VIEW_FLAGS, VIEW_REFCOUNT, VIEW_MAPCOUNT, VIEW_DATA, VIEW_MAPPING, VIEW_INDEX, VIEW_HEAD, VIEW_MIGRATETYPE,
  VIEW_SCRATCH, VIEW_STATS, VIEW_ZONE_FREE, VIEW_PAGES, SCRATCH_WORDS, NR_STATS, MAX_NR_ZONES, PAGEBLOCK_ORDER,
} from '../../../assembly/constants';
import { CoreAbort, type Core, type CoreViews } from '../core';
import { pfnToPage } from '../types';

interface WasmExports extends Core {
  memory: WebAssembly.Memory;
  view_ptr(which: number): number;
  reserve(bytes: number): number;
}

// An AssemblyScript string: UTF-16 code units, byte length at ptr - 4.
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}

export function createWasmCore(module: WebAssembly.Module, nrFrames: () => number): Core {
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, column: number): never {
        const m = memory ? `${readAsString(memory, msg)} at ${readAsString(memory, file)}:${line}:${column}` : 'abort';
        throw new CoreAbort(`Wasm core aborted: ${m}`);
      },
    },
  };
  const instance = new WebAssembly.Instance(module, imports);
  const exp = instance.exports as unknown as WasmExports;
  memory = exp.memory;
  // Own data properties, not a prototype chain to the frozen exports object:
  // one JS→Wasm call per GUP call is the hot path.
  const core = Object.fromEntries(Object.entries(exp).filter(([, v]) => typeof v === 'function')) as unknown as Core;
  const views = (): CoreViews => {
    const buf = exp.memory.buffer;
    const n = exp.memmap_len(); // struct pages: fewer than frames on a sparse machine
    const at = (which: number) => exp.view_ptr(which) >>> 0; // a usize: above 2 GiB it comes back negative
    return {
      page: pfnToPage(exp.sparse_start()),
      flags: new Int32Array(buf, at(VIEW_FLAGS), n),
      refcount: new Int32Array(buf, at(VIEW_REFCOUNT), n),
      mapcount: new Int32Array(buf, at(VIEW_MAPCOUNT), n),
      data: new Uint32Array(buf, at(VIEW_DATA), n),
      mapping: new Int32Array(buf, at(VIEW_MAPPING), n),
      index: new Float64Array(buf, at(VIEW_INDEX), n),
      head: new Int32Array(buf, at(VIEW_HEAD), n),
      migratetype: new Uint8Array(buf, at(VIEW_MIGRATETYPE), nrFrames() >>> PAGEBLOCK_ORDER),
      scratch: new Uint32Array(buf, at(VIEW_SCRATCH), SCRATCH_WORDS),
      stats: new Float64Array(buf, at(VIEW_STATS), NR_STATS),
      zoneFree: new Int32Array(buf, at(VIEW_ZONE_FREE), MAX_NR_ZONES),
      pages: new Int32Array(buf, at(VIEW_PAGES), exp.arena_len()),
    };
  };
  // Reserve the whole memory map in one memory.grow before boot lays it out.
  const boot: Core['boot'] = (ram, movable, cma, device, pool2m, pool1g) => {
    if (!exp.reserve(exp.layout_bytes(ram, device, pool2m, pool1g))) {
      throw new RangeError('pinsim: the Wasm memory cannot grow to hold this machine');
    }
    exp.boot(ram, movable, cma, device, pool2m, pool1g);
  };
  Object.defineProperties(core, { backend: { value: 'wasm' }, views: { value: views }, boot: { value: boot } });
  return core;
}
