// iommufd (/dev/iommu, or /dev/vfio/vfio in VFIO compat): IOAS objects
// whose areas map user memory into the IOMMU domains of the devices
// attached to them. Each IOAS_MAP makes a pages object that captures the
// mapping task, user and mm and its accounting mode (NONE with
// CAP_IPC_LOCK, else USER, or MM in a ctx in MM mode); it is pinned once
// a domain exists, then charged per pinned page to user->locked_vm (USER)
// or mm->locked_vm (MM), plus mm->pinned_vm always. Mirrors
// drivers/iommu/iommufd/ (iommufd_ioas_map(), iopt_alloc_iova(),
// iopt_check_iova(), iopt_pages_update_pinned(), iopt_unmap_iova_range(),
// iommufd_option_rlimit_mode()).
import * as C from '../../assembly/constants';
import { fail, type SyscallError } from '../errors';
import type { UserStruct } from '../cred';
import { overLimit, memlockError } from '../mm/memlock';
import type { PageArray } from '../gup/page-array';
import type { Mm } from '../mm/mm';
import type { Task } from '../task';
import { DeviceFile, type DevicePin } from './device';
import { IommuDomain, IOMMU_READ, IOMMU_WRITE } from './iommu';
import { checkFlags, checkU64, ioctlCaller, pinUserRange, U64_MAX } from './dma-map';
import type { Kernel } from './kernel';
import { dropPages } from './refs';

const PAGE = C.PAGE_SIZE; // the IOAS's iova_alignment

// IOVA the IOAS never hands out: the x86 MSI window and what lies past a
// 48-bit VT-d aperture. UNVERIFIED simplification: the kernel learns them
// from the devices attached (reserved regions, domain aperture); pinsim
// applies them from the start.
const RESERVED: readonly [number, number][] = [[0xfee00000, 0xfef00000], [2 ** 48, U64_MAX]];

export type AccountMode = 'NONE' | 'USER' | 'MM';

export interface IoasMap { ioas: number; user_va: number; length: number; iova?: number; flags: number }
export interface IoasUnmap { ioas: number; iova: number; length: number }

// struct iopt_pages: one per IOAS_MAP; the owner is captured at map time.
interface IoptPages {
  readonly uptr: number;
  readonly npages: number;
  readonly writable: boolean;
  readonly mode: AccountMode;
  readonly task: Task; // source_task (the group leader)
  readonly user: UserStruct; // source_user
  readonly mm: Mm; // source_mm
  pinned: PageArray | null; // while a domain needs the pages
}

interface Area { readonly iova: number; readonly length: number; readonly prot: number; readonly pages: IoptPages }
interface Ioas { readonly id: number; readonly areas: Area[] } // areas sorted by iova
interface Device { readonly id: number; readonly ioas: Ioas; readonly domain: IommuDomain }

const compatAnnounced = new WeakSet<Kernel>(); // pr_info_once

export class Iommufd extends DeviceFile {
  readonly path: string;
  #mode: 'USER' | 'MM'; // ctx->account_mode: USER lets each pages object choose
  #objects = new Map<number, Ioas | Device>(); // the ctx's xarray, ids from 1
  #nextId = 1;

  /** @internal Made by task.iommufd(). */
  constructor(kernel: Kernel, readonly opener: Task, compat: boolean) {
    super(kernel, kernel.deviceName('iommufd'));
    this.path = compat ? '/dev/vfio/vfio' : '/dev/iommu';
    this.#mode = compat ? 'MM' : 'USER';
    if (compat && !compatAnnounced.has(kernel)) {
      compatAnnounced.add(kernel);
      kernel.printk('IOMMUFD is providing /dev/vfio/vfio, not VFIO.');
    }
  }

