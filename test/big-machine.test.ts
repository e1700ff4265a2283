// A 256 GiB machine (2^26 frames, pinsim's largest): it boots on both cores
// inside one 32-bit Wasm memory, and pfns above 2^24 (what the older 24-bit
// PTE pfn field could hold) survive the page tables, a FOLL_LONGTERM
// migration and an unpin. Only a few MiB are touched: the memory map is
// committed as it is used.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, ANON_PRIVATE, RW } from './helpers';

const GiB = 1024 ** 3;

describe.each(BACKENDS)('a 256 GiB machine (%s core)', (backend) => {
  it('boots, maps and pins pages above pfn 2^24, and migrates them down for FOLL_LONGTERM', { timeout: 60_000 }, async () => {
    const k = await bootTest(backend, { memory: '256GiB', movable: '128GiB', thp: 'never' });
    expect(k.nrFrames).toBe(2 ** 26);
    expect(k.meminfo().MemTotal).toBe(256 * 1024 * 1024);
    // The page-table pool is what 4 GiB leaves beside the rest: RAM twice
    // over in 4 KiB PTE tables, not the four times smaller machines get.
    const slots = k.core.pt_capacity();
    expect(slots * 512 * PAGE).toBeGreaterThanOrEqual(2 * 256 * GiB - 4 * GiB);
    expect(slots * 512 * PAGE).toBeLessThan(4 * 256 * GiB);
    if (backend === 'wasm') expect(k.v.flags.buffer.byteLength).toBeLessThanOrEqual(4 * GiB);

    const t = k.spawn({ memlock: Infinity });
    const pages = 1024;
    const a = t.mmap({ length: pages * PAGE, prot: RW, flags: ANON_PRIVATE });
    for (let i = 0; i < pages; i++) t.write(a + i * PAGE, 0x1000 + i);
    const before = t.translate(a)!;
    expect(before).toBeGreaterThanOrEqual(2 ** 25); // user pages come from ZONE_MOVABLE, the top half
    expect(k.page(before).zone).toBe('Movable');

    const pa = k.pageArray(pages);
    expect(k.pin_user_pages_fast(t, a, pages, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(pages);
    const pfns = pa.pfns;
    expect(k.page(pfns[0]).maybeDmaPinned).toBe(true);
    for (let i = 0; i < pages; i++) {
      expect(pfns[i]).toBe(t.translate(a + i * PAGE));
      expect(k.folio_is_longterm_pinnable(pfns[i])).toBe(true);
    }
    expect(pfns[0]).toBeLessThan(2 ** 25);
    expect(k.vmstat().pgmigrate_success).toBe(pages);
    for (let i = 0; i < pages; i++) expect(t.read(a + i * PAGE)).toBe(0x1000 + i);
    k.unpin_user_pages(pa, pages);
    // The first try pinned the movable pages and dropped them to migrate.
    expect(k.vmstat().nr_foll_pin_acquired).toBe(2 * pages);
    expect(k.vmstat().nr_foll_pin_released).toBe(2 * pages);
    expect(k.page(pfns[0]).maybeDmaPinned).toBe(false); // (k.check() scans all 2^26 frames: seconds)
  });

  it('says ENOMEM from the page-table pool, not RAM, when sparse faults use up its slots', async () => {
    const k = await bootTest(backend, { memory: '64MiB', thp: 'never' }); // the smallest pool: 512 tables
    const t = k.spawn();
    const span = 2 * 1024 * 1024; // one PTE table per page touched
    const a = t.mmap({ length: 600 * span, prot: RW, flags: ANON_PRIVATE | C.MAP_NORESERVE });
    let i = 0;
    let err: unknown;
    try {
      for (; i < 600; i++) t.write(a + i * span, 1);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('ENOMEM');
    expect((err as Error).message).toMatch(/page-table pool is full \(512 tables; Linux would allocate more\)/);
    expect(k.vmstat().nr_page_table_pages).toBe(k.core.pt_capacity());
    expect(i).toBeLessThan(512);
    expect(k.meminfo().MemFree).toBeGreaterThan(32 * 1024); // RAM was not what ran out
  });
});
