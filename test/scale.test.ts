// Host memory per simulated frame at 16 GiB. (Boot time is measured by
// `npm run bench:boot`, not here: tests do not time things.)
import { describe, expect, it } from 'vitest';
import { boot } from '../src/index';

describe('scale', () => {
  it('boots 16 GiB of simulated RAM in at most 64 bytes of Wasm memory per frame, page tables aside', async () => {
    const k = await boot({ memory: '16GiB', backend: 'wasm' });
    const frames = k.nrFrames;
    expect(frames).toBe(4 * 1024 * 1024);
    const wasmBytes = k.v.flags.buffer.byteLength;
    const pageTableBytes = k.core.pt_capacity() * (4096 + 8); // table slots + their bookkeeping
    const perFrame = (wasmBytes - pageTableBytes) / frames;
    expect(perFrame).toBeLessThanOrEqual(64);
    expect(perFrame).toBeGreaterThanOrEqual(40); // struct page (32) + page-cache hash (8): the layout is what we think
    // The machine works at that size: a THP fault near the top of RAM.
    const t = k.spawn();
    const a = t.mmap({ length: 2 << 20, prot: 3, flags: 0x22 });
    t.write(a, 1);
    expect(k.page(t.translate(a)!).order).toBe(9);
    expect(k.meminfo().MemTotal).toBe(16 * 1024 * 1024);
  });
});