  // IOMMU_IOAS_ALLOC: the new IOAS's id.
  ioas_alloc(current?: Task): number {
    ioctlCaller(this, 'IOMMU_IOAS_ALLOC', current, this.opener);
    const ioas: Ioas = { id: this.#nextId++, areas: [] };
    this.#objects.set(ioas.id, ioas);
    return ioas.id;
  }

  // Binds the device at bdf to this ctx and attaches it to an IOAS
  // (VFIO_DEVICE_BIND_IOMMUFD + VFIO_DEVICE_ATTACH_IOMMUFD_PT): its new
  // IOMMU domain gets every area, and the first domain of an IOAS pins and
  // charges its areas' pages now. Returns the device's object id.
  // UNVERIFIED: pinsim's choice of entry point; ENOENT for a bad id, EBUSY
  // for a device bound already; a device stays attached until close.
  attach(opts: { ioas: number; bdf: string }, current?: Task): number {
    const ioctl = 'VFIO_DEVICE_ATTACH_IOMMUFD_PT';
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`${ioctl}: expected { ioas, bdf }`);
    const domain = new IommuDomain(this.kernel, opts.bdf);
    ioctlCaller(this, ioctl, current, this.opener);
    const ioas = this.#ioas(ioctl, opts.ioas);
    if (this.#device(opts.bdf)) throw fail(ioctl, C.EBUSY, `${opts.bdf} is bound already`);
    const first = !this.#devicesOf(ioas).length;
    if (first) {
      const done: IoptPages[] = [];
      for (const a of ioas.areas) {
        const err = this.as(() => this.#fill(ioctl, a.pages));
        if (err) {
          this.as(() => done.forEach((p) => this.#unfill(p, false)));
          throw err;
        }
        done.push(a.pages);
      }
    }
    for (const a of ioas.areas) domain.map(a.iova, a.pages.pinned!, 0, a.length / PAGE, a.prot);
    const dev: Device = { id: this.#nextId++, ioas, domain };
    this.#objects.set(dev.id, dev);
    return dev.id;
  }

  // IOMMU_IOAS_MAP as `current` (default: the opener): the IOVA, with
  // iommufd_ioas_map()'s checks in order; all or nothing.
  ioas_map(map: IoasMap, current?: Task): number {
    const ioctl = 'IOMMU_IOAS_MAP';
    if (typeof map !== 'object' || map === null) throw new TypeError(`${ioctl}: expected { ioas, user_va, length, iova?, flags }`);
    const user_va = checkU64('user_va', map.user_va);
    const length = checkU64('length', map.length);
    const iova = checkU64('iova', map.iova ?? 0);
    const flags = checkFlags('flags', map.flags);
    const t = ioctlCaller(this, ioctl, current, this.opener);
    const known = C.IOMMU_IOAS_MAP_FIXED_IOVA | C.IOMMU_IOAS_MAP_WRITEABLE | C.IOMMU_IOAS_MAP_READABLE;
    if (flags & ~known) throw fail(ioctl, C.EOPNOTSUPP, `unknown flags 0x${flags.toString(16)}`);
    if (iova >= U64_MAX || length >= U64_MAX) throw fail(ioctl, C.EOVERFLOW, 'iova or length is ULONG_MAX');
    if (!(flags & (C.IOMMU_IOAS_MAP_WRITEABLE | C.IOMMU_IOAS_MAP_READABLE))) throw fail(ioctl, C.EINVAL, 'neither READABLE nor WRITEABLE');
    const ioas = this.#ioas(ioctl, map.ioas);
    // UNVERIFIED simplification: the kernel accepts a user_va with a page
    // offset (matched in the IOVA); pinsim wants it page-aligned.
    if (length === 0 || length % PAGE || user_va % PAGE) throw fail(ioctl, C.EINVAL, `length 0, or length/user_va not a multiple of ${PAGE}`);
    if (user_va + length > U64_MAX) throw fail(ioctl, C.EOVERFLOW, 'user_va + length wraps');
    let at = iova;
    if (flags & C.IOMMU_IOAS_MAP_FIXED_IOVA) {
      if (iova % PAGE) throw fail(ioctl, C.EINVAL, `iova not a multiple of ${PAGE}`);
      if (iova + length > U64_MAX) throw fail(ioctl, C.EOVERFLOW, 'iova + length wraps');
      if (RESERVED.some(([s, e]) => iova < e && iova + length > s)) throw fail(ioctl, C.EINVAL, 'the range meets a reserved IOVA region');
      if (overlapping(ioas, iova, iova + length - 1).length) throw fail(ioctl, C.EEXIST, 'the range overlaps an area');
    } else {
      at = allocIova(ioas, user_va, length);
      if (at < 0) throw fail(ioctl, C.ENOSPC, `no free IOVA hole of ${length} bytes`);
    }
    const writable = (flags & C.IOMMU_IOAS_MAP_WRITEABLE) !== 0;
    // iopt_alloc_pages(): CAP_IPC_LOCK now means no rlimit charge, ever, for these pages.
    const mode: AccountMode = t.capable('CAP_IPC_LOCK') ? 'NONE' : this.#mode;
    const pages: IoptPages = {
      uptr: user_va, npages: length / PAGE, writable, mode, task: t, user: this.kernel.user(t.uid), mm: t.mm, pinned: null,
    };
    const area: Area = { iova: at, length, prot: (writable ? IOMMU_WRITE : 0) | (flags & C.IOMMU_IOAS_MAP_READABLE ? IOMMU_READ : 0), pages };
    const devices = this.#devicesOf(ioas);
    if (devices.length) {
      const err = this.as(() => this.#fill(ioctl, pages));
      if (err) throw err;
      for (const d of devices) d.domain.map(at, pages.pinned!, 0, pages.npages, area.prot);
    }
    const i = ioas.areas.findIndex((a) => a.iova > at);
    ioas.areas.splice(i < 0 ? ioas.areas.length : i, 0, area);
    return at;
  }

  // IOMMU_IOAS_UNMAP: the bytes unmapped. iova = length = 0 unmaps all.
  // Areas are removed in IOVA order and an area only partly covered stops
  // the walk with ENOENT, keeping what went before it (as the kernel does).
  ioas_unmap(unmap: IoasUnmap, current?: Task): number {
    const ioctl = 'IOMMU_IOAS_UNMAP';
    if (typeof unmap !== 'object' || unmap === null) throw new TypeError(`${ioctl}: expected { ioas, iova, length }`);
    const iova = checkU64('iova', unmap.iova);
    const length = checkU64('length', unmap.length);
    ioctlCaller(this, ioctl, current, this.opener);
    const ioas = this.#ioas(ioctl, unmap.ioas);
    const all = iova === 0 && length === 0;
    if (!all && length === 0) throw fail(ioctl, C.EINVAL, 'length 0');
    if (!all && iova + length > U64_MAX) throw fail(ioctl, C.EOVERFLOW, 'iova + length wraps');
    const last = all ? U64_MAX : iova + length - 1;
    let unmapped = 0;
    for (const a of overlapping(ioas, all ? 0 : iova, last)) {
      if (a.iova < iova || a.iova + a.length - 1 > last) throw fail(ioctl, C.ENOENT, `the area at 0x${a.iova.toString(16)} is only partly covered (${unmapped} bytes were unmapped before it)`);
      this.as(() => this.#removeArea(ioas, a));
      unmapped += a.length;
    }
    if (!unmapped && !all) throw fail(ioctl, C.ENOENT, 'no area in the range');
    return unmapped;
  }

  // IOMMU_OPTION(IOMMU_OPTION_RLIMIT_MODE), object_id 0: GET gives 1 in MM
  // mode, else 0; SET (needs CAP_SYS_RESOURCE, an empty ctx) 0 = USER, 1 = MM.
  option_rlimit_mode(op: number, val64 = 0, current?: Task): number {
    const ioctl = 'IOMMU_OPTION';
    checkFlags('op', op);
    checkU64('val64', val64);
    const t = ioctlCaller(this, ioctl, current, this.opener);
    if (op === C.IOMMU_OPTION_OP_GET) return this.#mode === 'MM' ? 1 : 0;
    if (op !== C.IOMMU_OPTION_OP_SET) throw fail(ioctl, C.EOPNOTSUPP, `op ${op}`);
    if (!t.capable('CAP_SYS_RESOURCE')) throw fail(ioctl, C.EPERM, 'IOMMU_OPTION_RLIMIT_MODE needs CAP_SYS_RESOURCE');
    if (this.#objects.size) throw fail(ioctl, C.EBUSY, `the ctx holds ${this.#objects.size} objects`);
    if (val64 !== 0 && val64 !== 1) throw fail(ioctl, C.EINVAL, `val64 ${val64}`);
    this.#mode = val64 === 1 ? 'MM' : 'USER';
    return 0;
  }

  // The device at bdf DMAs through its domain: true when the write reached
  // memory, else a DMAR fault is logged and nothing changes.
  dma_write(bdf: string, iova: number, word: number): boolean {
    return this.#dmaDevice('dma_write', bdf).domain.dma_write(checkU64('iova', iova), word);
  }

  dma_read(bdf: string, iova: number): number | null {
    return this.#dmaDevice('dma_read', bdf).domain.dma_read(checkU64('iova', iova));
  }

  // The areas of an IOAS, with each pages object's mode and whether it is pinned.
  areas(ioas: number): { iova: number; length: number; user_va: number; mode: AccountMode; pinned: boolean; pid: number }[] {
    const x = this.#objects.get(ioas);
    if (!x || !('areas' in x)) throw new RangeError(`no IOAS ${ioas}`);
    return x.areas.map((a) => ({ iova: a.iova, length: a.length, user_va: a.pages.uptr, mode: a.pages.mode, pinned: a.pages.pinned !== null, pid: a.pages.task.pid }));
  }

  pins(): DevicePin[] {
    return this.#allIoas().flatMap((ioas) => ioas.areas.filter((a) => a.pages.pinned).map((a) => ({
      device: this.name, object: `ioas ${ioas.id} iova 0x${a.iova.toString(16)}`, pid: a.pages.task.pid, addr: a.pages.uptr,
      length: a.length, pages: a.pages.npages, gup_flags: C.FOLL_LONGTERM | (a.pages.writable ? C.FOLL_WRITE : 0),
    })));
  }

  // iommufd_fops_release(): every object goes; the pages are unpinned and uncharged.
  protected release(): void {
    for (const ioas of this.#allIoas()) for (const a of [...ioas.areas]) this.#removeArea(ioas, a);
    this.#objects.clear();
  }

  // Pin the pages, then charge what was pinned (iopt_pages_update_pinned());
  // a refused charge unpins everything again. An error, or null.
  #fill(ioctl: string, p: IoptPages): SyscallError | null {
    const k = this.kernel;
    const pa = k.pageArray(p.npages);
    const pin = pinUserRange(k, p.mm, p.uptr, p.npages, p.writable ? C.FOLL_WRITE : 0, pa);
    let err: SyscallError | null = null;
    if (pin.err) err = fail(ioctl, -pin.err, `pinning user_va 0x${(p.uptr + pin.pinned * PAGE).toString(16)} failed`);
    else err = this.#charge(ioctl, p, true);
    if (err) {
      dropPages(k, pa, pin.pinned, false);
      pa.free();
      return err;
    }
    p.pinned = pa;
    return null;
  }

  // The last domain let go of the pages: unpin (dirty if writable) and uncharge.
  #unfill(p: IoptPages, dirty: boolean): void {
    if (!p.pinned) return;
    dropPages(this.kernel, p.pinned, p.npages, dirty && p.writable);
    this.#charge('', p, false);
    p.pinned.free();
    p.pinned = null;
  }

  // iopt_pages_update_pinned() of all the pages: the mode's rlimit charge,
  // then pinned_vm in every mode. MM mode mmgets the source mm first: once
  // its task has exited that fails (-EINVAL) and neither counter moves
  // (UNVERIFIED: read from update_mm_locked_vm(); USER and NONE still
  // uncharge the dead mm's pinned_vm).
  #charge(ioctl: string, p: IoptPages, inc: boolean): SyscallError | null {
    const k = this.kernel;
    const n = p.npages;
    const by = 'iopt_pages_update_pinned';
    if (p.mode === 'USER' && k.__account_user_locked_vm(p.user, n, inc, p.task, { by }) < 0) {
      return memlockError(ioctl, C.ENOMEM, overLimit('user.locked_vm', p.user.locked_vm, n, p.task.memlockBytes())!);
    }
    if (p.mode === 'MM') {
      if (p.mm.dead) return fail(ioctl, C.EINVAL, 'the source mm has no users');
      if (k.__account_locked_vm(p.mm, n, inc, p.task, false, by) < 0) {
        return memlockError(ioctl, C.ENOMEM, overLimit('mm.locked_vm', p.mm.locked_vm, n, p.task.memlockBytes())!);
      }
    }
    k.__account_pinned_vm(p.mm, n, inc, p.task, false, by);
    return null;
  }

  #removeArea(ioas: Ioas, a: Area): void {
    for (const d of this.#devicesOf(ioas)) d.domain.unmap(a.iova, a.length);
    this.#unfill(a.pages, true);
    ioas.areas.splice(ioas.areas.indexOf(a), 1);
  }

  #ioas(ioctl: string, id: unknown): Ioas {
    const x = this.#objects.get(checkFlags('ioas', id));
    if (!x || !('areas' in x)) throw fail(ioctl, C.ENOENT, `no IOAS ${String(id)}`); // UNVERIFIED errno
    return x;
  }

  #allIoas(): Ioas[] {
    return [...this.#objects.values()].filter((x): x is Ioas => 'areas' in x);
  }

  #devicesOf(ioas: Ioas): Device[] {
    return [...this.#objects.values()].filter((x): x is Device => 'domain' in x && x.ioas === ioas);
  }

  #device(bdf: string): Device | undefined {
    return [...this.#objects.values()].find((x): x is Device => 'domain' in x && x.domain.bdf === bdf);
  }

  #dmaDevice(what: string, bdf: string): Device {
    if (this.closed) throw fail(what, C.EBADF, `${this.name} is closed`);
    const d = this.#device(bdf);
    if (!d) throw new RangeError(`${what}: no device ${bdf} is attached to ${this.name}`);
    return d;
  }
}

