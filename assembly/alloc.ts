// Zeroed arrays for the core's memory map (Wasm build). With the stub
// runtime every block is fresh memory from memory.grow, which WebAssembly
// guarantees to be zero, so the fill AssemblyScript's typed-array
// constructors do would only touch (and commit) every page at boot. The
// pure-TS build uses plain typed-array constructors (src/core/ts/alloc.ts).
function fresh(bytes: i32): ArrayBuffer {
  return changetype<ArrayBuffer>(__new(<usize>bytes, idof<ArrayBuffer>()));
}

export function new_i32(n: i32): Int32Array { return Int32Array.wrap(fresh(n << 2)); }
export function new_u32(n: i32): Uint32Array { return Uint32Array.wrap(fresh(n << 2)); }
export function new_f64(n: i32): Float64Array { return Float64Array.wrap(fresh(n << 3)); }
export function new_u8(n: i32): Uint8Array { return Uint8Array.wrap(fresh(n)); }
