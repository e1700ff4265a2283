// The disk under ext4, xfs and btrfs files, and the direct I/O path to it
// (iomap_dio_rw() and its bios): O_DIRECT reads and writes pin the user
// buffer short-term (FOLL_PIN, never FOLL_LONGTERM, no memlock charge), the
// device moves each page's word by DMA, and completion releases the pins
// (bio_check_pages_dirty() for reads, which re-dirties pages writeback
// cleaned meanwhile: Jan Kara's race, reported by the next writeback).
// The disk's contents are each file's backing store (SimFile.store).
import * as C from '../../assembly/constants';
import { fail, checkInt } from '../errors';
import type { SimFile } from '../fs/file';
import { iovAddr, transferPages, type IoVec } from '../fs/iov';
import type { Task } from '../task';
import { DmaDevice, type DevicePin } from './device';
import type { Kernel } from './kernel';
import type { Bio } from './bio';

const PAGE = C.PAGE_SIZE;

// An asynchronous read or write (preadv/pwritev with { async: true }).
export class IoRequest {
  #done = false;
  #res: number | null = null;

  /** @internal Made by preadv/pwritev. */
  constructor(readonly op: 'read' | 'write', readonly direct: boolean, readonly submittedAt: number, readonly completesAt: number) {}

  get done(): boolean { return this.#done; }
  // Bytes transferred once done; null before.
  get res(): number | null { return this.#res; }

  /** @internal */
  complete(res: number): void {
    this.#res = res;
    this.#done = true;
  }
}

// A request that completed at submission (buffered I/O completes inline, as does a direct read at EOF).
export function completedRequest(k: Kernel, write: boolean, direct: boolean, res: number): IoRequest {
  const r = new IoRequest(write ? 'write' : 'read', direct, k.now(), k.now());
  r.complete(res);
  return r;
}

interface InFlight {
  readonly id: number;
  readonly pid: number;
  readonly segs: IoVec[];
  readonly bios: Bio[];
}

export class BlockDevice extends DmaDevice {
  #lbs = C.SECTOR_SIZE;
  #latency = C.BLOCK_LATENCY_NS;
  #nextId = 1;
  #inflight = new Map<number, InFlight>();

  /** @internal k.blockDevice() makes it. */
  constructor(k: Kernel) {
    super(k, k.deviceName('nvme0n1'));
  }

  // The logical block size (bdev_logical_block_size()): 512 by default.
  get logicalBlockSize(): number { return this.#lbs; }
  // The time a request takes, in ns: 10 µs (an NVMe read) by default.
  get latencyNs(): number { return this.#latency; }

  configure(opts: { logicalBlockSize?: number; latencyNs?: number }): void {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('configure: options must be an object');
    if (opts.logicalBlockSize !== undefined) {
      const lbs = checkInt('logicalBlockSize', opts.logicalBlockSize);
      if (![512, 1024, 2048, 4096].includes(lbs)) throw new RangeError(`logicalBlockSize must be 512, 1024, 2048 or 4096, got ${lbs}`);
      this.#lbs = lbs;
    }
    if (opts.latencyNs !== undefined) {
      const ns = checkInt('latencyNs', opts.latencyNs);
      if (ns < 0) throw new RangeError(`latencyNs must not be negative, got ${ns}`);
      this.#latency = ns;
    }
  }

  // The user buffers of the requests in flight, pinned.
  pins(): DevicePin[] {
    return [...this.#inflight.values()].flatMap((r) => r.bios.map((b, j) => ({
      device: this.name, object: `dio ${r.id}`, pid: r.pid, addr: r.segs[j].base, length: r.segs[j].len,
      pages: b.vcnt, gup_flags: b.gup_flags,
    })));
  }

  // Nothing to give back: requests in flight complete on the clock and release their own pins.
  protected release(): void {}

  /** @internal */
  track(r: Omit<InFlight, 'id'>): number {
    const id = this.#nextId++;
    this.#inflight.set(id, { ...r, id });
    return id;
  }

  /** @internal */
  untrack(id: number): void { this.#inflight.delete(id); }
}

const devices = new WeakMap<Kernel, BlockDevice>();

// The machine's one disk (made on first use, so it is listed in k.devices()
// only once direct I/O or k.blockDevice() needed it).
export function blockDeviceOf(k: Kernel): BlockDevice {
  let d = devices.get(k);
  if (!d || d.closed) {
    d = new BlockDevice(k);
    devices.set(k, d);
  }
  return d;
}

// The alignment iomap_dio_bio_iter() demands (bdev_iter_is_aligned(), the
// rule before Keith Busch's 2025 relaxation, UNVERIFIED as ~v6.18): the file
// position and the length in whole blocks, each segment's length too, and
// each segment's address to dmaAlign (the queue's dma_alignment + 1: 512).
export function dioAligned(segs: IoVec[], pos: number, count: number, block: number, dmaAlign: number): boolean {
  if (pos % block || count % block) return false;
  return segs.every((s) => s.base % dmaAlign === 0 && s.len % block === 0);
}

// iomap_dio_rw() on an ext4/xfs/btrfs file: a read at or past EOF does
// nothing; misalignment is EINVAL (checked first here, before the flush:
// pinsim changes nothing on failure); the range's dirty cache is written
// back (filemap_write_and_wait_range(); a hazard it finds goes to dmesg);
// each segment's pages are pinned (all or nothing: a segment that cannot be
// pinned whole is EFAULT and nothing is submitted, where the kernel may
// submit a short request); reads dirty their pages before submission. The
// request completes on the clock after the device's latency, or at once
// when synchronous (the clock does not move: pinsim has no blocked tasks).
export function blockDirectIo(t: Task, f: SimFile, write: boolean, segs: IoVec[], pos: number, count: number,
  opts: { async: boolean; latencyNs: number | null }): number | IoRequest {
  const k = t.kernel;
  const syscall = write ? 'pwritev' : 'preadv';
  if (!write && pos >= f.size) return opts.async ? completedRequest(k, write, true, 0) : 0;
  const bd = blockDeviceOf(k);
  if (!dioAligned(segs, pos, count, bd.logicalBlockSize, C.DMA_ALIGNMENT + 1)) {
    throw fail(syscall, C.EINVAL, `O_DIRECT needs the offset and length in ${bd.logicalBlockSize}-byte blocks and buffers aligned to ${C.DMA_ALIGNMENT + 1} bytes`);
  }
  k.writebackRange(f, Math.floor(pos / PAGE), Math.ceil((pos + count) / PAGE));
  const bios: Bio[] = [];
  for (const seg of segs) {
    const b = k.iov_iter_extract_pages(t, seg, Math.ceil(((seg.base % PAGE) + seg.len) / PAGE), !write);
    if (typeof b === 'number' || b.bytes < seg.len) {
      if (typeof b !== 'number') bios.push(b);
      for (const x of bios) k.bio_release_pages(x, false);
      // The pin's own error (-ENOMEM, -EFAULT, …); a short or empty pin is EFAULT.
      const errno = typeof b === 'number' && b < 0 ? -b : C.EFAULT;
      throw fail(syscall, errno, `pinning the iovec at 0x${seg.base.toString(16)} failed`);
    }
    bios.push(b);
  }
  if (!write && !bios.every((b) => contentsKept(k, b))) {
    for (const x of bios) k.bio_release_pages(x, false);
    throw new RangeError(`${syscall}: the buffer holds tail pages of a 1 GiB folio above 256 GiB, whose contents pinsim does not keep`);
  }
  if (!write) for (const b of bios) k.bio_set_pages_dirty(b);
  const id = bd.track({ pid: t.pid, segs, bios });
  const run = (): number => k.guard(() => {
    const res = write ? dmaToDisk(k, f, segs, bios, pos, count) : dmaFromDisk(k, f, segs, bios, pos, count);
    bd.untrack(id);
    return res;
  });
  if (!opts.async) return run();
  const latency = opts.latencyNs ?? bd.latencyNs;
  const req = new IoRequest(write ? 'write' : 'read', true, k.now(), k.now() + latency);
  k.clock.schedule(latency, `${bd.name}: dio ${id} ${write ? 'write' : 'read'}`, () => req.complete(run()));
  return req;
}

// Can a read DMA into every page of b? (Not into a sparse 1 GiB folio's
// shared tails: GupKernel.keepsContents().)
function contentsKept(k: Kernel, b: Bio): boolean {
  for (let i = 0; i < b.vcnt; i++) if (!k.keepsContents(b.pages.get(i) as number)) return false;
  return true;
}

// The pinned page holding byte s of the iovec stream.
function pfnAt(segs: IoVec[], bios: Bio[], s: number): number {
  const addr = iovAddr(segs, s);
  let j = 0;
  while (addr < segs[j].base || addr >= segs[j].base + segs[j].len) j++;
  return bios[j].pages.pfns[Math.floor((bios[j].offset + addr - segs[j].base) / PAGE)];
}

// A read's completion: the disk's words land in the user pages by DMA, up
// to i_size; the pins go by bio_check_pages_dirty(). Bytes read, trimmed to
// i_size as iomap_dio_complete() does.
function dmaFromDisk(k: Kernel, f: SimFile, segs: IoVec[], bios: Bio[], pos: number, count: number): number {
  const end = Math.min(pos + count, f.size);
  for (const [i, s] of transferPages(pos, end)) k.dma_write(pfnAt(segs, bios, s), f.store.get(i) ?? 0);
  for (const b of bios) k.bio_check_pages_dirty(b);
  return Math.max(0, end - pos);
}

// A write's completion: the user pages' words reach the disk by DMA, the
// cached copies follow, i_size grows (the filesystem's end_io); the pins
// go without dirtying.
function dmaToDisk(k: Kernel, f: SimFile, segs: IoVec[], bios: Bio[], pos: number, count: number): number {
  const first = Math.floor(pos / PAGE);
  const s = k.v.scratch;
  for (const [i, at] of transferPages(pos, pos + count)) {
    const w = k.dma_read(pfnAt(segs, bios, at));
    f.store.set(i, w);
    s[(i - first) % C.SCRATCH_WORDS] = w;
    if ((i - first) % C.SCRATCH_WORDS === C.SCRATCH_WORDS - 1) k.core.pc_dio_update(f.id, i + 1 - C.SCRATCH_WORDS, C.SCRATCH_WORDS);
  }
  const last = Math.ceil((pos + count) / PAGE);
  const tail = (last - first) % C.SCRATCH_WORDS;
  if (tail) k.core.pc_dio_update(f.id, last - tail, tail);
  for (const b of bios) k.bio_release_pages(b, false);
  f.size = Math.max(f.size, pos + count);
  return count;
}
