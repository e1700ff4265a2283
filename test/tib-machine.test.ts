// A 1 TiB machine of mostly 1 GiB hugetlb pages (issue 14): a sparse
// memmap keeps struct pages for the 124 GiB below the pool and four per
// 1 GiB folio above it (HVO). It boots on both cores, a MAP_HUGETLB mapping
// is pinned long-term over its PUD leaves, VFIO maps 512 GiB of it charged
// to locked_vm, and everything is given back. The Wasm core runs its debug
// build (bounds checks on every struct page access).
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, ANON_PRIVATE } from './helpers';

const GiB = 1024 ** 3;
const HUGE_1G = ANON_PRIVATE | C.MAP_HUGETLB | C.MAP_HUGE_1GB;
const IOVA = 2 ** 32;
const RW_DMA = C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE;

describe.each(BACKENDS)('a 1 TiB machine with 900 x 1 GiB hugetlb (%s core)', (backend) => {
  it('boots, pins 1 GiB leaves long-term, VFIO-maps 512 GiB and releases it all', { timeout: 120_000 }, async () => {
    const k = await bootTest(backend, { memory: '1TiB', hugepages: { '1GiB': 900 }, memlock: Infinity });
    expect(k.nrFrames).toBe(2 ** 28);
    expect(k.v.flags.length).toBe(124 * 2 ** 18 + 4096); // struct pages: 124 GiB flat + 900 x 4, rounded
    expect(k.meminfo().MemTotal).toBe(1024 * 1024 * 1024);
    expect(k.meminfo().HugePages1G_Total).toBe(900);
    if (backend === 'wasm') expect(k.v.flags.buffer.byteLength).toBeLessThanOrEqual(4 * GiB);

    const t = k.spawn();
    const a = t.mmap({ length: 2 * GiB, prot: RW, flags: HUGE_1G });
    const pa = k.pageArray(2 * 2 ** 18);
    expect(k.pin_user_pages_fast(t, a, pa.length, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(pa.length);
    const head = pa.pfns[0];
    expect(head).toBeGreaterThanOrEqual(124 * 2 ** 18); // above the flat part: a sparse folio
    const tail = pa.pfns[2 ** 18 - 1];
    expect(tail).toBe(head + 2 ** 18 - 1);
    expect(t.translate(a + (2 ** 18 - 1) * PAGE)).toBe(tail);
    expect(k.page(tail)).toMatchObject({ head, order: 18, pincount: 2 ** 18, refcount: 2 ** 18 + 1, maybeDmaPinned: true });
    expect(k.page(tail).flags).toContain('tail');
    expect(k.page(head + 1).flags).toContain('tail');
    expect(k.meminfo().HugePages1G_Free).toBe(898);
    // The data of pages past a folio's page[2] is not kept: a store there is refused.
    t.write(a + 2 * PAGE, 7);
    expect(t.read(a + 2 * PAGE)).toBe(7);
    expect(() => t.write(a + 5 * PAGE, 7)).toThrow(/contents pinsim does not keep/);
    expect(() => k.dma_write(tail, 1)).toThrow(RangeError);
    // An O_DIRECT read into those pages is refused before any DMA, its pins given back.
    const f = k.createFile({ fs: 'ext4', size: 8 * PAGE, name: 'disk' });
    const fd = t.open(f, { direct: true });
    const held = k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released;
    expect(() => t.preadv(fd, [{ base: a + 2 * PAGE, len: 2 * PAGE }], 0)).toThrow(/contents pinsim does not keep/);
    expect(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released).toBe(held);
    expect(t.preadv(fd, [{ base: a, len: 3 * PAGE }], 0)).toBe(3 * PAGE); // pages 0..2 keep theirs
    k.unpin_user_pages(pa, pa.length);
    expect(k.page(tail)).toMatchObject({ pincount: 0, refcount: 1, maybeDmaPinned: false });

    const c = t.vfio({ iommu: 'type1v2' });
    const size = 512 * GiB;
    const v = t.mmap({ length: size, prot: RW, flags: HUGE_1G });
    c.map_dma({ vaddr: v, iova: IOVA, size, flags: RW_DMA });
    expect(t.mm.locked_vm).toBe(size / PAGE);
    expect(k.meminfo().HugePages1G_Free).toBe(898 - 512);
    const last = t.translate(v + size - PAGE)!;
    expect(c.domain.iova_to_pfn(IOVA + size - PAGE)).toBe(last);
    expect(k.page(last)).toMatchObject({ pincount: 2 ** 18, refcount: 2 ** 18 + 1 });
    expect(k.vmstat().nr_foll_pin_acquired - k.vmstat().nr_foll_pin_released).toBe(size / PAGE);
    expect(c.unmap_dma({ iova: IOVA, size })).toBe(size);
    expect(t.mm.locked_vm).toBe(0);
    expect(k.page(last)).toMatchObject({ pincount: 0, refcount: 1 });
    expect(k.vmstat().nr_foll_pin_acquired).toBe(k.vmstat().nr_foll_pin_released);

    t.munmap(v, size);
    t.munmap(a, 2 * GiB);
    expect(k.meminfo().HugePages1G_Free).toBe(900);
    expect(k.page(last)).toMatchObject({ refcount: 0, mapcount: 0 });
  });

  it('refuses machines above 256 GiB that are not mostly 1 GiB pages', async () => {
    const refused = async (opts: object, msg: RegExp) => {
      await expect(bootTest(backend, opts)).rejects.toThrow(msg);
    };
    await refused({ memory: '1TiB', hugepages: { '1GiB': 800 } }, /all but 1\.\.128GiB in hugepages\['1GiB'\] \(got 800\)/);
    await refused({ memory: '1TiB', hugepages: { '1GiB': 1024 } }, /got 1024/);
    await refused({ memory: '2TiB', hugepages: { '1GiB': 2000 } }, /exceeds 1024GiB/);
    await refused({ memory: '1000GiB', hugepages: { '1GiB': 900 }, movable: '4GiB' }, /no movable or cma/);
    await refused({ memory: `${1024 * 1024 - 4}MiB`, hugepages: { '1GiB': 900 } }, /a whole number of GiB/);
  });
});
