// The Wasm core, fetched from beside the bundle (scripts/lab.mjs copies it).
export const WASM = new URL('./pinsim.release.wasm', import.meta.url);
