// The HMM mirror device of the kernel's HMM self-test (lib/test_hmm.c,
// "dmirror", /dev/hmm_dmirror0): a device with its own page table that
// mirrors the CPU page tables of the process that opened it, filled on
// device faults by hmm_range_fault() and emptied by an interval notifier's
// invalidations. It holds no page reference and no pin: what keeps its
// entries right is the notifier sequence protocol alone (case 3 of
// Documentation/core-api/pin_user_pages.rst).
//
// Choices (UNVERIFIED items of the reference are marked in the report):
// - The notifier covers the whole address space, [0, ULONG_MAX & PAGE_MASK),
//   as dmirror_fops_open() inserts it, so every invalidation of the mm hits it.
// - The MIGRATE-owner skip of dmirror_interval_invalidate() is not modelled:
//   pinsim has no device-private pages, so no invalidation is the device's own.
// - The kernel bounds dmirror_range_fault()'s -EBUSY loop by time
//   (HMM_RANGE_DEFAULT_TIMEOUT, 1 s); pinsim, single-threaded, by a count.
// - Faults on an mm whose task has exited: mainline's dmirror_fault()
//   returns 0 without faulting, so its READ/WRITE loop would spin; pinsim
//   fails them with EFAULT (what later test_hmm variants return there).
import * as C from '../../assembly/constants';
import { checkInt, fail } from '../errors';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, type HmmRange } from '../mm/hmm';
import type { MmuIntervalNotifier, MmuNotifierRange } from '../mm/notifier';
import { Task } from '../task';
import { DeviceFile, type DevicePin } from './device';
import type { Kernel } from './kernel';
import { MirrorTable } from './mirror-table';

const PAGE = C.PAGE_SIZE;
const CHUNK = 32; // pages per hmm_range_fault() call: dmirror_fault()'s and dmirror_snapshot()'s pfns[32]
const VALID = C.HMM_PFN_VALID_HI >>> 0;
const WRITE = C.HMM_PFN_WRITE_HI >>> 0;

export interface HmmMirrorOptions {
  // How many times one chunk's fault is retried after -EBUSY (or a
  // read_retry) before the call fails with EBUSY; default 16.
  retries?: number;
}

// What the device has done since it was opened.
export interface HmmMirrorStats {
  faults: number; // device faults (dmirror_fault() calls: the ioctls' cmd.faults, summed)
  invalidations: number; // invalidate() callbacks received
  retries: number; // chunk faults restarted (-EBUSY from hmm_range_fault() or read_retry)
}

// One run of the device page table: consecutive pages mapped to consecutive frames.
export interface HmmMirrorMapping {
  addr: number;
  length: number; // bytes
  pfn: number; // the frame of addr
  write: boolean;
}

// struct hmm_dmirror_cmd's results: pages copied and faults taken.
export interface HmmDmirrorResult {
  cpages: number;
  faults: number;
}

export class HmmMirror extends DeviceFile {
  readonly path = '/dev/hmm_dmirror0';
  readonly fd: number; // in the opener's fd table
  readonly #retries: number;
  readonly #pt = new MirrorTable();
  readonly #sub: MmuIntervalNotifier;
  readonly #pfns = new BigUint64Array(CHUNK);
  readonly #stats: HmmMirrorStats = { faults: 0, invalidations: 0, retries: 0 };

  // dmirror_fops_open(): opened by task t, mirroring t's mm.
  static open(k: Kernel, t: Task, opts: HmmMirrorOptions = {}): HmmMirror {
    if (!(t instanceof Task) || (t.kernel as unknown) !== k) throw new TypeError('hmmMirror: t must be a task of this machine');
    if (typeof opts !== 'object' || opts === null) throw new TypeError('hmmMirror: opts must be an object');
    const retries = opts.retries === undefined ? 16 : checkInt('retries', opts.retries);
    if (retries < 0) throw new RangeError(`retries must not be negative, got ${retries}`);
    if (t.exited) throw fail('open', C.ESRCH, `task ${t.pid} has exited`);
    return new HmmMirror(k, t, retries);
  }

  private constructor(k: Kernel, readonly task: Task, retries: number) {
    super(k, k.deviceName('hmm_dmirror0'));
    this.#retries = retries;
    const sub = k.mmu_interval_notifier_insert(task.mm, 0, 2 ** 64 - PAGE, {
      invalidate: (s, range, cur_seq) => this.#invalidate(s, range, cur_seq),
    });
    if (typeof sub === 'number') throw new Error(`mmu_interval_notifier_insert on a live mm failed: ${sub}`);
    this.#sub = sub;
    this.fd = task.installFd(this);
  }

  // No pins: the mirror holds no page reference at all.
  pins(): DevicePin[] { return []; }

