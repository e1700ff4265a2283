// A VFIO type1 container (/dev/vfio/vfio) with one assigned PCI device:
// VFIO_IOMMU_MAP_DMA pins the user range long-term and charges
// mm->locked_vm (never pinned_vm), VFIO_IOMMU_UNMAP_DMA unpins and
// uncharges, and the device DMAs through its IOMMU domain. Mirrors
// drivers/vfio/vfio_iommu_type1.c (vfio_dma_do_map(), vfio_pin_map_dma(),
// vfio_pin_pages_remote(), vfio_dma_do_unmap(), vfio_remove_dma()).
import * as C from '../../assembly/constants';
import { fail } from '../errors';
import { limitPages } from '../cred';
import { overLimit, memlockError } from '../mm/memlock';
import type { PageArray } from '../gup/page-array';
import type { Mm } from '../mm/mm';
import type { Task } from '../task';
import { DeviceFile, type DevicePin } from './device';
import { IommuDomain, IOMMU_READ, IOMMU_WRITE, indexAfter } from './iommu';
import { checkFlags, checkU64, ioctlCaller, pinUserRange, U64_MAX } from './dma-map';
import type { Kernel } from './kernel';
import { dropPages, dropRange, grabRemote } from './refs';

const PAGE = C.PAGE_SIZE; // the smallest page size of the IOMMU's pgsize_bitmap

// The container's usable IOVA ranges (vfio_iommu_iova_dma_valid()): a
// 48-bit VT-d aperture minus the x86 MSI window, a reserved region of
// every device. UNVERIFIED: the aperture width is the IOMMU's (48 bits is
// the common VT-d value); pinsim fixes it.
const APERTURE_END = 2 ** 48; // exclusive
const MSI_START = 0xfee00000;
const MSI_END = 0xfef00000; // exclusive

export interface VfioOptions {
  iommu: 'type1v2' | 'type1'; // VFIO_SET_IOMMU with VFIO_TYPE1v2_IOMMU or VFIO_TYPE1_IOMMU
  dmaEntryLimit?: number; // the dma_entry_limit module parameter (65535)
  bdf?: string; // the assigned device's PCI address ('01:00.0')
  // An mdev (emulated IOMMU group): no IOMMU-backed domain, so MAP_DMA pins
  // nothing and the vendor driver pins per page with pin_pages(), charged
  // one page at a time. dma_unmap is the driver's callback, which must
  // unpin what it pinned in the range (default: it does).
  mdev?: boolean | { dma_unmap(iova: number, length: number): void };
}

export interface VfioDmaMap { vaddr: number; iova: number; size: number; flags: number }
export interface VfioDmaUnmap { iova: number; size: number; flags?: number }

// One struct vfio_dma: the owner (task, mm, lock_cap) is captured at map time.
interface VfioDma {
  readonly iova: number;
  readonly vaddr: number;
  size: number; // bytes mapped so far (the whole size once the map succeeded)
  readonly prot: number; // IOMMU_READ | IOMMU_WRITE
  readonly task: Task;
  readonly mm: Mm;
  readonly lock_cap: boolean;
  locked_vm: number; // pages charged to mm->locked_vm
  readonly pages: PageArray;
  pinned: number; // entries of pages holding a pin
  readonly external: Map<number, { pfn: number; refs: number }>; // the pfn_list: mdev pins by page index
}

export class VfioContainer extends DeviceFile {
  readonly path = '/dev/vfio/vfio';
  readonly domain: IommuDomain; // the assigned device's
  readonly v2: boolean;
  readonly #mdev: { dma_unmap(iova: number, length: number): void } | null;
  #dmaAvail: number;
  #dmas: VfioDma[] = []; // sorted by iova, never overlapping

