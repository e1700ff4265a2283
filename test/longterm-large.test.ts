// A FOLL_LONGTERM pin that must migrate more folios than the core migrates
// at once (MIGRATE_BATCH): the migrate-and-retry loop takes them in rounds
// and still ends with every page long-term pinnable.
import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, C, PAGE, RW, ANON_PRIVATE } from './helpers';

describe.each(BACKENDS)('FOLL_LONGTERM over many CMA folios (%s core)', (backend) => {
  it('migrates them all, in rounds, and pins the whole range', async () => {
    const k = await bootTest(backend, { memory: '2GiB', cma: '1536MiB', thp: 'never' });
    const t = k.spawn();
    const pages = 2 * C.MIGRATE_BATCH + 4096; // three rounds
    const a = t.mmap({ length: pages * PAGE, prot: RW, flags: ANON_PRIVATE });
    t.touch(a, pages * PAGE, { write: true });
    expect(k.page(t.translate(a)!).migratetype).toBe('CMA');
    const pa = k.pageArray(pages);
    expect(k.pin_user_pages(t, a, pages, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(pages);
    const pfns = pa.pfns;
    let unpinnable = 0;
    for (let i = 0; i < pages; i++) if (!k.folio_is_longterm_pinnable(pfns[i])) unpinnable++;
    expect(unpinnable).toBe(0);
    expect(k.vmstat().pgmigrate_success).toBe(pages);
    k.unpin_user_pages(pa, pages);
    expect(k.vmstat().nr_foll_pin_released).toBe(k.vmstat().nr_foll_pin_acquired);
  });
});
