// An io_uring instance (io_uring/io_uring.c, rsrc.c, rw.c) as far as
// fixed buffers go: io_uring_setup(), IORING_(UN)REGISTER_BUFFERS,
// IORING_REGISTER_BUFFERS_UPDATE, and IORING_OP_READ_FIXED/WRITE_FIXED
// requests whose data moves by DMA between the file and the buffer's
// frames, completing on the machine's clock with CQEs.
import * as C from '../../assembly/constants';
import { SyscallError, fail, checkInt } from '../errors';
import { SimFile } from '../fs/file';
import type { Task } from '../task';
import type { Pending } from './clock';
import { DeviceFile, type DevicePin } from './device';
import {
  bufferPfn, bufferRegister, bufferUnmap, bufferValidate, checkIovec, type Iovec, type MappedUbuf, type RsrcCtx,
} from './io_uring-rsrc';

export type { Iovec } from './io_uring-rsrc';

const PAGE = C.PAGE_SIZE;
// How long a fixed read or write takes from submission to its CQE (a choice).
export const IO_URING_RW_NS = 10_000;

export interface IoUringCqe { user_data: number; res: number; flags: number }

export interface IoUringOptions {
  // io_validate_user_buf_range()'s 1 GiB cap per buffer (default: on, as in
  // mainline; false models Jens Axboe's May 2026 patch that drops it).
  bufferCap?: boolean;
}

// A registered buffer as listed by ring.buffers().
export interface IoUringBuffer {
  index: number | null; // its table slot, null once unregistered while a request still uses it
  addr: number;
  length: number;
  bvecs: number; // pages, or folios when coalesced
  folio_shift: number;
  acct_pages: number; // its charge to user->locked_vm (without CAP_IPC_LOCK) and pinned_vm
}

// io_uring_setup(2) for task t: the ring, installed in t's fd table.
export function ioUringSetup(t: Task, entries: number, opts: IoUringOptions = {}): IoUring {
  if (t.exited) throw fail('io_uring_setup', C.ESRCH, `task ${t.pid} has exited`);
  checkInt('entries', entries);
  if (typeof opts !== 'object' || opts === null) throw new TypeError('io_uring_setup: options must be an object');
  if (opts.bufferCap !== undefined && typeof opts.bufferCap !== 'boolean') throw new TypeError('bufferCap must be a boolean');
  return t.kernel.guard(() => {
    if (entries <= 0 || entries > C.IORING_MAX_ENTRIES) {
      throw fail('io_uring_setup', C.EINVAL, `entries must be in 1..${C.IORING_MAX_ENTRIES} (IORING_SETUP_CLAMP is not modelled), got ${entries}`);
    }
    return new IoUring(t, 2 ** Math.ceil(Math.log2(entries)), opts.bufferCap ?? true);
  }, t.name);
}

export class IoUring extends DeviceFile {
  readonly path = 'anon_inode:[io_uring]';
  readonly fd: number; // in the creator's table
  readonly cq_entries: number;
  readonly #task: Task; // the creator: pinsim submits and registers as it
  readonly #ctx: RsrcCtx;
  #table: (MappedUbuf | null)[] | null = null;
  #cqes: IoUringCqe[] = [];
  #inflight = new Map<Pending, MappedUbuf>();

