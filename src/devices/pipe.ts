// A pipe (fs/pipe.c) and vmsplice(2) into it (fs/splice.c): the pipe's
// ring holds up to PIPE_DEF_BUFFERS buffers, each a page reference plus an
// offset and a length. vmsplice gifts user pages to the ring with plain
// FOLL_GET references (iov_iter_get_pages2(), never FOLL_PIN, in every era)
// held until a read consumes the buffer (pipe_buf_release() -> put_page()).
// That plain reference on a page shared COW after fork is CVE-2020-29374's
// ingredient: whether the parent's later write reuses the page (the child
// reading the parent's data through the pipe) or copies it is decided by
// do_wp_page()'s reuse rule alone (assembly/memory.ts), nothing here.
// A pipe is not a DMA device; each end is a DeviceFile all the same, so the
// fd table, fork's sharing and the last close work as for any device file,
// and k.devices() lists the page references a pipe holds.
import * as C from '../../assembly/constants';
import { fail, checkInt } from '../errors';
import { importIovec, checkIov, type IoVec } from '../fs/read_write';
import type { Task } from '../task';
import type { Kernel } from './kernel';
import { DeviceFile, type DevicePin } from './device';

const PAGE = C.PAGE_SIZE;

// struct pipe_buffer of a gifted user page: which page, which bytes of it.
export interface PipeBuffer {
  pfn: number;
  offset: number;
  len: number;
  flags: number; // PIPE_BUF_FLAG_GIFT with SPLICE_F_GIFT
  pid: number; // whose memory it came from
  addr: number; // the user address of its first byte
}

// What a read copied out of one buffer: the page's word (a page's whole
// contents in pinsim) as the read found it, and how many bytes of it.
export interface PipeChunk { word: number; len: number }

// pipefs inode numbers per machine, as /proc/<pid>/fd shows 'pipe:[N]'.
const inodes = new WeakMap<Kernel, number>();

// struct pipe_inode_info: the ring and how many ends are open.
class PipeInode {
  readonly bufs: PipeBuffer[] = [];
  readonly ends: PipeEnd[] = [];
  constructor(readonly ino: number) {}
  open(write: boolean): boolean { return this.ends.some((e) => e.write === write && !e.closed); }
}

export class PipeEnd extends DeviceFile {
  readonly path: string;

  /** @internal Made by t.pipe(). */
  constructor(kernel: Kernel, readonly inode: PipeInode, readonly write: boolean) {
    super(kernel, kernel.deviceName(`pipe:[${inode.ino}]${write ? 'w' : 'r'}`));
    this.path = `pipe:[${inode.ino}]`;
    inode.ends.push(this);
  }

  // The ring's buffers, oldest first.
  buffers(): PipeBuffer[] { return this.inode.bufs.map((b) => ({ ...b })); }

  // The ring's page references, listed once: by the first end still open.
  pins(): DevicePin[] {
    if (this.inode.ends.find((e) => !e.closed) !== this) return [];
    return this.inode.bufs.map((b, i) => ({
      device: this.name, object: `pipe_buffer ${i}`, pid: b.pid, addr: b.addr, length: b.len, pages: 1, gup_flags: C.FOLL_GET,
    }));
  }

  // pipe_release(): the last end's release frees the ring (free_pipe_info()),
  // dropping every buffer's page reference; one end alone frees nothing.
  protected release(): void {
    if (this.inode.ends.some((e) => !e.closed)) return;
    for (const b of this.inode.bufs.splice(0)) this.kernel.put_page(b.pfn);
  }
}

// pipe(2): [read fd, write fd].
export function doPipe(t: Task): [number, number] {
  const ino = (inodes.get(t.kernel) ?? 0) + 1;
  inodes.set(t.kernel, ino);
  const inode = new PipeInode(ino);
  const r = new PipeEnd(t.kernel, inode, false);
  const w = new PipeEnd(t.kernel, inode, true);
  return [t.installFd(r), t.installFd(w)];
}

export interface VmspliceArgs { fd: number; iov: IoVec[]; flags: number }

// JS-level checks, before anything is looked at.
export function checkVmspliceArgs(fd: unknown, iov: unknown, flags: unknown): VmspliceArgs {
  const n = checkInt('fd', fd);
  const segs = checkIov(iov);
  return { fd: n, iov: segs, flags: checkInt('flags', flags) };
}

// The pipe end behind fd, or EBADF (get_pipe_info() finds no pipe).
function pipeEnd(t: Task, syscall: string, fd: number): PipeEnd | null {
  const f = t.fds.get(fd);
  if (!f) throw fail(syscall, C.EBADF, `fd ${fd} is not open`);
  // An end closed by a direct close() while an fd still names it (a choice): EBADF.
  if (f instanceof PipeEnd && f.closed) throw fail(syscall, C.EBADF, `fd ${fd}: the pipe end was closed`);
  return f instanceof PipeEnd ? f : null;
}

