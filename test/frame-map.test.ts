// k.frameMap(): the core's per-pixel summary of frames (assembly/frame_map.ts)
// that the lab draws. Each state is checked at one frame per pixel against
// what k.page() says of that frame, pixels of many frames take their most
// notable frame and their share in use, and both cores give the same bytes.
import { describe, expect, it } from 'vitest';
import { BACKENDS, C, anon, bootTest, PAGE } from './helpers';
import type { Kernel } from '../src/index';

const state = (b: number) => b & C.FRAME_STATE_MASK;
const fill = (b: number) => b >>> C.FRAME_FILL_SHIFT;

// A machine with one of everything: anon, page cache, a page table, an
// mlocked page, a pinned page, a hugetlb pool folio, free memory.
async function mixed(backend: 'wasm' | 'ts') {
  const k = await bootTest(backend, { memory: '64MiB', thp: 'never', hugepages: { '2MiB': 1 } });
  const t = k.spawn();
  const a = anon(t, 4);
  t.touch(a, 4 * PAGE, { write: true });
  t.mlock(a + PAGE, PAGE);
  const pages = k.pageArray(1);
  expect(k.pin_user_pages_fast(t, a + 2 * PAGE, 1, C.FOLL_WRITE, pages)).toBe(1);
  const f = k.createFile({ fs: 'ext4', size: PAGE });
  const fd = t.open(f);
  t.pwrite(fd, 0, 7);
  const pfn = (addr: number) => t.translate(addr)!;
  const fileAddr = t.mmap({ length: PAGE, prot: C.PROT_READ, flags: C.MAP_SHARED, fd });
  t.read(fileAddr);
  return { k, t, anonPfn: pfn(a), mlockedPfn: pfn(a + PAGE), pinnedPfn: pfn(a + 2 * PAGE), filePfn: pfn(fileAddr) };
}

function at(k: Kernel, pfn: number): number {
  return k.frameMap(pfn, 1, 1)[0];
}

describe.each(BACKENDS)('frameMap (%s core)', (backend) => {
  it('gives each frame its state, at one frame per pixel', async () => {
    const m = await mixed(backend);
    const { k } = m;
    expect(at(k, m.anonPfn)).toBe(C.FRAME_ANON | (15 << C.FRAME_FILL_SHIFT));
    expect(state(at(k, m.mlockedPfn))).toBe(C.FRAME_MLOCKED);
    expect(state(at(k, m.pinnedPfn))).toBe(C.FRAME_PINNED);
    expect(state(at(k, m.filePfn))).toBe(C.FRAME_FILE);
    expect(state(at(k, 0))).toBe(C.FRAME_OTHER); // the shared zero page
    const table = Array.from({ length: k.nrFrames }, (_, p) => p).find((p) => k.page(p).flags.includes('table'))!;
    expect(state(at(k, table))).toBe(C.FRAME_TABLE);
    const pool = Array.from({ length: k.nrFrames }, (_, p) => p).find((p) => k.page(p).flags.includes('hugetlb'))!;
    expect(state(at(k, pool))).toBe(C.FRAME_OTHER);
    // Every frame k.page() calls free (in the buddy or a free block's tail) is FRAME_FREE with no fill.
    const all = k.frameMap(0, 1, k.nrFrames);
    for (let p = 0; p < k.nrFrames; p += 97) {
      const pg = k.page(p);
      const free = pg.refcount === 0 && !pg.flags.includes('hugetlb') && pg.mapping === 0;
      expect(all[p] === 0, `pfn ${p}: ${JSON.stringify(pg)}`).toBe(free);
    }
  });

  it('summarises a pixel by its most notable frame and its share in use', async () => {
    const m = await mixed(backend);
    const { k } = m;
    const per = 4096;
    const px = k.frameMap(0, per, Math.ceil(k.nrFrames / per));
    const i = Math.floor(m.pinnedPfn / per);
    expect(state(px[i])).toBe(C.FRAME_PINNED); // one pinned page is never hidden
    expect(fill(px[i])).toBeGreaterThan(0);
    expect(fill(px[i])).toBeLessThan(15); // most of those 4096 frames are free
    const whole = k.frameMap(0, k.nrFrames, 1)[0];
    expect(state(whole)).toBe(C.FRAME_PINNED);
    // Pixels past the last frame are empty.
    expect([...k.frameMap(k.nrFrames - 1, 1, 3)].slice(1)).toEqual([0, 0]);
  });

  it('copies more pixels than one core call holds, and agrees with per-frame calls', async () => {
    const k = await bootTest(backend, { memory: '2GiB', thp: 'never' });
    const t = k.spawn();
    const a = anon(t, 1024);
    t.touch(a, 1024 * PAGE, { write: true });
    const n = C.FRAME_SUMMARY_MAX + 1000;
    const big = k.frameMap(0, 1, n);
    const last = Array.from({ length: 1000 }, (_, i) => at(k, C.FRAME_SUMMARY_MAX + i));
    expect([...big.subarray(C.FRAME_SUMMARY_MAX)]).toEqual(last);
    const all = k.frameMap(0, 1, k.nrFrames);
    expect(all.subarray(0, n)).toEqual(big);
    expect(all.filter((b) => state(b) === C.FRAME_ANON).length).toBe(1024);
  });

  it('refuses bad arguments with a clear error', async () => {
    const k = await bootTest(backend);
    expect(() => k.frameMap(-1, 1, 1)).toThrow(RangeError);
    expect(() => k.frameMap(k.nrFrames, 1, 1)).toThrow(/start must be an integer in 0\.\./);
    expect(() => k.frameMap(0, 0, 1)).toThrow(/perPixel/);
    expect(() => k.frameMap(0, 1.5, 1)).toThrow(RangeError);
    expect(() => k.frameMap(0, 1, 0)).toThrow(/pixels/);
    expect(() => k.frameMap('0' as unknown as number, 1, 1)).toThrow(TypeError);
    expect(() => k.frameMap(0, 1, 8, new Uint8Array(4))).toThrow(/at least 8 bytes/);
  });
});

describe('frameMap: both cores agree', () => {
  it('on every byte of a mixed machine at several zooms', async () => {
    const [w, t] = await Promise.all(BACKENDS.map(mixed));
    for (const per of [1, 3, 512, 4096]) {
      const n = Math.ceil(w.k.nrFrames / per);
      expect(Buffer.from(w.k.frameMap(0, per, n)).equals(Buffer.from(t.k.frameMap(0, per, n)))).toBe(true);
    }
    expect(w.k.frameMap(5, 7, 100)).toEqual(t.k.frameMap(5, 7, 100));
  });
});
