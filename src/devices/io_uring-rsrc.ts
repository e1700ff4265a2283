// io_uring's registered buffers (io_uring/rsrc.c): validating an iovec,
// pinning it, coalescing it into folios, charging it whole folio by whole
// folio once per ring, and unmapping it. The per-page parts run in the core
// (assembly/io_uring.ts); here one core call per buffer (per scratch chunk).
import * as C from '../../assembly/constants';
import { fail, type SyscallError } from '../errors';
import { memlockError, overLimit } from '../mm/memlock';
import type { UserStruct } from '../cred';
import type { Mm } from '../mm/mm';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';
import type { Kernel } from './kernel';
import { dropPages, grabSlow } from './refs';

const PAGE = C.PAGE_SIZE;
const U64 = 2n ** 64n;

export interface Iovec { iov_base: number; iov_len: number }

// struct io_mapped_ubuf: the pinned pages (or folio heads once coalesced).
export interface MappedUbuf {
  readonly ubuf: number;
  readonly len: number;
  readonly pages: PageArray; // bvec pages in [0, nr_bvecs); the array is freed with the buffer
  readonly nr_bvecs: number;
  readonly folio_shift: number; // 12, or the folio's when coalesced
  readonly offset: number; // of ubuf in the first bvec
  readonly pinned: number; // pins held (one per bvec)
  readonly acct_pages: number; // what it charged (user->locked_vm and pinned_vm)
  readonly heads: ReadonlySet<number>; // compound heads among its pages (headpage_already_acct())
  readonly task: Task; // current at registration: the user charge's ledger pid
  refs: number; // the table's plus in-flight requests'
  tag: number; // IORING_REGISTER_BUFFERS2's tag: a CQE with it when the buffer goes (0: none)
}

// What registration needs of the ring (struct io_ring_ctx).
export interface RsrcCtx {
  readonly kernel: Kernel;
  readonly user: UserStruct | null; // null: created with CAP_IPC_LOCK
  readonly mm_account: Mm;
  readonly maxLen: number; // the 1 GiB cap, or Infinity without it (the May 2026 patch)
  // compound head -> how many table buffers hold it (headpage_already_acct()'s
  // scan of the table, kept as counts).
  readonly heads: Map<number, number>;
}

// A JS-level check: a u64 base (any integer below 2^64) and a size_t length.
export function checkIovec(iov: unknown, i: number): Iovec {
  if (typeof iov !== 'object' || iov === null) throw new TypeError(`iovecs[${i}] must be { iov_base, iov_len }`);
  const { iov_base, iov_len } = iov as Iovec;
  if (typeof iov_base !== 'number' || typeof iov_len !== 'number') throw new TypeError(`iovecs[${i}]: iov_base and iov_len must be numbers`);
  if (!Number.isInteger(iov_base) || iov_base < 0 || iov_base >= 2 ** 64) throw new RangeError(`iovecs[${i}].iov_base must be an integer in [0, 2^64), got ${iov_base}`);
  if (!Number.isSafeInteger(iov_len) || iov_len < 0) throw new RangeError(`iovecs[${i}].iov_len must be a non-negative safe integer, got ${iov_len}`);
  return { iov_base, iov_len };
}

// io_buffer_validate(): 0 (a NULL base with length 0 is an empty slot) or -errno.
export function bufferValidate(ctx: RsrcCtx, iov: Iovec): number {
  if (iov.iov_base === 0) return iov.iov_len ? -C.EFAULT : 0;
  if (iov.iov_len === 0 || iov.iov_len > ctx.maxLen) return -C.EFAULT;
  const alignedLen = (BigInt(iov.iov_len) + BigInt(PAGE - 1)) & ~BigInt(PAGE - 1);
  return BigInt(iov.iov_base) + alignedLen >= U64 ? -C.EOVERFLOW : 0;
}

// io_sqe_buffer_register() of a validated, non-empty iovec, as `current`:
// pin first, coalesce, then charge (unpinning on failure). `last` is the
// call's last_hpage. The buffer, or the error to throw.
export function bufferRegister(ctx: RsrcCtx, current: Task, iov: Iovec, last: { hpage: number }): MappedUbuf | SyscallError {
  const k = ctx.kernel;
  const pinned = pinPages(k, current, iov.iov_base, iov.iov_len);
  if (typeof pinned === 'number') return fail('io_uring_register', -pinned, pinFailure(pinned));
  const { pages, nr } = pinned;
  let nr_bvecs = nr;
  let folio_shift = C.PAGE_SHIFT;
  let offset = iov.iov_base % PAGE;
  const order = nr > 1 ? k.core.io_check_coalesce(pages.offset, nr) : -1;
  if (order > 0) {
    offset += k.core.io_first_idx() * PAGE;
    nr_bvecs = k.core.io_coalesce(pages.offset, nr);
    dropPages(k, pages.subarray(nr_bvecs), nr - nr_bvecs, false); // the folio keeps one pin per bvec
    folio_shift += order;
  }
  const { acct, heads } = accountScan(ctx, pages, nr_bvecs, last);
  const err = accountMem(ctx, current, acct);
  if (err) {
    dropPages(k, pages, nr_bvecs, false);
    pages.free();
    return err;
  }
  return { ubuf: iov.iov_base, len: iov.iov_len, pages, nr_bvecs, folio_shift, offset, pinned: nr_bvecs, acct_pages: acct, heads, task: current, refs: 1, tag: 0 };
}

