// A device's view of memory: dma_write/dma_read on page frames, and the
// writeback hazard of DMA into file pages (kernel-semantics.md 7.1).
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, anon, C, PAGE, RW } from './helpers';

describe.each(BACKENDS)('DMA into pinned pages (%s core)', (backend) => {
  it('a device write into a pinned anon page is what the task then reads; nothing is logged', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 1);
    t.write(a, 1);
    const pa = k.pageArray(1);
    expect(k.pin_user_pages_fast(t, a, 1, C.FOLL_WRITE, pa)).toBe(1);
    const log = k.dmesg().length;
    k.dma_write(pa.get(0)!, 0xd1a);
    expect(t.read(a)).toBe(0xd1a);
    expect(k.dma_read(pa.get(0)!)).toBe(0xd1a);
    expect(k.dmesg().length).toBe(log);
    k.unpin_user_pages(pa, 1);
  });

  it('DMA into a clean page-cache folio of an ext4 file after writeback: logged, lost unless dirtied at unpin', async () => {
    const k = await bootTest(backend);
    const f = k.createFile({ fs: 'ext4', size: 2 * PAGE, name: 'db' });
    const t = k.spawn();
    const fd = t.open(f);
    const m = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd });
    t.write(m, 1);
    t.write(m + PAGE, 2);
    const pa = k.pageArray(2);
    expect(k.pin_user_pages(t, m, 2, C.FOLL_WRITE, pa)).toBe(2); // short-term: allowed on ext4
    expect(k.writeback(f).written).toBe(2); // folio_mkclean(): clean, write-protected
    k.dma_write(pa.get(0)!, 0xaa);
    k.dma_write(pa.get(1)!, 0xbb);
    expect(k.dmesg().filter((l) => l.includes('DMA write into clean page-cache folio'))).toHaveLength(2);
    // Page 0 is released dirty (the right call), page 1 not (the bug pinning exposes).
    k.unpin_user_pages_dirty_lock(pa.subarray(0, 1), 1, true);
    k.unpin_user_pages(pa.subarray(1, 2), 1);
    const report = k.writeback(f);
    expect(report.hazards).toEqual([]); // pinned at writeback: it kept its buffers (6.4+, d824ec2a1546)
    expect(t.pread(fd, 0)).toBe(0xaa);
    expect([f.store.get(0), f.store.get(1)]).toEqual([0xaa, 2]); // the device's 0xbb never reached the disk
  });
});