  /** @internal Made by t.io_uring_setup(). */
  constructor(t: Task, readonly sq_entries: number, bufferCap: boolean) {
    super(t.kernel, t.kernel.deviceName('io_uring'));
    this.#task = t;
    this.cq_entries = 2 * sq_entries;
    // io_uring_create(): CAP_IPC_LOCK is looked at here, once; without it
    // the ring charges the creator's user_struct. mm_account is always set.
    this.#ctx = {
      kernel: t.kernel, user: t.capable('CAP_IPC_LOCK') ? null : t.kernel.user(t.uid), mm_account: t.mm,
      maxLen: bufferCap ? C.IO_BUF_MAX_LEN : Infinity, heads: new Map(),
    };
    this.fd = t.installFd(this);
  }

  // IORING_REGISTER_BUFFERS (io_sqe_buffers_register()): all or nothing.
  // With tags, IORING_REGISTER_BUFFERS2: a tagged buffer posts a CQE
  // { user_data: tag, res: 0 } once it is gone (unregistered, replaced, and
  // no request using it any more).
  register_buffers(iovecs: readonly Iovec[], tags?: readonly number[]): void {
    const cur = this.#current('io_uring_register');
    const iovs = checkIovecs(iovecs);
    const tg = checkTags(tags, iovs.length);
    this.#run(cur, () => {
      if (this.#table) throw fail('io_uring_register', C.EBUSY, 'a buffer table is registered already');
      if (iovs.length === 0 || iovs.length > C.IORING_MAX_REG_BUFFERS) {
        throw fail('io_uring_register', C.EINVAL, `nr must be in 1..${C.IORING_MAX_REG_BUFFERS}, got ${iovs.length}`);
      }
      this.#table = new Array<MappedUbuf | null>(iovs.length).fill(null);
      const last = { hpage: -1 };
      for (let i = 0; i < iovs.length; i++) {
        const err = this.#fill(i, iovs[i], tg[i], cur, last);
        if (err) {
          for (const b of this.#table) if (b) b.tag = 0; // io_clear_table_tags(): the unwind posts nothing
          this.#dropTable(); // everything this call registered is unpinned and uncharged
          throw err;
        }
      }
    });
  }

  // IORING_REGISTER_BUFFERS_UPDATE (__io_sqe_buffers_update()): replaces
  // slots offset.. in turn; the count done, or the first error if none was.
  register_buffers_update(offset: number, iovecs: readonly Iovec[], tags?: readonly number[]): number {
    const cur = this.#current('io_uring_register');
    checkInt('offset', offset);
    const iovs = checkIovecs(iovecs);
    const tg = checkTags(tags, iovs.length);
    return this.#run(cur, () => {
      const table = this.#table;
      if (!table) throw fail('io_uring_register', C.ENXIO, 'no buffer table is registered');
      if (offset < 0 || offset + iovs.length > table.length) {
        throw fail('io_uring_register', C.EINVAL, `slots ${offset}..${offset + iovs.length - 1} are outside a table of ${table.length}`);
      }
      const last = { hpage: -1 };
      let done = 0;
      for (; done < iovs.length; done++) {
        // The new buffer is charged while the old one still sits in the
        // slot, so a folio they share is charged by neither once the old
        // one goes (the kernel's own accounting gap).
        const old = table[offset + done];
        const err = this.#fill(offset + done, iovs[done], tg[done], cur, last, old);
        if (err) {
          if (done === 0) throw err;
          break;
        }
      }
      return done;
    });
  }

  // IORING_UNREGISTER_BUFFERS: drops the table; a buffer an in-flight
  // request uses stays pinned until it completes.
  unregister_buffers(): void {
    const cur = this.#current('io_uring_register');
    this.#run(cur, () => {
      if (!this.#table) throw fail('io_uring_register', C.ENXIO, 'no buffer table is registered');
      this.#dropTable();
    });
  }

  // Submits IORING_OP_READ_FIXED: file bytes [offset, offset + len) into the
  // registered buffer buf_index at addr. Its CQE carries the bytes read or -errno.
  read_fixed(fd: number, buf_index: number, addr: number, len: number, offset: number, user_data = 0): void {
    this.#submit(C.IORING_OP_READ_FIXED, fd, buf_index, addr, len, offset, user_data);
  }

  // Submits IORING_OP_WRITE_FIXED: the buffer's bytes at addr to the file at offset.
  write_fixed(fd: number, buf_index: number, addr: number, len: number, offset: number, user_data = 0): void {
    this.#submit(C.IORING_OP_WRITE_FIXED, fd, buf_index, addr, len, offset, user_data);
  }

  // The CQEs posted so far, consumed (io_uring_peek_batch_cqe() + cq_advance).
  peek_cqes(): IoUringCqe[] {
    const out = this.#cqes;
    this.#cqes = [];
    return out;
  }

  // io_uring_wait_cqe_nr(): moves the clock to this ring's completions until
  // min CQEs are there (or none is pending), then consumes them all.
  wait_cqes(min = 1): IoUringCqe[] {
    checkInt('min', min);
    this.#current('io_uring_enter');
    while (this.#cqes.length < min && this.#inflight.size) {
      const next = Math.min(...[...this.#inflight.keys()].map((p) => p.at));
      this.kernel.advance(next - this.kernel.now());
    }
    return this.peek_cqes();
  }

  // The registered buffers (and those in-flight requests still hold).
  buffers(): IoUringBuffer[] {
    const slot = new Map(this.#table?.map((b, i) => [b, i]) ?? []);
    return this.#live().map((b) => ({
      index: slot.get(b) ?? null, addr: b.ubuf, length: b.len, bvecs: b.nr_bvecs, folio_shift: b.folio_shift, acct_pages: b.acct_pages,
    }));
  }

  // The frame a fixed request at addr of table slot buf_index reaches; null
  // where none would (an empty slot, addr outside the buffer).
  frame(buf_index: number, addr: number): number | null {
    checkInt('buf_index', buf_index);
    checkInt('addr', addr);
    const imu = this.#table?.[buf_index] ?? null;
    return imu && addr >= imu.ubuf && addr < imu.ubuf + imu.len ? bufferPfn(imu, addr) : null;
  }

  // The frames the ring holds pins on: one entry per pin (a page, or a folio's head once coalesced).
  pinned(): number[] {
    return this.#live().flatMap((b) => Array.from(b.pages.pfns.subarray(0, b.nr_bvecs)));
  }

  pins(): DevicePin[] {
    return this.buffers().map((b, i) => ({
      device: this.name, object: b.index === null ? `buffer (unregistered, in flight) #${i}` : `buffer ${b.index}`,
      pid: this.#task.pid, addr: b.addr, length: b.length, pages: b.bvecs, gup_flags: C.FOLL_WRITE | C.FOLL_LONGTERM,
    }));
  }

  // io_ring_ctx_free(): in-flight requests are cancelled (the kernel waits
  // for them: pinsim drops them unrun), then the table goes.
  protected release(): void {
    for (const [p, imu] of this.#inflight) {
      this.kernel.clock.cancel(p);
      this.#put(imu);
    }
    this.#inflight.clear();
    if (this.#table) this.#dropTable();
    this.#cqes = [];
  }

  // ---- internals ----

  // Validates and registers iovec i into slot i (replacing `old`), or the error.
  #fill(i: number, iov: Iovec, tag: number, cur: Task, last: { hpage: number }, old: MappedUbuf | null = null): SyscallError | null {
    const v = bufferValidate(this.#ctx, iov);
    if (v < 0) return fail('io_uring_register', -v, `iovecs[${i}]: ${v === -C.EOVERFLOW ? 'base + length overflows' : 'a zero length, a NULL base with a length, or longer than the cap'}`);
    let imu: MappedUbuf | null = null;
    if (iov.iov_base !== 0) {
      const r = bufferRegister(this.#ctx, cur, iov, last);
      if (r instanceof SyscallError) return r;
      imu = r;
      imu.tag = tag;
    } else if (tag) {
      return fail('io_uring_register', C.EINVAL, `slot ${i}: a tag on an empty slot`);
    }
    if (old) this.#remove(i);
    this.#table![i] = imu;
    if (imu) for (const h of imu.heads) this.#ctx.heads.set(h, (this.#ctx.heads.get(h) ?? 0) + 1);
    return null;
  }

  #remove(i: number): void {
    const imu = this.#table![i];
    if (!imu) return;
    this.#table![i] = null;
    for (const h of imu.heads) {
      const n = this.#ctx.heads.get(h)! - 1;
      if (n) this.#ctx.heads.set(h, n);
      else this.#ctx.heads.delete(h);
    }
    this.#put(imu);
  }

  #dropTable(): void {
    for (let i = 0; i < this.#table!.length; i++) this.#remove(i);
    this.#table = null;
  }

  #put(imu: MappedUbuf): void {
    if (--imu.refs) return;
    bufferUnmap(this.#ctx, imu);
    if (imu.tag && !this.closed) this.#post(imu.tag, 0); // a closing ring has no CQ left to read
  }

  #live(): MappedUbuf[] {
    const all = new Set<MappedUbuf>();
    for (const b of this.#table ?? []) if (b) all.add(b);
    for (const b of this.#inflight.values()) all.add(b);
    return [...all];
  }

  #submit(op: number, fd: number, idx: number, addr: number, len: number, off: number, user_data: number): void {
    const cur = this.#current('io_uring_enter');
    for (const [what, v] of [['fd', fd], ['buf_index', idx], ['addr', addr], ['len', len], ['offset', off], ['user_data', user_data]] as const) {
      if (checkInt(what, v) < 0) throw new RangeError(`${what} must not be negative, got ${v}`);
    }
    if (len > 0xffffffff) throw new RangeError(`len is a u32, got ${len}`);
    this.#run(cur, () => {
      // io_prep_rw_fixed() / io_import_fixed(): the buffer first, then the file (at issue).
      const imu = this.#table?.[idx] ?? null;
      if (!imu || addr < imu.ubuf || addr + len > imu.ubuf + imu.len) return this.#post(user_data, -C.EFAULT);
      const file = cur.fds.get(fd);
      if (!file) return this.#post(user_data, -C.EBADF);
      if (!(file instanceof SimFile)) return this.#post(user_data, -C.EINVAL);
      imu.refs++;
      const name = op === C.IORING_OP_READ_FIXED ? 'read_fixed' : 'write_fixed';
      const p = this.kernel.clock.schedule(IO_URING_RW_NS, `${this.name}: ${name}`, () => {
        this.#inflight.delete(p);
        this.#run(cur, () => this.#post(user_data, this.#transfer(op, cur, fd, file, imu, addr, len, off)));
        this.as(() => this.#put(imu));
      });
      this.#inflight.set(p, imu);
    });
  }

  // The I/O itself, page by page through the task's view of the file
  // (pread/pwrite) and DMA on the buffer's frames. Transfer i moves the
  // word of the buffer page holding addr + i * 4 KiB to or from the file
  // page holding offset + i * 4 KiB (a page holds one word in pinsim).
  #transfer(op: number, cur: Task, fd: number, file: SimFile, imu: MappedUbuf, addr: number, len: number, off: number): number {
    // pinsim goes through the submitter's fd at completion: gone, it reads -EBADF
    // (the kernel holds the file from submission).
    if (cur.exited || cur.fds.get(fd) !== file) return -C.EBADF;
    const k = this.kernel;
    const bytes = op === C.IORING_OP_READ_FIXED ? Math.max(0, Math.min(len, file.size - off)) : len;
    const n = Math.ceil(bytes / PAGE);
    for (let i = 0; i < n; i++) {
      try {
        const pfn = bufferPfn(imu, addr + i * PAGE);
        if (op === C.IORING_OP_READ_FIXED) k.dma_write(pfn, cur.pread(fd, off + i * PAGE) ?? 0);
        else cur.pwrite(fd, off + i * PAGE, k.dma_read(pfn));
      } catch (e) {
        if (!(e instanceof SyscallError) || e.errno === undefined) throw e;
        return i ? i * PAGE : -e.errno; // a short transfer reports what was done
      }
    }
    return bytes;
  }

  #post(user_data: number, res: number): void {
    this.#cqes.push({ user_data, res, flags: 0 });
  }

  // The task requests run as: the creator. A closed ring is a closed fd.
  #current(syscall: string): Task {
    if (this.closed) throw fail(syscall, C.EBADF, `${this.name} is closed`);
    if (this.#task.exited) throw fail(syscall, C.ESRCH, `${this.name}: its creator (pid ${this.#task.pid}) has exited; pinsim submits as the creator`);
    return this.#task;
  }

  #run<T>(cur: Task, fn: () => T): T {
    return this.kernel.guard(() => this.as(fn), cur.name);
  }
}

// The tags of IORING_REGISTER_BUFFERS2 (u64 each, one per iovec); none: all 0.
function checkTags(tags: unknown, n: number): number[] {
  if (tags === undefined) return new Array<number>(n).fill(0);
  if (!Array.isArray(tags) || tags.length !== n) throw new TypeError(`tags must be an array of ${n} numbers, one per iovec`);
  return tags.map((t, i) => {
    if (checkInt(`tags[${i}]`, t) < 0) throw new RangeError(`tags[${i}] must not be negative`);
    return t as number;
  });
}

function checkIovecs(iovecs: unknown): Iovec[] {
  if (!Array.isArray(iovecs)) throw new TypeError('iovecs must be an array of { iov_base, iov_len }');
  return iovecs.map((v, i) => checkIovec(v, i));
}
