// An AF_XDP socket with its UMEM (net/xdp/xdp_umem.c): setsockopt(SOL_XDP,
// XDP_UMEM_REG) validates the region, charges user->locked_vm BEFORE
// pinning (ENOBUFS), pins it long-term, and the last close unpins it
// always dirty. The mm's counters are not touched.
import * as C from '../../assembly/constants';
import { fail, checkInt, type SyscallError } from '../errors';
import { memlockError, overLimit } from '../mm/memlock';
import type { UserStruct } from '../cred';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';
import { DeviceFile, type DevicePin } from './device';
import { dropPages, grabSlow } from './refs';

const PAGE = C.PAGE_SIZE;
const U32_MAX = 0xffffffff;
const FLAGS_VALID = C.XDP_UMEM_UNALIGNED_CHUNK_FLAG | C.XDP_UMEM_TX_SW_CSUM | C.XDP_UMEM_TX_METADATA_LEN;

// struct xdp_umem_reg.
export interface XdpUmemReg {
  addr: number; // u64, page-aligned
  len: number;
  chunk_size: number;
  headroom?: number;
  flags?: number; // XDP_UMEM_*
  tx_metadata_len?: number; // with XDP_UMEM_TX_METADATA_LEN
}

// socket(AF_XDP) then setsockopt(XDP_UMEM_REG) for task t: the socket, in
// t's fd table, holding the UMEM. On failure no socket is left.
export function xdpUmemReg(t: Task, reg: XdpUmemReg): XdpSocket {
  if (t.exited) throw fail('setsockopt', C.ESRCH, `task ${t.pid} has exited`);
  const r = checkReg(reg);
  return t.kernel.guard(() => {
    const why = umemInvalid(r);
    if (why) throw fail('setsockopt', C.EINVAL, `XDP_UMEM_REG: ${why}`);
    const sock = new XdpSocket(t);
    const err = sock.umemReg(r);
    if (err) {
      sock.close();
      throw err;
    }
    sock.fd = t.installFd(sock);
    return sock;
  }, t.name);
}

export class XdpSocket extends DeviceFile {
  readonly path = 'socket:[AF_XDP]';
  fd = -1;
  #umem: { addr: number; npgs: number; pages: PageArray; user: UserStruct | null; task: Task; chunk_size: number } | null = null;

  /** @internal Made by t.xdp_umem_reg(). */
  constructor(readonly task: Task) {
    super(task.kernel, task.kernel.deviceName('xsk'));
  }

  // The NIC receives a frame into the UMEM at byte offset `offset` (DMA
  // into the pinned page; pinsim stores the frame as the page's word).
  receive(offset: number, word: number): void {
    checkInt('offset', offset);
    if (this.closed) throw fail('receive', C.EBADF, `${this.name} is closed`);
    const u = this.#umem!;
    if (offset < 0 || offset >= u.npgs * PAGE) throw new RangeError(`offset ${offset} is outside the ${u.npgs * PAGE}-byte UMEM`);
    this.kernel.dma_write(u.pages.pfns[Math.floor(offset / PAGE)], word);
  }

  pins(): DevicePin[] {
    const u = this.#umem;
    return u ? [{ device: this.name, object: 'umem', pid: u.task.pid, addr: u.addr, length: u.npgs * PAGE, pages: u.npgs, gup_flags: C.FOLL_WRITE | C.FOLL_LONGTERM }] : [];
  }

