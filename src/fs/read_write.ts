// preadv(2)/pwritev(2) (fs/read_write.c): the iovec import, the write
// checks, and the buffered copy through the page cache; O_DIRECT on a disk
// filesystem goes to the block device (src/devices/block.ts).
//
// Data model: a page holds one word. File page i of a transfer moves its
// word to (read) or from (write) the user page holding the transfer's byte
// that corresponds to the first byte of page i inside [pos, pos + count).
// Buffered copies are CPU accesses: a fault there is EFAULT (copy_to_user's
// short count), after the pages before it were copied.
import * as C from '../../assembly/constants';
import { fail, checkInt, checkBool } from '../errors';
import { TASK_SIZE } from '../mm/mm';
import type { Task } from '../task';
import type { SimFile } from './file';
import { readFileWord, writeFileWord, fileWordError } from './rw';
import { blockDirectIo, dioAligned, completedRequest, type IoRequest } from '../devices/block';
import { iovAddr, transferPages, type IoVec } from './iov';

const PAGE = C.PAGE_SIZE;

export type { IoVec };

export interface RwOptions {
  async?: boolean; // submit and return a request that completes on the clock (O_DIRECT on a disk)
  latencyNs?: number; // this request's device latency (default: the block device's)
}

// The arguments after the JS checks, before any errno check.
export interface RwArgs {
  iov: IoVec[];
  pos: number;
  async: boolean;
  latencyNs: number | null;
}

export function checkRwArgs(iov: unknown, offset: unknown, opts: unknown): RwArgs {
  const segs = checkIov(iov);
  const pos = checkInt('offset', offset);
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  const o = opts as RwOptions;
  const async = checkBool('async', o.async ?? false);
  let latencyNs: number | null = null;
  if (o.latencyNs !== undefined) {
    latencyNs = checkInt('latencyNs', o.latencyNs);
    if (latencyNs < 0) throw new RangeError(`latencyNs must not be negative, got ${latencyNs}`);
  }
  return { iov: segs, pos, async, latencyNs };
}

// An iovec array's shape (integers; the values are import_iovec()'s to judge).
export function checkIov(iov: unknown): IoVec[] {
  if (!Array.isArray(iov)) throw new TypeError('iov must be an array of { base, len }');
  return iov.map((s: unknown, i) => {
    if (typeof s !== 'object' || s === null) throw new TypeError(`iov[${i}] must be { base, len }`);
    const { base, len } = s as IoVec;
    return { base: checkInt(`iov[${i}].base`, base), len: checkInt(`iov[${i}].len`, len) };
  });
}

// import_iovec(): too many segments or a negative length is EINVAL, a
// segment outside user space EFAULT; the total is capped at MAX_RW_COUNT.
// Returns the non-empty segments and the byte count.
export function importIovec(syscall: string, iov: IoVec[]): { segs: IoVec[]; count: number } {
  if (iov.length > C.UIO_MAXIOV) throw fail(syscall, C.EINVAL, `${iov.length} iovecs exceed UIO_MAXIOV (${C.UIO_MAXIOV})`);
  const segs: IoVec[] = [];
  let count = 0;
  for (const [i, s] of iov.entries()) {
    if (s.len < 0) throw fail(syscall, C.EINVAL, `iov[${i}].len is negative`);
    if (s.len > 0 && (s.base < 0 || s.base + s.len > TASK_SIZE)) throw fail(syscall, C.EFAULT, `iov[${i}] is not in user space`);
    const len = Math.min(s.len, C.MAX_RW_COUNT - count);
    if (len > 0) segs.push({ base: s.base, len });
    count += len;
  }
  return { segs, count };
}

// vfs_readv/vfs_writev for a task: the checks in do_preadv()'s order, then
// the filesystem's ->read_iter/->write_iter.
export function rwIter(t: Task, write: boolean, file: () => SimFile, direct: boolean, a: RwArgs): number | IoRequest {
  const syscall = write ? 'pwritev' : 'preadv';
  if (a.pos < 0) throw fail(syscall, C.EINVAL, 'negative offset');
  const f = file();
  if (write && f.backing === C.BACKING_HUGETLBFS) throw fail(syscall, C.EINVAL, 'hugetlbfs does not support write(2)');
  const { segs, count } = importIovec(syscall, a.iov);
  let n = count;
  if (write && n > 0) {
    // generic_write_checks(): EFBIG at s_maxbytes, a shorter write below it.
    if (a.pos >= f.maxBytes) throw fail(syscall, C.EFBIG, `offset beyond the ${f.fs} file size limit`);
    n = Math.min(n, f.maxBytes - a.pos);
  }
  // O_DIRECT reaches the disk only on ext4/xfs/btrfs; tmpfs (since v6.6,
  // UNVERIFIED) serves it from the page cache, fsdax from pmem (the DAX
  // path copies without the page cache and without pins), both as buffered
  // I/O here. btrfs checks offset, lengths and addresses against its 4 KiB
  // sector size first and falls back to buffered I/O where they miss it
  // (check_direct_IO(); UNVERIFIED for current kernels).
  const btrfsBuffered = f.fs === 'btrfs' && !dioAligned(segs, a.pos, n, PAGE, PAGE);
  if (direct && f.backing === C.BACKING_FILE && n > 0 && !btrfsBuffered) return blockDirectIo(t, f, write, segs, a.pos, n, a);
  const res = write ? bufferedWrite(t, f, segs, a.pos, n) : bufferedRead(t, f, segs, a.pos, n);
  return a.async ? completedRequest(t.kernel, write, false, res) : res;
}

// generic_file_read_iter()'s buffered half: page by page up to i_size.
function bufferedRead(t: Task, f: SimFile, segs: IoVec[], pos: number, count: number): number {
  const end = Math.min(pos + count, f.size);
  let done = 0;
  for (const [i, s] of transferPages(pos, end)) {
    const w = readFileWord(t.kernel, f, i);
    if (w < 0) return partial('preadv', done, -w, fileWordError(w));
    if (!t.copyToUser(iovAddr(segs, s), w)) return partial('preadv', done, C.EFAULT, 'the buffer is not writable user memory');
    done = Math.min(end, (i + 1) * PAGE) - pos;
  }
  return done;
}

// generic_perform_write(): page by page, i_size growing as each lands.
function bufferedWrite(t: Task, f: SimFile, segs: IoVec[], pos: number, count: number): number {
  const end = pos + count;
  let done = 0;
  for (const [i, s] of transferPages(pos, end)) {
    const w = t.copyFromUser(iovAddr(segs, s));
    if (w === null) return partial('pwritev', done, C.EFAULT, 'the buffer is not readable user memory');
    const stop = Math.min(end, (i + 1) * PAGE);
    const r = writeFileWord(t.kernel, f, i, w, stop);
    if (r < 0) return partial('pwritev', done, -r, fileWordError(r));
    done = stop - pos;
  }
  return done;
}

// A copy that stopped: the bytes done, or the error when there were none.
function partial(syscall: string, done: number, errno: number, detail: string): number {
  if (done > 0) return done;
  throw fail(syscall, errno, detail);
}
