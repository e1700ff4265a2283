// Loads the Wasm core's module, compiled once per source and cached (each
// machine gets its own instance: src/core/create.ts). Where the .wasm comes
// from (WasmSource): a build flavour found beside the library (Node reads
// it from disk, browsers fetch it; bundlers see the `new URL(…,
// import.meta.url)` below and ship the file), or what the embedder hands
// over: a URL or path, a fetch Response, the bytes, or a compiled module.
// The flavours: 'release', flat memmaps only (up to 256 GiB), the fastest;
// 'sparse', also the sparse machines above, at a compare per struct-page
// access; 'debug', sparse-capable with every check on.

export type WasmFlavour = 'release' | 'sparse' | 'debug';
export type WasmSource = WasmFlavour | URL | string | Response | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

const FLAVOURS: readonly unknown[] = ['release', 'sparse', 'debug'] satisfies WasmFlavour[];
function isFlavour(v: unknown): v is WasmFlavour { return FLAVOURS.includes(v); }

// Defined true by scripts/build.mjs in dist/pinsim.js; undefined when the
// sources run directly (tests), where the .wasm sits in build/.
declare const __PINSIM_DIST__: boolean | undefined;

// Why the Wasm core could not be loaded: every place tried, why each
// failed, and what to do.
export class WasmLoadError extends Error {
  readonly code = 'ERR_PINSIM_WASM_LOAD';
  constructor(readonly what: string, readonly attempts: { source: string; error: string }[], hint: string) {
    super(`pinsim: cannot load the Wasm core (${what}). Tried:\n${
      attempts.map((a, i) => `  ${i + 1}. ${a.source}: ${a.error}`).join('\n')}\n${hint}`);
    this.name = 'WasmLoadError';
  }
}

const HINT = 'What to do: serve the .wasm from node_modules/pinsim/dist/ beside your bundle, or import it as a '
  + "URL and pass boot({ wasm: url }) (README: 'Using pinsim in a bundled web app'); or pass a WebAssembly.Module, a "
  + "Response or the bytes; or boot({ backend: 'ts' }), which needs no .wasm.";

// Where a flavour's .wasm may be. The literal new URL() calls are the
// pattern Vite, webpack 5, Rollup and Parcel recognise and rewrite to the
// emitted asset.
function flavourUrls(flavour: WasmFlavour): URL[] {
  const beside = flavour === 'release' ? new URL('./pinsim.release.wasm', import.meta.url)
    : flavour === 'sparse' ? new URL('./pinsim.sparse.wasm', import.meta.url)
      : new URL('./pinsim.debug.wasm', import.meta.url);
  if (typeof __PINSIM_DIST__ !== 'undefined') return [beside];
  return [beside, new URL(`../../build/pinsim.${flavour}.wasm`, import.meta.url)];
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

async function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}

// A string source: an absolute URL, or a path (Node: from the working
// directory; browsers: from the page).
async function toUrl(s: string): Promise<URL> {
  if (/^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s)) return new URL(s);
  if (isNode) return (await nodeImport<typeof import('node:url')>('node:url')).pathToFileURL(s);
  return new URL(s, globalThis.location?.href);
}

function describe(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/Content.Security.Policy|unsafe-eval/i.test(m)) {
    return `${m} (the page's Content-Security-Policy must allow 'wasm-unsafe-eval' in script-src)`;
  }
  return m;
}

// Compiles a fetched .wasm: streaming when the server says
// application/wasm, from the bytes otherwise (compileStreaming refuses any
// other MIME type); a page served in its place is named as such.
async function compileResponse(res: Response): Promise<WebAssembly.Module> {
  if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('application/wasm') && typeof WebAssembly.compileStreaming === 'function') {
    return WebAssembly.compileStreaming(res);
  }
  const bytes = await res.arrayBuffer();
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
    const isWasm = head.length === 4 && head[0] === 0 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d;
    if (!isWasm) throw new Error(`the server sent ${type || 'something'} (${bytes.byteLength} bytes) that is not a .wasm file`);
    throw e;
  }
}

async function compileUrl(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === 'file:') {
    if (!isNode) throw new Error('file: URLs can be read only in Node');
    const { readFile } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  return compileResponse(await fetch(url));
}

// Tries each URL in turn; the error lists them all.
async function compileFirst(what: string, urls: URL[]): Promise<WebAssembly.Module> {
  const attempts: { source: string; error: string }[] = [];
  for (const url of urls) {
    try {
      return await compileUrl(url);
    } catch (e) {
      attempts.push({ source: url.href, error: describe(e) });
    }
  }
  throw new WasmLoadError(what, attempts, HINT);
}

async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (isFlavour(source)) return compileFirst(`pinsim.${source}.wasm`, flavourUrls(source));
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : await toUrl(source);
    return compileFirst(String(source), [url]);
  }
  try {
    if (typeof Response !== 'undefined' && source instanceof Response) return await compileResponse(source);
    return await WebAssembly.compile(source as ArrayBuffer);
  } catch (e) {
    const what = source instanceof ArrayBuffer || ArrayBuffer.isView(source) ? 'the bytes given' : `the Response for ${(source as Response).url || 'a fetch'}`;
    throw new WasmLoadError(what, [{ source: what, error: describe(e) }], HINT);
  }
}

// Is v something boot({ wasm }) takes? (A string other than a flavour must
// name a .wasm file.)
export function isWasmSource(v: unknown): v is WasmSource {
  if (isFlavour(v)) return true;
  if (typeof v === 'string') return /\.wasm([?#].*)?$/i.test(v) || /^(blob|data):/i.test(v);
  return v instanceof URL || v instanceof WebAssembly.Module || v instanceof ArrayBuffer || ArrayBuffer.isView(v)
    || (typeof Response !== 'undefined' && v instanceof Response);
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

// The compiled module for a source; flavours and URLs are compiled once.
export function wasmModule(source: WasmSource = 'release'): Promise<WebAssembly.Module> {
  const key = typeof source === 'string' ? source : source instanceof URL ? source.href : null;
  if (key === null) return compileSource(source);
  let p = compiled.get(key);
  if (!p) {
    p = compileSource(source);
    p.catch(() => compiled.delete(key));
    compiled.set(key, p);
  }
  return p;
}