// Mirrors __do_sys_vmsplice(): the flags, the fd, import_iovec(), nothing
// to do for an empty iov, then vmsplice_to_pipe() for a write end, whose
// get_pipe_info() refuses a file that is not a pipe. Returns the bytes spliced.
export function doVmsplice(t: Task, a: VmspliceArgs): number {
  if (a.flags & ~C.SPLICE_F_ALL) throw fail('vmsplice', C.EINVAL, `unknown flags 0x${a.flags.toString(16)}`);
  const end = pipeEnd(t, 'vmsplice', a.fd);
  const { segs, count } = importIovec('vmsplice', a.iov);
  if (count === 0) return 0;
  if (!end) throw fail('vmsplice', C.EBADF, `fd ${a.fd} is not a pipe`);
  // UNVERIFIED choice: vmsplice_to_user() (a read end) is not modelled; read_pipe() reads.
  if (!end.write) throw fail('vmsplice', C.EINVAL, `fd ${a.fd} is a pipe's read end: pinsim splices into pipes only`);
  const inode = end.inode;
  // wait_for_space(): no readers is EPIPE (SIGPIPE is not modelled); a full
  // ring is EAGAIN whatever the flags: pinsim has no blocking (a choice).
  if (!inode.open(false)) throw fail('vmsplice', C.EPIPE, 'the pipe has no readers');
  if (inode.bufs.length >= C.PIPE_DEF_BUFFERS) throw fail('vmsplice', C.EAGAIN, 'the pipe is full');
  const total = iterToPipe(t, inode, segs, a.flags & C.SPLICE_F_GIFT ? C.PIPE_BUF_FLAG_GIFT : 0);
  if (total < 0) throw fail('vmsplice', -total, 'the user range could not be referenced');
  return total;
}

// Mirrors iter_to_pipe(): per segment, up to PIPE_DEF_BUFFERS pages at a
// time referenced by get_user_pages_fast(), one buffer each; once the ring
// is full the references taken beyond it are dropped and the splice stops.
// The loops are bounded by the ring's 16 slots, not by the range.
function iterToPipe(t: Task, inode: PipeInode, segs: IoVec[], flags: number): number {
  const k = t.kernel;
  const pages = k.pageArray(C.PIPE_DEF_BUFFERS);
  let total = 0;
  let ret = 0;
  try {
    for (const s of segs) {
      let addr = s.base;
      const end = s.base + s.len;
      while (addr < end && ret === 0) {
        const first = Math.floor(addr / PAGE);
        const n = Math.min(C.PIPE_DEF_BUFFERS, Math.ceil(end / PAGE) - first);
        const got = k.get_user_pages_fast(t, first * PAGE, n, 0, pages);
        if (got <= 0) { ret = got < 0 ? got : -C.EFAULT; break; } // GUP's own error (-EFAULT for a hole)
        for (let i = 0; i < got; i++) {
          const pfn = pages.pfns[i];
          if (ret !== 0 || inode.bufs.length >= C.PIPE_DEF_BUFFERS) { ret = -C.EAGAIN; k.put_page(pfn); continue; }
          const len = Math.min(end, (first + i + 1) * PAGE) - addr;
          inode.bufs.push({ pfn, offset: addr % PAGE, len, flags, pid: t.pid, addr });
          addr += len;
          total += len;
        }
        // A short GUP: the kernel's next round would fail at the first page it missed.
        if (got < n && ret === 0) ret = -C.EFAULT;
      }
      if (ret !== 0) break;
    }
  } finally {
    pages.free();
  }
  return total > 0 ? total : ret;
}

// read(2) on a pipe, pipe_read(): consumes up to len bytes in ring order; a
// buffer read to its end is released (put_page), a partly read one keeps
// its reference. An empty pipe with no writer reads end-of-file ([]); with a
// writer it is EAGAIN (pinsim has no blocking: a choice).
export function readPipe(t: Task, fd: number, len: number): PipeChunk[] {
  const end = pipeEnd(t, 'read', fd);
  if (!end) throw fail('read', C.EINVAL, `fd ${fd} is not a pipe`);
  if (end.write) throw fail('read', C.EBADF, `fd ${fd} is a pipe's write end`);
  const { bufs } = end.inode;
  if (len === 0) return [];
  if (bufs.length === 0) {
    if (!end.inode.open(true)) return [];
    throw fail('read', C.EAGAIN, 'the pipe is empty');
  }
  const out: PipeChunk[] = [];
  while (len > 0 && bufs.length > 0) {
    const b = bufs[0];
    const n = Math.min(len, b.len);
    out.push({ word: t.kernel.dma_read(b.pfn), len: n }); // copy_page_to_iter() reads the frame now
    b.offset += n;
    b.addr += n;
    b.len -= n;
    len -= n;
    if (b.len === 0) t.kernel.put_page(bufs.shift()!.pfn);
  }
  return out;
}
