// AssemblyScript's numeric types, as the pure-TS build of the core sees them.
// The shared core (assembly/) keeps to a subset that means the same in both
// languages: integers stay in i32 range or are wrapped explicitly with `| 0`,
// casts like <i32>x are applied only to values that are already integral.
type i32 = number;
type u32 = number;
type u8 = number;
type f64 = number;
type usize = number;
type bool = boolean;
type i64 = number; // Wasm-only (assembly/raw.ts): type-checked here, never run as JS
// The few AssemblyScript builtins that Wasm-only files (assembly/alloc.ts)
// use, declared so that tsc can check them; the pure-TS build replaces
// those files (scripts/build.mjs).
declare function changetype<T>(value: unknown): T;
declare function __new(size: number, id: number): number;
declare function idof<T>(): number;
declare function assert<T>(value: T, message?: string): T;
declare const ASC_NO_ASSERT: boolean; // AssemblyScript's; the TS build defines it true (scripts/build.mjs)
declare function isDefined(expr: unknown): boolean; // AssemblyScript's, compile time
declare const SPARSE_MEMMAP: number; // the sparse Wasm builds' `--use SPARSE_MEMMAP=1` (assembly/raw.ts)
declare function reinterpret<T>(value: number): T;
declare function load<T>(ptr: number): T;
declare function store<T>(ptr: number, value: T): void;
type v128 = { readonly v128: unique symbol };
declare function i32x4(a: number, b: number, c: number, d: number): v128;
declare namespace v128 {
  function load(ptr: number): v128;
  function store(ptr: number, v: v128): void;
  function and(a: v128, b: v128): v128;
  function or(a: v128, b: v128): v128;
  function andnot(a: v128, b: v128): v128;
  function any_true(a: v128): boolean;
}
declare namespace i32x4 {
  function splat(x: number): v128;
  function ne(a: v128, b: v128): v128;
  function eq(a: v128, b: v128): v128;
  function shr_u(a: v128, bits: number): v128;
  function ge_u(a: v128, b: v128): v128;
  function ge_s(a: v128, b: v128): v128;
  function gt_s(a: v128, b: v128): v128;
  function max_u(a: v128, b: v128): v128;
  function lt_s(a: v128, b: v128): v128;
  function all_true(a: v128): boolean;
  function add(a: v128, b: v128): v128;
  function sub(a: v128, b: v128): v128;
  function extract_lane(a: v128, lane: number): number;
}
interface Int32ArrayConstructor { wrap(buffer: ArrayBuffer): Int32Array }
interface Uint32ArrayConstructor { wrap(buffer: ArrayBuffer): Uint32Array }
interface Float64ArrayConstructor { wrap(buffer: ArrayBuffer): Float64Array }
interface Uint8ArrayConstructor { wrap(buffer: ArrayBuffer): Uint8Array }
