// The ground every device model stands on: the clock, the device list, the
// fd whose last close releases a device, the ledger's device tag, and the
// IOMMU domain's translation and fault log.
import { describe, expect, it } from 'vitest';
import { DeviceFile, IommuDomain, IOMMU_READ, IOMMU_WRITE, type DevicePin, type Kernel, type Task } from '../src/index';
import { BACKENDS, bootTest, anon, C, PAGE, expectCode } from './helpers';

// A capture device in miniature: pins a buffer long-term and charges locked_vm.
class Capture extends DeviceFile {
  readonly path = '/dev/capture0';
  pages;
  released = 0;
  constructor(k: Kernel, readonly t: Task, readonly addr: number, readonly n: number) {
    super(k, k.deviceName('capture0'));
    this.pages = k.pageArray(n);
    this.as(() => {
      expect(k.account_locked_vm(t.mm, n, true)).toBe(0);
      expect(k.pin_user_pages_fast(t, addr, n, C.FOLL_WRITE | C.FOLL_LONGTERM, this.pages)).toBe(n);
    });
  }
  pins(): DevicePin[] {
    return [{ device: this.name, object: 'buffer', pid: this.t.pid, addr: this.addr, length: this.n * PAGE, pages: this.n, gup_flags: C.FOLL_WRITE | C.FOLL_LONGTERM }];
  }
  protected release(): void {
    this.released++;
    this.kernel.unpin_user_pages_dirty_lock(this.pages, this.n, true);
    this.kernel.account_locked_vm(this.t.mm, this.n, false);
    this.pages.free();
  }
}

describe.each(BACKENDS)('devices: common ground (%s core)', (backend) => {
  it('the clock runs completions in time order, ties in submission order, and nothing on its own', async () => {
    const k = await bootTest(backend);
    const seen: string[] = [];
    k.clock.schedule(300, 'c', () => seen.push(`c@${k.now()}`));
    k.clock.schedule(100, 'a', () => { seen.push(`a@${k.now()}`); k.clock.schedule(0, 'a2', () => seen.push(`a2@${k.now()}`)); });
    k.clock.schedule(100, 'b', () => seen.push(`b@${k.now()}`));
    expect(seen).toEqual([]);
    expect(k.pending().map((p) => p.what)).toEqual(['a', 'b', 'c']);
    expect(k.advance(150)).toBe(3);
    expect(seen).toEqual(['a@100', 'b@100', 'a2@100']);
    expect(k.now()).toBe(150);
    expect(k.settle()).toBe(1);
    expect(seen.at(-1)).toBe('c@300');
    expect(k.now()).toBe(300);
    expect(() => k.advance(-1)).toThrow(RangeError);
    expect(() => k.advance(1.5)).toThrow(RangeError);
    expect(() => k.advance('1' as unknown as number)).toThrow(TypeError);
    expect(k.now()).toBe(300);
  });

  it('a device file is released by the last close, not before: fork shares it, exit drops it', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const dev = new Capture(k, t, a, 4);
    const fd = t.installFd(dev);
    expect(k.devices()).toEqual([dev]);
    expect(t.status().VmLck).toBe(16);
    expect(k.memlockLedger()).toContainEqual(expect.objectContaining({ counter: 'mm.locked_vm', pages: 4, device: 'capture0' }));
    expect(dev.charges()).toHaveLength(1);
    expectCode(k, () => t.pread(fd, 0), 'EINVAL');
    const child = t.fork();
    t.close(fd);
    expect(dev.released).toBe(0); // the child's fd still refers to it
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(true);
    child.exit();
    expect(dev.released).toBe(1);
    expect(dev.closed).toBe(true);
    expect(k.devices()).toEqual([]);
    expect(k.folio_maybe_dma_pinned(t.translate(a)!)).toBe(false);
    expect(t.status().VmLck).toBe(0);
    expect(dev.charges()).toEqual([]);
    const again = new Capture(k, t, a, 1);
    expect(again.name).toBe('capture0'); // the name is free again
  });

  it('a device outliving its task uncharges the exited task\'s mm', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 2);
    const dev = new Capture(k, t, a, 2);
    const other = k.spawn();
    other.installFd(dev); // passed over a unix socket
    t.exit();
    expect(dev.released).toBe(0);
    expect(t.mm.locked_vm).toBe(2);
    other.exit();
    expect(dev.released).toBe(1);
    expect(t.mm.locked_vm).toBe(0);
    expect(k.meminfo().MemFree).toBe((await bootTest(backend)).meminfo().MemFree);
  });

  it('an IOMMU domain translates mapped IOVAs and logs a DMAR fault for the rest, touching nothing', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    const pages = k.pageArray(4);
    expect(k.pin_user_pages_fast(t, a, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pages)).toBe(4);
    const d = new IommuDomain(k, '01:00.0');
    expect(d.map(0x100000, pages, 0, 2, IOMMU_READ | IOMMU_WRITE)).toBe(0);
    expect(d.map(0x102000, pages, 2, 2, IOMMU_READ)).toBe(0);
    expect(d.map(0x101000, pages, 0, 1, IOMMU_READ)).toBe(-C.EEXIST);
    expect(d.dma_write(0x101008, 7)).toBe(true);
    expect(t.read(a + PAGE)).toBe(7);
    const before = k.digest();
    expect(d.dma_write(0x102000, 9)).toBe(false); // read-only extent
    expect(d.dma_read(0x200000)).toBeNull();
    expect(k.digest()).toBe(before);
    expect(k.dmesg().slice(-2)).toEqual([
      'DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x102000 [fault reason 0x05] PTE Write access is not set',
      'DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x200000 [fault reason 0x06] PTE Read access is not set',
    ]);
    expect(d.iova_to_pfn(0x103fff)).toBe(pages.get(3));
    expect(d.unmap(0x100000, 0x2000)).toBe(0x2000);
    expect(d.iova_to_pfn(0x100000)).toBe(-1);
  });

  it('a new device does not take the name a closed one left on the ledger (dev.charges() finds charges by name)', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 8);
    const c = t.vfio({ iommu: 'type1v2' });
    c.map_dma({ vaddr: a, iova: 0x100000, size: 8 * PAGE, flags: C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE });
    t.exit(); // the container closes with its mm gone: vfio_dma_do_unmap() skips the uncharge
    expect(k.memlockLedger().map((x) => [x.device, x.pages])).toEqual([[c.name, 8]]);
    const c2 = k.spawn().vfio({ iommu: 'type1v2' });
    expect(c2.name).toBe(`${c.name}-2`);
    expect(c2.charges()).toEqual([]);
  });
});