// The areas meeting [first, last], in IOVA order.
function overlapping(ioas: Ioas, first: number, last: number): Area[] {
  return ioas.areas.filter((a) => a.iova <= last && a.iova + a.length - 1 >= first);
}

// iopt_alloc_iova(): the lowest hole that fits, aligned to the length's
// power of two but no more than user_va's own alignment; -1 when none.
function allocIova(ioas: Ioas, uptr: number, length: number): number {
  let align = PAGE;
  while (align < length && (uptr === 0 || uptr % (align * 2) === 0)) align *= 2;
  const used = [...RESERVED, ...ioas.areas.map((a): [number, number] => [a.iova, a.iova + a.length])].sort((x, y) => x[0] - y[0]);
  let at = 0;
  for (const [s, e] of used) {
    if (at + length <= s) return at;
    if (e > at) at = Math.ceil(e / align) * align;
  }
  return at + length <= U64_MAX ? at : -1;
}

// open("/dev/iommu"), or of /dev/vfio/vfio when iommufd provides it
// (compat: the ctx charges in MM mode).
export function openIommufd(t: Task, opts: { compat?: boolean } = {}): Iommufd {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('iommufd options must be an object');
  const compat = opts.compat ?? false;
  if (typeof compat !== 'boolean') throw new TypeError('compat must be a boolean');
  // iommufd came in 6.2: before, /dev/iommu does not exist.
  if (!t.kernel.kr.iommufd) throw fail('open', C.ENOENT, `${compat ? '/dev/vfio/vfio is VFIO type1 and' : '/dev/iommu:'} iommufd does not exist before 6.2 (kernel '${t.kernel.kernel}')`);
  const fd = new Iommufd(t.kernel, t, compat);
  t.installFd(fd);
  return fd;
}
