// Creates a core for a machine. The Wasm module is compiled once per build
// flavour and cached; each machine gets its own instance. In browsers the
// .wasm is fetched (compileStreaming) from beside the library; in Node it is
// read from disk; or the embedder hands over a WebAssembly.Module.
import type { Backend, Core } from './core';
import { createWasmCore } from './wasm/wasm-core';
import { createTsCore } from './ts/ts-core';

export type WasmFlavour = 'release' | 'debug';
export type WasmSource = WasmFlavour | WebAssembly.Module;

const compiled = new Map<WasmFlavour, Promise<WebAssembly.Module>>();

// Where the .wasm may sit relative to this module: beside the bundle in
// dist/, or in build/ when running from the sources.
function candidates(flavour: WasmFlavour): URL[] {
  const name = `pinsim.${flavour}.wasm`;
  return [new URL(`./${name}`, import.meta.url), new URL(`../../build/${name}`, import.meta.url)];
}

async function readNode(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const fs = 'node:fs/promises';
  const { readFile } = await import(/* @vite-ignore */ fs);
  return readFile(url);
}

async function compile(flavour: WasmFlavour): Promise<WebAssembly.Module> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  let lastError: unknown;
  for (const url of candidates(flavour)) {
    try {
      if (isNode || url.protocol === 'file:') return await WebAssembly.compile(await readNode(url));
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return await WebAssembly.compileStreaming(res);
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`pinsim: cannot load pinsim.${flavour}.wasm: ${String(lastError)}`);
}

export function wasmModule(flavour: WasmFlavour): Promise<WebAssembly.Module> {
  let p = compiled.get(flavour);
  if (!p) {
    p = compile(flavour);
    p.catch(() => compiled.delete(flavour));
    compiled.set(flavour, p);
  }
  return p;
}

export async function createCore(backend: Backend, wasm: WasmSource, nrFrames: () => number, ramFrames: () => number): Promise<Core> {
  if (backend === 'ts') return createTsCore();
  const module = wasm instanceof WebAssembly.Module ? wasm : await wasmModule(wasm);
  return createWasmCore(module, nrFrames, ramFrames);
}
