// Kernel eras and writeback of a page dirtied behind the filesystem's back
// (kernel-history.md §4.2): ext4's BUG before 5.18 and WARN + dropped data
// since (ext4DirtyWithoutBuffers), the buffers a maybe-pinned folio keeps
// from 6.4 (reclaimKeepsPinnedPrivate; pinsim strips buffers at writeback
// as its stand-in for reclaim), and scenario S4 on every preset.
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import type { PageArray } from '../src/gup/page-array';
import { BACKENDS, bootTest, C, PAGE, RW } from './helpers';

type Kern = '5.5' | '5.10' | '5.18' | '6.4' | 'latest';

// The era's short-term R/W reference: get_user_pages() on 5.5, pin_user_pages() after.
function grab(k: Kernel, t: Task, addr: number, pa: PageArray): number {
  return k.kr.pinApi ? k.pin_user_pages(t, addr, 1, C.FOLL_WRITE, pa) : k.get_user_pages(t, addr, 1, C.FOLL_WRITE, pa);
}

// Its release after the device wrote: unpin dirty, or set_page_dirty_lock() + put_page().
function releaseDirty(k: Kernel, pa: PageArray): void {
  if (k.kr.pinApi) return k.unpin_user_pages_dirty_lock(pa, 1, true);
  k.set_page_dirty_lock(pa.get(0)!);
  k.put_page(pa.get(0)!);
}

// S4 (§4.2) up to the second writeback: an ext4 file of 4 KiB mapped
// MAP_SHARED, one byte written (->page_mkwrite attaches buffers), a R/W
// pin, fsync (cleans and write-protects; strips the buffers unless the
// era keeps a pinned folio's), the device writes through the pin, the
// driver releases it dirty. The device write uses a short-term pin, which
// every era allows; S4's long-term pin differs only on latest, where it is
// refused (checked below), and in GUP's acceptance of it before 6.5
// (longtermWriteFile, not a writeback rule).
async function s4(backend: 'wasm' | 'ts', kernel: Kern, rules = {}, fs: 'ext4' | 'xfs' = 'ext4') {
  const k = await bootTest(backend, { kernel, rules });
  const t = k.spawn();
  const f = k.createFile({ fs, size: 0, name: 'log' });
  const fd = t.open(f);
  t.ftruncate(fd, PAGE);
  const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd });
  t.write(m, 0xa);
  const pa = k.pageArray(1);
  expect(grab(k, t, m, pa)).toBe(1);
  const pfn = pa.get(0)!;
  expect(k.writeback(f)).toEqual({ written: 1, hazards: [] });
  const kept = k.page(pfn).flags.includes('private');
  k.dma_write(pfn, 0xd);
  releaseDirty(k, pa);
  return { k, t, f, m, pfn, kept };
}

const bugLine = (k: Kernel) => k.dmesg().find((l) => l.startsWith('kernel BUG at fs/ext4/inode.c:'));
const warnLine = (k: Kernel) => k.dmesg().find((l) => l.includes('does not have buffers attached'));

describe.each(BACKENDS)('S4: the writeback of a page the device dirtied (%s core)', (backend) => {
  for (const kernel of ['5.5', '5.10'] as const) {
    it(`${kernel}: ext4 BUGs at writeback; the machine is halted`, async () => {
      const { k, f, kept } = await s4(backend, kernel);
      expect(kept).toBe(false);
      expect(() => k.writeback(f)).toThrow(/kernel BUG at fs\/ext4\/inode.c/);
      expect(bugLine(k)).toBeDefined();
      expect(k.dmesg()).toContain('invalid opcode: 0000 [#1] SMP NOPTI');
      expect(f.store.get(0)).toBe(0xa);
      expect(() => k.spawn()).toThrow(/unusable/);
      expect(() => k.writeback()).toThrow(/unusable/);
    });
  }

  it('5.18: ext4 warns, cleans the page and skips it: the device\'s write never reaches the disk', async () => {
    const { k, f, pfn, kept } = await s4(backend, '5.18');
    expect(kept).toBe(false);
    expect(k.writeback(f)).toEqual({ written: 0, hazards: [{ file: 'log', index: 0 }] });
    expect(warnLine(k)).toMatch(/^EXT4-fs warning \(device nvme0n1\): mpage_prepare_extent_to_map:\d+: inode #\d+: comm kworker\/u8:0: page 0 does not have buffers attached$/);
    expect(bugLine(k)).toBeUndefined();
    expect(k.page(pfn).flags).not.toContain('dirty');
    expect(f.store.get(0)).toBe(0xa); // lost: the file keeps the first write
    expect(k.writeback(f)).toEqual({ written: 0, hazards: [] });
    expect(k.v.stats[C.NR_WRITTEN]).toBe(1);
  });

  it('6.4: the pinned folio kept its buffers, so the device\'s write is written normally', async () => {
    const { k, f, kept } = await s4(backend, '6.4');
    expect(kept).toBe(true);
    expect(k.writeback(f)).toEqual({ written: 1, hazards: [] });
    expect(f.store.get(0)).toBe(0xd);
    expect(warnLine(k)).toBeUndefined();
  });

  it('latest: the long-term R/W pin is refused (-EFAULT), ending S4; a short-term one is written normally as on 6.4', async () => {
    const k = await bootTest(backend, { kernel: 'latest' });
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: PAGE, name: 'log' });
    const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
    t.write(m, 0xa);
    expect(k.pin_user_pages(t, m, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, k.pageArray(1))).toBe(-C.EFAULT);
    const s = await s4(backend, 'latest');
    expect(s.k.writeback(s.f)).toEqual({ written: 1, hazards: [] });
    expect(s.f.store.get(0)).toBe(0xd);
  });

  it('xfs in every era: written with pinsim\'s hazard report, no BUG, no ext4 warning', async () => {
    for (const kernel of ['5.5', '5.18'] as const) {
      const { k, f } = await s4(backend, kernel, {}, 'xfs');
      expect(k.writeback(f)).toEqual({ written: 1, hazards: [{ file: 'log', index: 0 }] });
      expect(f.store.get(0)).toBe(0xd);
      expect([bugLine(k), warnLine(k)]).toEqual([undefined, undefined]);
    }
  });
});

