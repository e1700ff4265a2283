// A TCP socket's MSG_ZEROCOPY sends (net/core/skbuff.c, net/ipv4/tcp.c):
// with SO_ZEROCOPY set, a send with MSG_ZEROCOPY charges (len >> 12) + 2
// pages to user->locked_vm (mm_account_pinned_pages(), ENOBUFS), takes
// FOLL_GET references on the user pages (not pins) and holds both until the
// data is acknowledged; the completion lands on the error queue as a range
// of send ids. Without SO_ZEROCOPY the flag is ignored and the data copied.
import * as C from '../../assembly/constants';
import { fail, checkInt, checkBool } from '../errors';
import { memlockError, overLimit } from '../mm/memlock';
import { RLIM_INFINITY, type UserStruct } from '../cred';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';
import type { Pending } from './clock';
import { DeviceFile, type DevicePin } from './device';

const PAGE = C.PAGE_SIZE;
// From a zerocopy send to the ACK that frees its skb (a choice).
export const ZEROCOPY_ACK_NS = 50_000;

// A completion read from the error queue (struct sock_extended_err with
// ee_origin SO_EE_ORIGIN_ZEROCOPY): sends lo..hi (ee_info..ee_data) are done.
export interface ZerocopyNotification { lo: number; hi: number }

// struct ubuf_info_msgzc of one send: its id, its charge and its pages.
interface Uarg {
  id: number;
  addr: number;
  len: number;
  pages: PageArray;
  npages: number;
  user: UserStruct | null; // null: nothing charged
  num: number;
  task: Task;
  ack: Pending;
}

// socket(AF_INET, SOCK_STREAM) for task t, connected to a peer pinsim does not model.
export function tcpSocket(t: Task): TcpSocket {
  if (t.exited) throw fail('socket', C.ESRCH, `task ${t.pid} has exited`);
  return t.kernel.guard(() => new TcpSocket(t), t.name);
}

export class TcpSocket extends DeviceFile {
  readonly path = 'socket:[TCP]';
  readonly fd: number;
  #zerocopy = false;
  #next = 0; // the next send's id (sk_zckey)
  #inflight: Uarg[] = [];
  #errqueue: ZerocopyNotification[] = [];

  /** @internal Made by t.socket_tcp(). */
  constructor(readonly task: Task) {
    super(task.kernel, task.kernel.deviceName('tcp'));
    this.fd = task.installFd(this);
  }

  // setsockopt(SOL_SOCKET, SO_ZEROCOPY, on).
  setsockopt_zerocopy(on: boolean): void {
    checkBool('on', on);
    this.#live('setsockopt');
    this.#zerocopy = on;
  }

  // sendmsg(2) of [addr, addr + len): the bytes sent. With SO_ZEROCOPY and
  // MSG_ZEROCOPY the pages are referenced until the ACK; else copied (pinsim
  // does not model the payload: the copy reads nothing).
  sendmsg(addr: number, len: number, flags = 0): number {
    for (const [what, v] of [['addr', addr], ['len', len], ['flags', flags]] as const) {
      if (checkInt(what, v) < 0) throw new RangeError(`${what} must not be negative, got ${v}`);
    }
    const t = this.#live('sendmsg');
    return this.kernel.guard(() => {
      if (!this.#zerocopy || !(flags & C.MSG_ZEROCOPY) || len === 0) return len;
      this.as(() => this.#sendZerocopy(t, addr, len));
      return len;
    }, t.name);
  }

  // recvmsg(MSG_ERRQUEUE): the completions so far, consecutive ids merged
  // into one range as the kernel merges them; consumed.
  recv_errqueue(): ZerocopyNotification[] {
    this.#live('recvmsg');
    const out = this.#errqueue;
    this.#errqueue = [];
    return out;
  }

  pins(): DevicePin[] {
    return this.#inflight.map((u) => ({
      device: this.name, object: `zerocopy send ${u.id}`, pid: u.task.pid, addr: u.addr, length: u.len, pages: u.npages, gup_flags: C.FOLL_GET,
    }));
  }

  // The last close purges the write queue: every skb is freed, so every
  // pending send completes now.
  protected release(): void {
    for (const u of [...this.#inflight]) {
      this.kernel.clock.cancel(u.ack);
      this.#complete(u);
    }
  }

  #sendZerocopy(t: Task, addr: number, len: number): void {
    const k = this.kernel;
    const first = Math.floor(addr / PAGE);
    const npages = Math.ceil((addr + len) / PAGE) - first;
    const pages = k.pageArray(npages);
    let charge;
    try {
      charge = this.#account(t, len);
    } catch (e) {
      pages.free();
      throw e;
    }
    const { user, num } = charge;
    // iov_iter_get_pages2(): FOLL_GET references for reading, no pin, not long-term.
    const got = k.get_user_pages_fast(t, first * PAGE, npages, 0, pages);
    if (got !== npages) {
      for (let i = 0; i < got; i++) k.put_page(pages.pfns[i]);
      pages.free();
      if (user) k.__account_user_locked_vm(user, num, false, t, { by: 'msg_zerocopy' });
      throw fail('sendmsg', C.EFAULT, `only ${Math.max(got, 0)} of ${npages} pages could be referenced`);
    }
    const id = this.#next;
    this.#next = (this.#next + 1) >>> 0;
    const u: Uarg = { id, addr, len, pages, npages, user, num, task: t, ack: k.clock.schedule(ZEROCOPY_ACK_NS, `${this.name}: ACK of zerocopy send ${id}`, () => this.as(() => this.#complete(u))) };
    this.#inflight.push(u);
  }

  // mm_account_pinned_pages(): nothing with CAP_IPC_LOCK or an unlimited
  // RLIMIT_MEMLOCK; else (len >> PAGE_SHIFT) + 2 pages, the worst case for an
  // unaligned start and end, against current's limit (ENOBUFS).
  #account(t: Task, len: number): { user: UserStruct | null; num: number } {
    const rlim = t.getrlimit('RLIMIT_MEMLOCK').soft;
    if (t.capable('CAP_IPC_LOCK') || rlim === RLIM_INFINITY) return { user: null, num: 0 };
    const num = Math.floor(len / PAGE) + 2;
    const user = this.kernel.user(t.uid);
    const before = user.locked_vm;
    if (this.kernel.__account_user_locked_vm(user, num, true, t, { by: 'msg_zerocopy', errno: 'ENOBUFS' }) < 0) {
      throw memlockError('sendmsg', C.ENOBUFS, overLimit('user.locked_vm', before, num, rlim)!);
    }
    return { user, num };
  }

  // The skb is freed: the references go, the charge goes
  // (mm_unaccount_pinned_pages()), and the id joins the error queue.
  #complete(u: Uarg): void {
    const k = this.kernel;
    this.#inflight.splice(this.#inflight.indexOf(u), 1);
    for (let i = 0; i < u.npages; i++) k.put_page(u.pages.pfns[i]);
    u.pages.free();
    if (u.user) k.__account_user_locked_vm(u.user, u.num, false, u.task, { by: 'msg_zerocopy' });
    const last = this.#errqueue.at(-1);
    if (last && last.hi + 1 === u.id) last.hi = u.id;
    else this.#errqueue.push({ lo: u.id, hi: u.id });
  }

  #live(syscall: string): Task {
    if (this.closed) throw fail(syscall, C.EBADF, `${this.name} is closed`);
    if (this.task.exited) throw fail(syscall, C.ESRCH, `${this.name}: its creator (pid ${this.task.pid}) has exited; pinsim calls as the creator`);
    return this.task;
  }
}