  /** @internal Made by task.vfio(). */
  constructor(kernel: Kernel, readonly opener: Task, opts: VfioOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('vfio options must be an object');
    if (opts.iommu !== 'type1v2' && opts.iommu !== 'type1') throw new RangeError("iommu must be 'type1v2' or 'type1'");
    const limit = opts.dmaEntryLimit ?? C.VFIO_DMA_ENTRY_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`dmaEntryLimit must be a non-negative integer, got ${limit}`);
    const domain = new IommuDomain(kernel, opts.bdf ?? '01:00.0');
    super(kernel, kernel.deviceName(`vfio-${domain.bdf}`));
    this.domain = domain;
    this.v2 = opts.iommu === 'type1v2';
    this.#dmaAvail = limit;
    const m = opts.mdev ?? false;
    if (typeof m === 'object' && (m === null || typeof m.dma_unmap !== 'function')) throw new TypeError('mdev must be a boolean or { dma_unmap(iova, length) }');
    if (typeof m !== 'object' && typeof m !== 'boolean') throw new TypeError('mdev must be a boolean or { dma_unmap(iova, length) }');
    this.#mdev = m === true ? { dma_unmap: (iova, length) => this.unpin_pages(iova, length / PAGE) } : m || null;
  }

  // VFIO_IOMMU_MAP_DMA as `current` (default: the opener), with
  // vfio_dma_do_map()'s checks in order; all or nothing.
  map_dma(map: VfioDmaMap, current?: Task): void {
    const ioctl = 'VFIO_IOMMU_MAP_DMA';
    if (typeof map !== 'object' || map === null) throw new TypeError(`${ioctl}: expected { vaddr, iova, size, flags }`);
    const vaddr = checkU64('vaddr', map.vaddr);
    const iova = checkU64('iova', map.iova);
    const size = checkU64('size', map.size);
    const flags = checkFlags('flags', map.flags);
    const t = ioctlCaller(this, ioctl, current, this.opener);
    // FLAG_VADDR (live update, §7.6) is not modelled: pinsim refuses it as an unknown flag.
    if (flags & ~(C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE)) throw fail(ioctl, C.EINVAL, `unknown flags 0x${flags.toString(16)} (pinsim does not model VFIO_DMA_MAP_FLAG_VADDR)`);
    const prot = (flags & C.VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_WRITE : 0) | (flags & C.VFIO_DMA_MAP_FLAG_READ ? IOMMU_READ : 0);
    if (!prot) throw fail(ioctl, C.EINVAL, 'neither VFIO_DMA_MAP_FLAG_READ nor _WRITE');
    if (size === 0 || size % PAGE || iova % PAGE || vaddr % PAGE) throw fail(ioctl, C.EINVAL, `size 0, or size/iova/vaddr not a multiple of the IOMMU page size (${PAGE})`);
    if (iova + size > U64_MAX || vaddr + size > U64_MAX) throw fail(ioctl, C.EINVAL, 'iova or vaddr + size wraps');
    if (this.#overlapping(iova, iova + size - 1).length) throw fail(ioctl, C.EEXIST, `[0x${iova.toString(16)}, +0x${size.toString(16)}) overlaps a mapping`);
    if (this.#dmaAvail === 0) throw fail(ioctl, C.ENOSPC, `dma_entry_limit: ${this.#dmas.length} mappings exist`);
    if (!iovaValid(iova, iova + size)) throw fail(ioctl, C.EINVAL, 'the IOVA range is outside the aperture or in a reserved region');
    const dma: VfioDma = {
      iova, vaddr, size: 0, prot, task: t, mm: t.mm, lock_cap: t.capable('CAP_IPC_LOCK'), locked_vm: 0,
      pages: this.kernel.pageArray(size / PAGE), pinned: 0, external: new Map(),
    };
    this.#dmaAvail--;
    this.#dmas.splice(indexAfter(this.#dmas, iova), 0, dma);
    let err: Error | null = null;
    if (this.#mdev) dma.size = size; // no IOMMU-backed domain: nothing is pinned now
    else err = this.as(() => this.#pinMap(dma, t));
    if (err) {
      this.as(() => this.#remove([dma]));
      throw err;
    }
  }

  // VFIO_IOMMU_UNMAP_DMA: the bytes unmapped, with vfio_dma_do_unmap()'s
  // checks and its v1/v2 rules.
  unmap_dma(unmap: VfioDmaUnmap, current?: Task): number {
    const ioctl = 'VFIO_IOMMU_UNMAP_DMA';
    if (typeof unmap !== 'object' || unmap === null) throw new TypeError(`${ioctl}: expected { iova, size, flags? }`);
    let iova = checkU64('iova', unmap.iova);
    let size = checkU64('size', unmap.size);
    const flags = checkFlags('flags', unmap.flags ?? 0);
    ioctlCaller(this, ioctl, current, this.opener);
    const known = C.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | C.VFIO_DMA_UNMAP_FLAG_ALL;
    // FLAG_VADDR (live update) is not modelled: refused as an unknown flag.
    if (flags & ~known) throw fail(ioctl, C.EINVAL, `unknown flags 0x${flags.toString(16)} (pinsim does not model VFIO_DMA_UNMAP_FLAG_VADDR)`);
    if ((flags & known) === known) throw fail(ioctl, C.EINVAL, 'GET_DIRTY_BITMAP with FLAG_ALL');
    const all = (flags & C.VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
    if (iova % PAGE) throw fail(ioctl, C.EINVAL, `iova not a multiple of ${PAGE}`);
    if (all) {
      if (iova || size) throw fail(ioctl, C.EINVAL, 'VFIO_DMA_UNMAP_FLAG_ALL needs iova = size = 0');
      iova = 0;
      size = U64_MAX;
    } else if (size === 0 || size % PAGE || iova + size > U64_MAX) {
      throw fail(ioctl, C.EINVAL, 'size 0, not a multiple of the page size, or wrapping');
    }
    // pinsim never turns dirty tracking on (VFIO_IOMMU_DIRTY_PAGES).
    if (flags & C.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) throw fail(ioctl, C.EINVAL, 'GET_DIRTY_BITMAP without dirty page tracking');
    const last = iova + size - 1;
    if (this.v2 && !all) {
      // No bisection: a mapping holding either end must start or end there.
      const [head] = this.#overlapping(iova, iova);
      if (head && head.iova !== iova) throw fail(ioctl, C.EINVAL, `iova 0x${iova.toString(16)} is inside the mapping at 0x${head.iova.toString(16)}`);
      const [tail] = this.#overlapping(last, last);
      if (tail && tail.iova + tail.size !== last + 1) throw fail(ioctl, C.EINVAL, `the range ends inside the mapping at 0x${tail.iova.toString(16)}`);
    }
    const hit = this.#overlapping(iova, last);
    // v1: a request starting inside a mapping stops there (success, 0 bytes for it).
    const gone = !this.v2 && hit.length && iova > hit[0].iova ? [] : hit;
    for (const dma of gone) this.#notifyUnmap(dma);
    this.as(() => this.#remove(gone));
    return gone.reduce((s, d) => s + d.size, 0);
  }

  // The assigned device writes `word` at iova: true when it reached memory
  // (else a DMAR fault is logged and nothing changes).
  dma_write(iova: number, word: number): boolean {
    this.#alive('dma_write');
    return this.domain.dma_write(checkU64('iova', iova), word);
  }

  // The device reads the word at iova; null after a logged DMAR fault.
  dma_read(iova: number): number | null {
    this.#alive('dma_read');
    return this.domain.dma_read(checkU64('iova', iova));
  }

  // vfio_pin_pages() by the mdev vendor driver: pins npage pages from iova
  // one by one (a page pinned already takes another reference), each
  // charged to the mapping's mm when the container has no IOMMU-backed
  // domain; fills pages and returns npage, or -errno with every page of
  // this call released again. Mirrors vfio_iommu_type1_pin_pages().
  pin_pages(iova: number, npage: number, prot: number, pages: PageArray): number {
    checkU64('iova', iova);
    if (!Number.isSafeInteger(npage) || npage < 1 || npage > pages.length) throw new RangeError(`npage must be in 1..${pages.length}, got ${npage}`);
    checkFlags('prot', prot);
    if (this.closed) return -C.ENODEV;
    if (!this.v2) return -C.EACCES;
    return this.as(() => {
      for (let i = 0; i < npage; i++) {
        const err = this.#pinExternal(iova + i * PAGE, prot, pages, i);
        if (err) {
          this.unpin_pages(iova, i);
          return err;
        }
      }
      return npage;
    });
  }

  // vfio_unpin_pages(): drops one reference on each of npage pages from
  // iova; the last one unpins the page (dirty if the device could write)
  // and, without an IOMMU-backed domain, uncharges it.
  unpin_pages(iova: number, npage: number): void {
    checkU64('iova', iova);
    if (!Number.isSafeInteger(npage) || npage < 0) throw new RangeError(`npage must be a non-negative integer, got ${npage}`);
    this.as(() => {
      for (let i = 0; i < npage; i++) {
        const at = iova + i * PAGE;
        const [dma] = this.#overlapping(at, at);
        const idx = dma ? (at - dma.iova) / PAGE : -1;
        const e = dma?.external.get(idx);
        if (dma && e && !--e.refs) this.#dropExternal(dma, idx);
      }
    });
  }

  // The mappings: iova, vaddr, size and prot, pages charged, and whose mm.
  mappings(): { iova: number; vaddr: number; size: number; prot: number; locked_vm: number; pid: number }[] {
    return this.#dmas.map((d) => ({ iova: d.iova, vaddr: d.vaddr, size: d.size, prot: d.prot, locked_vm: d.locked_vm, pid: d.task.pid }));
  }

  pins(): DevicePin[] {
    return this.#dmas.map((d) => ({
      device: this.name, object: `iova 0x${d.iova.toString(16)}`, pid: d.task.pid, addr: d.vaddr, length: d.size,
      pages: d.pinned + d.external.size, gup_flags: gupFlags(d.prot),
    }));
  }

  // vfio_iommu_type1_release(): every mapping goes as UNMAP_DMA removes it
  // (the mdev is gone by then: its pins are dropped with the mapping).
  protected release(): void {
    for (const dma of this.#dmas) for (const idx of [...dma.external.keys()]) this.#dropExternal(dma, idx);
    this.#remove(this.#dmas);
  }

  // vfio_pin_map_dma(): pin the whole range, then walk it in physically
  // contiguous runs (vfio_pin_pages_remote()), checking each run's
  // countable pages against current's limit, charging the run through
  // __account_locked_vm() with the captured task and lock_cap, and mapping
  // it. The first error in address order wins: a limit breached before a
  // page that does not pin is ENOMEM, as the kernel's batch walk gives.
  #pinMap(dma: VfioDma, current: Task): Error | null {
    const k = this.kernel;
    const npages = dma.pages.length;
    const limit = limitPages(current.memlockBytes());
    const pin = pinUserRange(k, dma.mm, dma.vaddr, npages, gupFlags(dma.prot) & ~C.FOLL_LONGTERM, dma.pages);
    dma.pinned = pin.pinned;
    for (let i = 0; i < pin.pinned;) {
      const len = k.core.vfio_pfn_run(dma.pages.offset + i, pin.pinned - i);
      // Reserved pfns (the zero page) are mapped but never counted; pinning them took nothing.
      if (!k.core.vfio_run_reserved()) {
        const d = dma.lock_cap ? null : overLimit('mm.locked_vm', dma.mm.locked_vm, len, current.memlockBytes());
        if (d) {
          k.printk(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${limit * PAGE}) exceeded`);
          return memlockError('VFIO_IOMMU_MAP_DMA', C.ENOMEM, d);
        }
        // vfio_lock_acct(): the second check, against the captured task's limit.
        if (k.__account_locked_vm(dma.mm, len, true, dma.task, dma.lock_cap, 'vfio_lock_acct') < 0) {
          return fail('VFIO_IOMMU_MAP_DMA', C.ENOMEM, 'vfio_lock_acct: RLIMIT_MEMLOCK of the mapping task');
        }
        dma.locked_vm += len;
      }
      this.domain.map(dma.iova + i * PAGE, dma.pages, i, len, dma.prot);
      dma.size += len * PAGE;
      i += len;
    }
    return pin.err ? fail('VFIO_IOMMU_MAP_DMA', -pin.err, `pin_user_pages_remote() failed at vaddr 0x${(dma.vaddr + pin.pinned * PAGE).toString(16)}`) : null;
  }

  // vfio_remove_dma() of each of `dmas` (neighbours in the iova list):
  // IOMMU unmap, unpin (dirty if the device could write), then the async
  // uncharge, which an mm without users skips (vfio_lock_acct()'s
  // mmget_not_zero() failing: -ESRCH, ignored). The domain is unmapped in
  // one call over their span: it holds nothing else there.
  #remove(dmas: readonly VfioDma[]): void {
    if (!dmas.length) return;
    const k = this.kernel;
    const first = dmas[0];
    const end = dmas[dmas.length - 1].iova + dmas[dmas.length - 1].size;
    this.domain.unmap(first.iova, end - first.iova);
    for (const dma of dmas) {
      dropPages(k, dma.pages, dma.pinned, (dma.prot & IOMMU_WRITE) !== 0);
      if (dma.locked_vm) this.#uncharge(dma, dma.locked_vm);
      dma.pages.free();
    }
    this.#dmas.splice(this.#dmas.indexOf(first), dmas.length);
    this.#dmaAvail += dmas.length;
  }

  // vfio_pin_page_external() of the page at iova, into pages[i].
  #pinExternal(iova: number, prot: number, pages: PageArray, i: number): number {
    const k = this.kernel;
    const [dma] = this.#overlapping(iova, iova);
    if (!dma) return -C.EINVAL;
    if ((dma.prot & prot) !== prot) return -C.EPERM;
    const idx = (iova - dma.iova) / PAGE;
    const e = dma.external.get(idx);
    if (e) {
      e.refs++;
      pages.pfns[i] = e.pfn;
      return 0;
    }
    if (dma.mm.dead) return -C.ENODEV;
    const r = grabRemote(k, dma.mm, dma.vaddr + idx * PAGE, 1, gupFlags(dma.prot), pages.subarray(i, i + 1));
    if (r <= 0) return r < 0 ? r : -C.EFAULT;
    const pfn = pages.pfns[i];
    if (this.#mdev && !k.core.vfio_pfn_reserved(pfn)) {
      if (k.__account_locked_vm(dma.mm, 1, true, dma.task, dma.lock_cap, 'vfio_lock_acct') < 0) {
        k.printk(`vfio_pin_page_external: Task ${dma.task.name} (${dma.task.pid}) RLIMIT_MEMLOCK (${dma.task.memlockBytes()}) exceeded`);
        dropRange(k, pfn, 1, false);
        return -C.ENOMEM;
      }
      dma.locked_vm++;
    }
    dma.external.set(idx, { pfn, refs: 1 });
    return 0;
  }

  // vfio_unpin_page_external() of the last reference: unpin, uncharge.
  #dropExternal(dma: VfioDma, idx: number): void {
    const k = this.kernel;
    const pfn = dma.external.get(idx)!.pfn;
    dma.external.delete(idx);
    dropRange(k, pfn, 1, (dma.prot & IOMMU_WRITE) !== 0); // put_pfn() before 5.6: SetPageDirty + put_page
    if (this.#mdev && !k.core.vfio_pfn_reserved(pfn)) this.#uncharge(dma, 1);
  }

  // vfio_lock_acct(dma, -n, async): skipped once the mm has no users.
  #uncharge(dma: VfioDma, n: number): void {
    if (!dma.mm.dead) this.kernel.__account_locked_vm(dma.mm, n, false, dma.task, dma.lock_cap, 'vfio_lock_acct');
    dma.locked_vm -= n;
  }

  // A mapping with external pins: the vendor driver's dma_unmap callback
  // must unpin them; after 10 tries the kernel BUGs.
  #notifyUnmap(dma: VfioDma): void {
    for (let tries = 0; dma.external.size; tries++) {
      if (tries > 10 || !this.#mdev) {
        this.kernel.printk('kernel BUG at drivers/vfio/vfio_iommu_type1.c: vfio_dma_do_unmap: the mdev driver did not unpin');
        throw new Error(`vfio: the mdev driver left ${dma.external.size} pages pinned at iova 0x${dma.iova.toString(16)} after its dma_unmap callback`);
      }
      this.#mdev.dma_unmap(dma.iova, dma.size);
    }
  }

  // The mappings meeting [first, last], in iova order.
  #overlapping(first: number, last: number): VfioDma[] {
    const out: VfioDma[] = [];
    for (let i = Math.max(0, indexAfter(this.#dmas, first) - 1); i < this.#dmas.length && this.#dmas[i].iova <= last; i++) {
      const d = this.#dmas[i];
      if (d.iova + d.size > first) out.push(d);
    }
    return out;
  }

  #alive(what: string): void {
    if (this.closed) throw fail(what, C.EBADF, `${this.name} is closed`);
  }
}

// open("/dev/vfio/vfio") by t, a group with the device added and
// VFIO_SET_IOMMU done: the container, its fd in t's table.
export function openVfio(t: Task, opts: VfioOptions): VfioContainer {
  const c = new VfioContainer(t.kernel, t, opts);
  t.installFd(c);
  return c;
}

function gupFlags(prot: number): number {
  return C.FOLL_LONGTERM | (prot & IOMMU_WRITE ? C.FOLL_WRITE : 0);
}

// [iova, end) inside the aperture and clear of the MSI window.
function iovaValid(iova: number, end: number): boolean {
  return end <= APERTURE_END && (end <= MSI_START || iova >= MSI_END);
}
