// The Wasm core's flavours: 'release' keeps a flat memmap only (pfn_to_page()
// folded to the identity), so it refuses a machine above 256 GiB before
// booting it and names the fix; 'sparse' (the default there) and 'debug'
// hold one.
import { describe, expect, it } from 'vitest';
import { boot, wasmModule } from '../src/index';

const TIB = { memory: '1TiB', hugepages: { '1GiB': 900 } } as const;

async function bootError(opts: Parameters<typeof boot>[0]): Promise<Error & { code?: string }> {
  try {
    await boot(opts);
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('boot did not fail');
}

describe('Wasm flavours and the sparse memmap', () => {
  it('the release build is flat-only; sparse and debug are sparse-capable', async () => {
    const capable = async (f: 'release' | 'sparse' | 'debug') => {
      const k = await boot({ memory: '16MiB', wasm: f });
      return !!k.core.sparse_capable();
    };
    expect([await capable('release'), await capable('sparse'), await capable('debug')]).toEqual([false, true, true]);
  });

  it("the release build refuses a 1 TiB machine, naming wasm: 'sparse'", async () => {
    for (const wasm of ['release', await wasmModule('release')] as const) {
      const e = await bootError({ ...TIB, wasm });
      expect(e).toBeInstanceOf(RangeError);
      expect(e.code).toBe('ERR_OUT_OF_RANGE');
      expect(e.message).toMatch(/memory '1TiB' exceeds 256GiB, which this Wasm core .* cannot hold: pass wasm: 'sparse'/);
    }
  });

  it('the sparse flavour boots it, and is the default there', { timeout: 60_000 }, async () => {
    for (const wasm of ['sparse', undefined] as const) {
      const k = await boot({ ...TIB, wasm });
      expect(k.nrFrames).toBe(2 ** 28);
      expect(k.core.sparse_capable()).toBeTruthy();
      expect(k.meminfo().HugePages1G_Free).toBe(900);
    }
  });
});
