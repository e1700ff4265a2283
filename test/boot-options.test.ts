// boot(): option errors carry Node-style codes and echo what was given; the
// Wasm core can come from a flavour, a URL, a path, a Response, bytes or a
// compiled module; a failed load lists every place tried.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { boot, wasmModule, WasmLoadError } from '../src/index';

const DEBUG_WASM = new URL('../build/pinsim.debug.wasm', import.meta.url);

async function bootError(opts: unknown): Promise<Error & { code?: string }> {
  try {
    await boot({ memory: '64MiB', wasm: 'debug', ...(opts as object) } as never);
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error(`boot(${JSON.stringify(opts)}) did not fail`);
}

describe('boot option errors', () => {
  it('an unknown option is refused, naming the known ones', async () => {
    const e = await bootError({ memery: '64MiB' });
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.message).toMatch(/unknown option 'memery'.*known: memory, backend/);
  });

  it.each([
    [{ memory: '17MiB' }, RangeError, 'ERR_INVALID_ARG_VALUE', /multiple of 4MiB, got '17MiB'/],
    [{ memory: '1TiB' }, RangeError, 'ERR_OUT_OF_RANGE', /^memory '1TiB' exceeds 256GiB/],
    [{ memory: '256GiB', pmem: '4MiB' }, RangeError, 'ERR_OUT_OF_RANGE', /memory '256GiB' \+ pmem '4MiB' exceeds/],
    [{ memory: '8MiB' }, RangeError, 'ERR_OUT_OF_RANGE', /at least 16MiB, got '8MiB'/],
    [{ memory: true }, TypeError, 'ERR_INVALID_ARG_TYPE', /memory must be a number of bytes/],
    [{ backend: 'gpu' }, RangeError, 'ERR_INVALID_ARG_VALUE', /backend must be one of 'wasm', 'ts', got 'gpu'/],
    [{ thp: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE', /thp must be one of/],
    [{ hugepages: { '4MiB': 1 } }, RangeError, 'ERR_INVALID_ARG_VALUE', /unknown size '4MiB'/],
    [{ wasm: 'fast' }, RangeError, 'ERR_INVALID_ARG_VALUE', /wasm must be 'release', 'sparse', 'debug', a URL or path.*got 'fast'/],
    [{ wasm: 42 }, TypeError, 'ERR_INVALID_ARG_TYPE', /got number/],
  ] as const)('%j', async (opts, cls, code, msg) => {
    const e = await bootError(opts);
    expect(e).toBeInstanceOf(cls);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
  });

  it('a pmem that was not given is not named in the size message', async () => {
    expect((await bootError({ memory: '1TiB' })).message).not.toMatch(/pmem/);
  });
});

describe('where the Wasm core comes from', () => {
  const bytes = readFileSync(DEBUG_WASM);
  const sources: [string, () => unknown][] = [
    ['a file: URL', () => DEBUG_WASM],
    ['a path', () => fileURLToPath(DEBUG_WASM)],
    ['a Response', () => new Response(bytes, { headers: { 'content-type': 'application/wasm' } })],
    ['a Response with the wrong MIME type (compiled from its bytes)', () => new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })],
    ['an ArrayBuffer', () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
    ['a Uint8Array', () => new Uint8Array(bytes)],
    ['a compiled module', () => new WebAssembly.Module(bytes)],
  ];
  it.each(sources)('%s', async (_, source) => {
    const k = await boot({ memory: '16MiB', wasm: source() as never });
    const t = k.spawn();
    const a = t.mmap({ length: 4096, prot: 3, flags: 0x22 });
    t.write(a, 7);
    expect(t.read(a)).toBe(7);
    expect(k.backend).toBe('wasm');
  });

  it('a missing file: the error lists what was tried and what to do', async () => {
    const e = await bootError({ wasm: '/nonexistent/pinsim.wasm' });
    expect(e).toBeInstanceOf(WasmLoadError);
    expect(e.code).toBe('ERR_PINSIM_WASM_LOAD');
    expect((e as WasmLoadError).attempts).toEqual([{ source: 'file:///nonexistent/pinsim.wasm', error: expect.stringMatching(/ENOENT/) }]);
    expect(e.message).toMatch(/Tried:\n {2}1\. file:\/\/\/nonexistent\/pinsim\.wasm: ENOENT/);
    expect(e.message).toMatch(/What to do: .*backend: 'ts'/);
  });

  it('a page served in place of the .wasm is named as such', async () => {
    const html = new Response('<!doctype html><title>404</title>', { headers: { 'content-type': 'text/html' } });
    const e = await bootError({ wasm: html });
    expect(e).toBeInstanceOf(WasmLoadError);
    expect(e.message).toMatch(/text\/html \(\d+ bytes\) that is not a \.wasm file/);
  });

  it('an HTTP error names the status', async () => {
    const e = await bootError({ wasm: new Response('gone', { status: 404, statusText: 'Not Found' }) });
    expect(e.message).toMatch(/HTTP 404 Not Found/);
  });

  it('wasmModule() compiles a flavour once', async () => {
    expect(await wasmModule('debug')).toBe(await wasmModule('debug'));
  });
});