  stats(): HmmMirrorStats { return { ...this.#stats }; }

  // The device page table as runs, in address order.
  mappings(): HmmMirrorMapping[] {
    const k = this.kernel;
    const out: HmmMirrorMapping[] = [];
    for (const [vpn, block] of this.#pt.blocks()) {
      k.v.scratch.set(block);
      const n = k.core.dmirror_runs(C.DMIRROR_BLOCK);
      const r = k.v.scratch.subarray(C.DMIRROR_RUNS_AT, C.DMIRROR_RUNS_AT + 4 * n);
      for (let i = 0; i < n; i++) {
        const run = { addr: (vpn + r[4 * i]!) * PAGE, length: r[4 * i + 1]! * PAGE, pfn: r[4 * i + 2]!, write: r[4 * i + 3] === 1 };
        const prev = out.at(-1); // runs go on across blocks
        if (prev && prev.addr + prev.length === run.addr && prev.write === run.write && prev.pfn + prev.length / PAGE === run.pfn) prev.length += run.length;
        else out.push(run);
      }
    }
    return out;
  }

  // The device reading the word of the page at addr (a one-page
  // HMM_DMIRROR_READ; a hit in the device page table goes straight to DMA).
  read(addr: number): number {
    const a = checkInt('addr', addr);
    if (this.#hit(a, VALID)) return this.kernel.dma_read(this.#pt.pfn(Math.floor(a / PAGE)));
    return this.ioctl_read(a - (a % PAGE), 1).data[0]!;
  }

  // The device writing word into the page at addr (a one-page HMM_DMIRROR_WRITE).
  write(addr: number, word: number): void {
    const a = checkInt('addr', addr);
    if (this.#hit(a, (VALID | WRITE) >>> 0)) this.kernel.dma_write(this.#pt.pfn(Math.floor(a / PAGE)), word);
    else this.ioctl_write(a - (a % PAGE), [word]);
  }

  // HMM_DMIRROR_READ: the words of npages pages from addr, through the
  // device page table, faulting what is missing (dmirror_read()).
  ioctl_read(addr: number, npages: number): HmmDmirrorResult & { data: Uint32Array } {
    const data = new Uint32Array(this.#ioctlArgs('HMM_DMIRROR_READ', addr, npages));
    const r = this.#copy('HMM_DMIRROR_READ', addr, data, false);
    return { data, ...r };
  }

  // HMM_DMIRROR_WRITE: writes words[i] into page i from addr (dmirror_write()).
  ioctl_write(addr: number, words: ArrayLike<number>): HmmDmirrorResult {
    if (typeof words !== 'object' || words === null || !Number.isSafeInteger(words.length)) throw new TypeError('words must be an array of 32-bit words');
    const data = Uint32Array.from(words, (w) => {
      if (checkInt('word', w) < 0 || w > 0xffffffff) throw new RangeError(`word must fit in 32 bits, got ${w}`);
      return w;
    });
    this.#ioctlArgs('HMM_DMIRROR_WRITE', addr, data.length);
    return this.#copy('HMM_DMIRROR_WRITE', addr, data, true);
  }

  // HMM_DMIRROR_SNAPSHOT: per page, the HMM_DMIRROR_PROT_* byte of what the
  // CPU page tables map there now, faulting nothing (dmirror_snapshot()).
  snapshot(addr: number, npages: number): Uint8Array {
    const n = this.#ioctlArgs('HMM_DMIRROR_SNAPSHOT', addr, npages);
    if (this.#sub.mm.dead) throw fail('HMM_DMIRROR_SNAPSHOT', C.EINVAL, `task ${this.task.pid} has exited (mmget_not_zero() failed)`);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      const ret = this.#snapshotRange(addr + i * PAGE, m);
      if (ret) throw fail('HMM_DMIRROR_SNAPSHOT', -ret, `hmm_range_fault() failed at 0x${(addr + i * PAGE).toString(16)}`);
      out.set(this.kernel.v.scratch.subarray(0, m), i);
    }
    return out;
  }

  protected release(): void {
    // dmirror_fops_release(): the notifier goes (also after the mm's task exited).
    this.kernel.mmu_interval_notifier_remove(this.#sub);
    this.#pt.clear(0, 2 ** 52);
  }

  // dmirror_fops_unlocked_ioctl()'s checks, in its order; returns npages.
  #ioctlArgs(cmd: string, addr: number, npages: number): number {
    const a = checkInt('addr', addr);
    const n = checkInt('npages', npages);
    if (a < 0 || n < 0) throw new RangeError(`${cmd}: addr and npages are unsigned, got ${a}, ${n}`);
    if (this.closed) throw fail(cmd, C.EBADF, `${this.name} is closed`);
    if (a % PAGE) throw fail(cmd, C.EINVAL, `addr 0x${a.toString(16)} is not page-aligned`);
    if (n === 0 || a + n * PAGE > 2 ** 64) throw fail(cmd, C.EINVAL, `addr + npages pages must lie above addr (npages ${n})`);
    // READ and WRITE vmalloc() a bounce buffer of the range; pinsim hands
    // every result back as an array, so more pages than RAM holds is ENOMEM
    // for SNAPSHOT too (the kernel's would fail copying to the user buffer).
    if (n > this.kernel.nrFrames) throw fail(cmd, C.ENOMEM, `a buffer of ${n} pages is more than the machine's memory`);
    return n;
  }

  // dmirror_read() / dmirror_write(): copy through the device page table
  // from where the copy got to; on a miss fault the rest in and go on.
  // Entries faulted before an error stay, as in the kernel.
  #copy(cmd: string, addr: number, data: Uint32Array, write: boolean): HmmDmirrorResult {
    let cpages = 0;
    let faults = 0;
    for (;;) {
      cpages = this.#doCopy(addr, data, cpages, write);
      if (cpages === data.length) return { cpages, faults };
      const ret = this.#fault(addr + cpages * PAGE, addr + data.length * PAGE, write);
      if (ret) throw fail(cmd, -ret, `device fault at 0x${(addr + cpages * PAGE).toString(16)} failed`);
      faults++;
      this.#stats.faults++;
    }
  }

  // Does the live device's page table have an entry for addr with the `need` bits?
  #hit(addr: number, need: number): boolean {
    return addr >= 0 && !this.closed && ((this.#pt.hi(Math.floor(addr / PAGE)) & need) >>> 0) === need;
  }

  // dmirror_do_read() / dmirror_do_write(): DMA page by page while the
  // device page table has an entry (a writable one for a write); returns
  // the pages copied so far.
  #doCopy(addr: number, data: Uint32Array, from: number, write: boolean): number {
    const k = this.kernel;
    const need = write ? (VALID | WRITE) >>> 0 : VALID;
    const vpn = addr / PAGE;
    for (let i = from; i < data.length; i++) {
      if (((this.#pt.hi(vpn + i) & need) >>> 0) !== need) return i;
      const pfn = this.#pt.pfn(vpn + i);
      if (write) k.dma_write(pfn, data[i]!);
      else data[i] = k.dma_read(pfn);
    }
    return data.length;
  }

  // dmirror_fault(): hmm_range_fault() over [start, end) in chunks.
  #fault(start: number, end: number, write: boolean): number {
    if (this.#sub.mm.dead) return -C.EFAULT; // see the note at the top
    for (let addr = start; addr < end; addr += CHUNK * PAGE) {
      const ret = this.#rangeFault(addr, Math.min(addr + CHUNK * PAGE, end), write);
      if (ret) return ret;
    }
    return 0;
  }

  // dmirror_range_fault(): the sequence protocol of Documentation/mm/hmm.rst,
  // then dmirror_do_fault() stores the entries.
  #rangeFault(start: number, end: number, write: boolean): number {
    const n = (end - start) / PAGE;
    const ret = this.#protocol(start, end, HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0n), this.#sub);
    if (ret === 0) this.#pt.store(start / PAGE, this.#pfns.subarray(0, n));
    return ret;
  }

  // read_begin → hmm_range_fault → (driver lock) read_retry, retried on
  // -EBUSY and on a moved sequence; 0 with #pfns filled, or -errno.
  #protocol(start: number, end: number, default_flags: bigint, notifier: MmuIntervalNotifier): number {
    const k = this.kernel;
    const range: HmmRange = { notifier, notifier_seq: 0, start, end, hmm_pfns: this.#pfns, default_flags, pfn_flags_mask: 0n };
    for (let tries = 0; ; tries++) {
      if (tries > this.#retries) return -C.EBUSY;
      if (tries) this.#stats.retries++;
      range.notifier_seq = k.mmu_interval_read_begin(notifier);
      const ret = k.hmm_range_fault(range);
      if (ret === -C.EBUSY) continue;
      if (ret) return ret;
      if (!k.mmu_interval_read_retry(notifier, range.notifier_seq)) return 0;
    }
  }

  // dmirror_range_snapshot(): a temporary interval notifier over the chunk
  // (its callback only moves the sequence), a snapshot with no fault, and
  // dmirror_mkentry()'s bytes into scratch[0, n).
  #snapshotRange(start: number, n: number): number {
    const k = this.kernel;
    const tmp = k.mmu_interval_notifier_insert(this.#sub.mm, start, n * PAGE, {
      invalidate: (s, _range, cur_seq) => { k.mmu_interval_set_seq(s, cur_seq); return true; },
    });
    if (typeof tmp === 'number') return tmp;
    try {
      const ret = this.#protocol(start, start + n * PAGE, 0n, tmp);
      if (ret) return ret;
      const s = k.v.scratch;
      s.set(new Uint32Array(this.#pfns.buffer, 0, 2 * n));
      k.core.dmirror_perm(n);
      return 0;
    } finally {
      k.mmu_interval_notifier_remove(tmp);
    }
  }

  // dmirror_interval_invalidate(): always set_seq, then drop the entries
  // of the range (dmirror_do_update()).
  #invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, cur_seq: number): boolean {
    this.kernel.mmu_interval_set_seq(sub, cur_seq);
    this.#pt.clear(range.start / PAGE, Math.ceil(range.end / PAGE));
    this.#stats.invalidations++;
    return true;
  }
}