describe.each(BACKENDS)('ext4DirtyWithoutBuffers and reclaimKeepsPinnedPrivate, one key at a time (%s core)', (backend) => {
  it('ext4DirtyWithoutBuffers override: 5.10 with cc5095747edf warns and loses the data; 5.18 without it BUGs', async () => {
    const fixed = await s4(backend, '5.10', { ext4DirtyWithoutBuffers: 'warn' });
    expect(fixed.k.writeback(fixed.f).hazards).toHaveLength(1);
    expect([warnLine(fixed.k) !== undefined, bugLine(fixed.k), fixed.f.store.get(0)]).toEqual([true, undefined, 0xa]);
    const broken = await s4(backend, '5.18', { ext4DirtyWithoutBuffers: 'bug' });
    expect(() => broken.k.writeback(broken.f)).toThrow(/kernel BUG/);
  });

  it('reclaimKeepsPinnedPrivate override: 5.18 with d824ec2a1546 writes the data; latest without it warns and loses it', async () => {
    const fixed = await s4(backend, '5.18', { reclaimKeepsPinnedPrivate: true });
    expect(fixed.kept).toBe(true);
    expect(fixed.k.writeback(fixed.f)).toEqual({ written: 1, hazards: [] });
    expect(fixed.f.store.get(0)).toBe(0xd);
    const broken = await s4(backend, 'latest', { reclaimKeepsPinnedPrivate: false });
    expect(broken.kept).toBe(false);
    expect(broken.k.writeback(broken.f)).toEqual({ written: 0, hazards: [{ file: 'log', index: 0 }] });
    expect(broken.f.store.get(0)).toBe(0xa);
  });

  it('reclaimKeepsPinnedPrivate keeps the buffers of maybe-pinned folios only: an unpinned folio loses them in every era', async () => {
    for (const [kernel, keep] of [['5.18', false], ['6.4', true], ['latest', true]] as const) {
      const k = await bootTest(backend, { kernel });
      const t = k.spawn();
      const f = k.createFile({ fs: 'ext4', size: 2 * PAGE, name: 'two' });
      const m = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
      t.write(m, 1);
      t.write(m + PAGE, 2);
      const pa = k.pageArray(1);
      expect(k.pin_user_pages(t, m, 1, C.FOLL_WRITE, pa)).toBe(1);
      expect(k.writeback(f).written).toBe(2);
      expect(k.page(t.translate(m)!).flags.includes('private')).toBe(keep);
      expect(k.page(t.translate(m + PAGE)!).flags).not.toContain('private');
      k.unpin_user_pages(pa, 1);
    }
    expect((await bootTest(backend, { kernel: '6.4' })).rules.reclaimKeepsPinnedPrivate).toMatchObject({ value: true, commit: 'd824ec2a1546' });
  });
});

// Jan Kara's race with O_DIRECT: a direct read into a MAP_SHARED ext4
// page, writeback while it is in flight, completion re-dirties the page.
describe.each(BACKENDS)('O_DIRECT read across writeback, by era (%s core)', (backend) => {
  it('6.4 (GET, buffers stripped): the re-dirtied page is dropped with a warning; latest (pinned, buffers kept): written', async () => {
    for (const [kernel, lost] of [['6.4', true], ['latest', false]] as const) {
      const k = await bootTest(backend, { kernel });
      const t = k.spawn();
      const disk = k.createFile({ fs: 'xfs', size: PAGE, name: 'src' });
      disk.store.set(0, 100);
      const db = k.createFile({ fs: 'ext4', size: PAGE, name: 'db' });
      const m = t.mmap({ length: PAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(db) });
      t.preadv(t.open(disk, { direct: true }), [{ base: m, len: PAGE }], 0, { async: true });
      expect(k.writeback(db)).toEqual({ written: 1, hazards: [] });
      k.settle();
      expect(t.read(m)).toBe(100);
      expect(k.writeback(db)).toEqual(lost ? { written: 0, hazards: [{ file: 'db', index: 0 }] } : { written: 1, hazards: [] });
      expect(db.store.get(0)).toBe(lost ? 0 : 100);
    }
  });
});