// io_buffer_unmap() once the last reference goes: unpin without dirtying, uncharge.
export function bufferUnmap(ctx: RsrcCtx, imu: MappedUbuf): void {
  const k = ctx.kernel;
  dropPages(k, imu.pages, imu.nr_bvecs, false);
  imu.pages.free();
  if (imu.acct_pages > 0) {
    if (ctx.user) k.__account_user_locked_vm(ctx.user, imu.acct_pages, false, imu.task, { by: 'io_uring' });
    k.__account_pinned_vm(ctx.mm_account, imu.acct_pages, false, imu.task, false, 'io_uring');
  }
}

// The frame behind user address addr of the buffer (inside it).
export function bufferPfn(imu: MappedUbuf, addr: number): number {
  const at = imu.offset + (addr - imu.ubuf);
  const shift = 2 ** imu.folio_shift;
  return imu.pages.pfns[Math.floor(at / shift)] + Math.floor((at % shift) / PAGE);
}

// io_pin_pages(): the pages of [base, base + len) pinned FOLL_WRITE |
// FOLL_LONGTERM, or -errno (a short pin is undone and reads -EFAULT).
// Before 6.5 (ioUringFileCheck) io_uring pinned with pin_user_pages()
// (get_user_pages() before 5.6), which handed back the VMAs, and then
// refused the range itself, after pinning, when a VMA maps a file that is
// not hugetlbfs (nor, from 5.14, shmem: ioUringShmem), MAP_PRIVATE and
// shared anonymous memory included: -EOPNOTSUPP, the pins dropped (when
// that check began is UNVERIFIED; pinsim applies it in every era before
// 6.5). Since, GUP decides (a LONGTERM write pin of a shared ext4 page is
// -EFAULT; a private one COWs to anon memory).
function pinPages(k: Kernel, t: Task, base: number, len: number): { pages: PageArray; nr: number } | number {
  const first = Math.floor(base / PAGE);
  const nr = Math.ceil((base + len) / PAGE) - first;
  if (nr > 0x7fffffff) return -C.EOVERFLOW;
  // A base past 2^53 is far beyond TASK_SIZE: access_ok() refuses it.
  if (!Number.isSafeInteger(base + len)) return -C.EFAULT;
  let pages: PageArray;
  try {
    pages = k.pageArray(nr);
  } catch (e) {
    if (e instanceof RangeError) return -C.ENOMEM; // kvmalloc_array() of the page list failed
    throw e;
  }
  const check = k.kr.ioUringFileCheck;
  const flags = C.FOLL_WRITE | C.FOLL_LONGTERM;
  const got = check ? grabSlow(k, t, first * PAGE, nr, flags, pages) : k.pin_user_pages_fast(t, first * PAGE, nr, flags, pages);
  const err = got !== nr ? (got < 0 ? got : -C.EFAULT) : check && fileBacked(t, first * PAGE, nr, k.kr.ioUringShmem) ? -C.EOPNOTSUPP : 0;
  if (err === 0) return { pages, nr };
  if (got > 0) dropPages(k, pages, got, false);
  pages.free();
  return err;
}

// The pre-6.5 VMA check: does a VMA of the range map a file io_uring refuses?
function fileBacked(t: Task, start: number, nr: number, shmemOk: boolean): boolean {
  return t.mm.overlapping(start, start + nr * PAGE)
    .some((v) => v.file !== null && v.backing !== C.BACKING_HUGETLBFS && !(shmemOk && v.backing === C.BACKING_SHMEM));
}

function pinFailure(err: number): string {
  if (err === -C.EOPNOTSUPP) return 'io_uring refuses fixed buffers in file-backed memory other than hugetlbfs (and, from 5.14, shmem) before 6.5';
  return err === -C.EFAULT ? 'the range is not all pinnable (pin_user_pages_fast)' : 'io_pin_pages failed';
}

// io_buffer_account_pin()'s count: 1 per small page, the whole folio for
// a compound head met for the first time in this ring (not the call's last
// head, not earlier in this buffer, not in a table buffer).
function accountScan(ctx: RsrcCtx, pages: PageArray, n: number, last: { hpage: number }): { acct: number; heads: Set<number> } {
  const core = ctx.kernel.core;
  const scratch = ctx.kernel.v.scratch;
  const heads = new Set<number>();
  let acct = 0;
  let prev = -1; // chunk continuation only: the core skips runs of one head
  for (let i = 0; i < n;) {
    i = core.io_acct_scan(pages.offset, n, i, prev);
    acct += core.io_acct_small();
    const pairs = core.io_acct_pairs();
    for (let j = 0; j < pairs; j++) {
      const head = scratch[2 * j];
      prev = head;
      const seen = heads.has(head);
      heads.add(head);
      if (head === last.hpage) continue;
      last.hpage = head;
      if (seen || ctx.heads.has(head)) continue;
      acct += 2 ** scratch[2 * j + 1];
    }
  }
  return { acct, heads };
}

// io_account_mem(): the user's locked_vm against current's limit (-ENOMEM,
// and nothing charged), then the creator mm's pinned_vm with no check.
function accountMem(ctx: RsrcCtx, current: Task, acct: number): SyscallError | null {
  if (acct === 0) return null;
  const k = ctx.kernel;
  if (ctx.user) {
    const before = ctx.user.locked_vm;
    if (k.__account_user_locked_vm(ctx.user, acct, true, current, { by: 'io_uring' }) < 0) {
      return memlockError('io_uring_register', C.ENOMEM, overLimit('user.locked_vm', before, acct, current.getrlimit('RLIMIT_MEMLOCK').soft)!);
    }
  }
  k.__account_pinned_vm(ctx.mm_account, acct, true, current, false, 'io_uring');
  return null;
}