  /** @internal xdp_umem_account_pages() then xdp_umem_pin_pages(); the error, or null. */
  umemReg(r: Required<XdpUmemReg>): SyscallError | null {
    return this.as(() => {
      const t = this.task;
      const k = this.kernel;
      const npgs = Math.ceil(r.len / PAGE);
      // Charged first, against current's limit; CAP_IPC_LOCK skips it (no user held).
      const user = t.capable('CAP_IPC_LOCK') ? null : k.user(t.uid);
      if (user) {
        const before = user.locked_vm;
        if (k.__account_user_locked_vm(user, npgs, true, t, { by: 'xdp_umem', errno: 'ENOBUFS' }) < 0) {
          return memlockError('setsockopt', C.ENOBUFS, overLimit('user.locked_vm', before, npgs, t.getrlimit('RLIMIT_MEMLOCK').soft)!);
        }
      }
      const uncharge = () => { if (user) k.__account_user_locked_vm(user, npgs, false, t, { by: 'xdp_umem' }); };
      let pages: PageArray;
      try {
        pages = k.pageArray(npgs);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        uncharge();
        return fail('setsockopt', C.ENOMEM, 'no memory for the UMEM page list');
      }
      // An addr past 2^53 is far beyond TASK_SIZE: the pin fails with -EFAULT.
      const got = Number.isSafeInteger(r.addr + npgs * PAGE) ? grabSlow(k, t, r.addr, npgs, C.FOLL_WRITE | C.FOLL_LONGTERM, pages) : -C.EFAULT;
      if (got !== npgs) {
        if (got > 0) dropPages(k, pages, got, false);
        pages.free();
        uncharge();
        return fail('setsockopt', got < 0 ? -got : C.ENOMEM, `pinned ${Math.max(got, 0)} of ${npgs} UMEM pages`);
      }
      this.#umem = { addr: r.addr, npgs, pages, user, task: t, chunk_size: r.chunk_size };
      return null;
    });
  }

  // xdp_umem_release(): unpin, always dirtying; give the user its pages back.
  protected release(): void {
    const u = this.#umem;
    if (!u) return;
    this.#umem = null;
    dropPages(this.kernel, u.pages, u.npgs, true);
    u.pages.free();
    if (u.user) this.kernel.__account_user_locked_vm(u.user, u.npgs, false, u.task, { by: 'xdp_umem' });
  }
}

// xdp_umem_reg()'s checks, in its order (all EINVAL): why, or null.
function umemInvalid(r: Required<XdpUmemReg>): string | null {
  const unaligned = (r.flags & C.XDP_UMEM_UNALIGNED_CHUNK_FLAG) !== 0;
  if (r.chunk_size < C.XDP_UMEM_MIN_CHUNK_SIZE || r.chunk_size > PAGE) return `chunk_size ${r.chunk_size} is outside ${C.XDP_UMEM_MIN_CHUNK_SIZE}..${PAGE}`;
  if (r.flags & ~FLAGS_VALID) return `unknown flags 0x${(r.flags & ~FLAGS_VALID).toString(16)}`;
  if (!unaligned && (r.chunk_size & (r.chunk_size - 1))) return 'aligned mode needs a power-of-2 chunk_size';
  if (r.addr % PAGE) return 'addr is not page-aligned';
  if (BigInt(r.addr) + BigInt(r.len) >= 2n ** 64n) return 'addr + len wraps';
  if (Math.ceil(r.len / PAGE) > U32_MAX) return 'more than U32_MAX pages';
  const chunks = Math.floor(r.len / r.chunk_size);
  if (chunks === 0 || chunks > U32_MAX) return `${chunks} chunks`;
  if (!unaligned && r.len % r.chunk_size) return 'aligned mode needs len to be a multiple of chunk_size';
  if (r.headroom >= r.chunk_size - C.XDP_PACKET_HEADROOM) return `headroom ${r.headroom} leaves no room after XDP_PACKET_HEADROOM`;
  if (r.flags & C.XDP_UMEM_TX_METADATA_LEN && (r.tx_metadata_len >= 256 || r.tx_metadata_len % 8)) return 'tx_metadata_len must be below 256 and a multiple of 8';
  return null;
}

function checkReg(reg: unknown): Required<XdpUmemReg> {
  if (typeof reg !== 'object' || reg === null) throw new TypeError('xdp_umem_reg: expected { addr, len, chunk_size, headroom?, flags?, tx_metadata_len? }');
  const r = reg as XdpUmemReg;
  const out = { addr: r.addr, len: r.len, chunk_size: r.chunk_size, headroom: r.headroom ?? 0, flags: r.flags ?? 0, tx_metadata_len: r.tx_metadata_len ?? 0 };
  if (typeof out.addr !== 'number' || !Number.isInteger(out.addr) || out.addr < 0 || out.addr >= 2 ** 64) {
    throw new RangeError(`addr must be an integer in [0, 2^64), got ${String(out.addr)}`);
  }
  for (const [k, v] of Object.entries(out).slice(1)) {
    if (checkInt(k, v) < 0) throw new RangeError(`${k} must not be negative, got ${v}`);
  }
  return out;
}
