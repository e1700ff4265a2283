// Creates a core for a machine: the pure-TS build, or an instance of the
// Wasm module (one instance per machine, the module compiled once).
import type { Core } from './core';
import type { Backend } from './types';
import { wasmModule, type WasmSource } from './load';
import { createWasmCore } from './wasm/wasm-core';
import { createTsCore } from './ts/ts-core';

export async function createCore(backend: Backend, wasm: WasmSource, nrFrames: () => number, sparse: boolean): Promise<Core> {
  if (backend === 'ts') return createTsCore(sparse);
  return createWasmCore(await wasmModule(wasm), nrFrames);
}
