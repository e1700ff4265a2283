// Zeroed arrays for the core's memory map (pure-TS build; see assembly/alloc.ts).
export function new_i32(n: number): Int32Array { return new Int32Array(n); }
export function new_u32(n: number): Uint32Array { return new Uint32Array(n); }
export function new_f64(n: number): Float64Array { return new Float64Array(n); }
export function new_u8(n: number): Uint8Array { return new Uint8Array(n); }
