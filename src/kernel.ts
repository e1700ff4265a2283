// The simulated machine: the work that is kernel-wide rather than per task
// (files, writeback, faults on behalf of tasks, inspection). The GUP API is
// added by src/gup/kernel.ts; boot() is in src/boot.ts.
import * as C from '../assembly/constants';
import type { Core } from './core/core';
import type { Backend, CoreViews } from './core/types';
import { fail, signal, SyscallError, KernelBug } from './errors';
import { parseSize } from './units';
import { SimFile, FS_TYPES, sMaxBytes, type FsType } from './fs/file';
import { Mm, type MmHost } from './mm/mm';
import { AnonVma, type ThpMode, type Vma } from './mm/vma';
import type { MmapHost } from './mm/mmap';
import type { MadviseHost } from './mm/mprotect';
import { Task } from './task';
import { spawnCred, type SpawnOptions, type TaskCred, type Rlimit } from './cred';
import { pageSnapshot, dumpPage, meminfo, type PageSnapshot, type MemInfo } from './inspect/page';
import { procMeminfo } from './inspect/procfs';
import { frameMap } from './inspect/frame-map';
import { coreRuleBits } from './eras/core-bits';
import type { Resolved, RuleTable, KernelName } from './eras/presets';
import type { KernelRules } from './eras/timeline';
import { noBuffersMode, ext4NoBuffersWarning, EXT4_BUG_SITE, EXT4_SITE, EXT4_BUG_TRACE } from './fs/ext4-nobuf';

// page_bad_reason()'s words for the core's BAD_* reasons.
const BAD_REASONS = ['', 'nonzero mapcount', 'non-NULL mapping', 'PAGE_FLAGS_CHECK_AT_FREE flag(s) set', 'nonzero _refcount'];

const PAGE = C.PAGE_SIZE;
// Who writeback runs as (pinsim has no flusher threads: the name the kernel's would have).
const WB_COMM = 'kworker/u8:0';

// The oops of a 5.9-5.18 fork copying a maybe-pinned page-cache page into
// a child VMA without an anon_vma (fixed by fb3d824d1a46 in 5.19).
const FORK_TRACE = ['page_add_new_anon_rmap', 'copy_pte_range', 'copy_page_range', 'dup_mmap', 'dup_mm', 'copy_process', 'kernel_clone'];

export interface WritebackReport {
  written: number; // folios written back
  hazards: { file: string; index: number }[]; // dirty folios the filesystem never saw become writable
}

export interface Layout {
  ram: number; movable: number; cma: number; pmem: number; thp: ThpMode; pool2m: number; pool1g: number;
  memlock: Rlimit; // RLIMIT_MEMLOCK of spawned tasks
  era: Resolved; // the kernel preset and its rules (src/eras/)
}

// The machine without the GUP API (which src/gup/kernel.ts adds).
export class KernelBase implements MmHost, MmapHost, MadviseHost {
  /** @internal The core: its functions and typed-array views (not public API). */
  readonly core: Core;
  /** @internal */
  readonly v: CoreViews;
  readonly tasks: Task[] = [];
  readonly files: SimFile[] = [];
  /** @internal */
  readonly thp: ThpMode;
  // The kernel preset this machine follows (boot({ kernel })), and its
  // effective rules, each with the commit that governs it.
  readonly kernel: KernelName;
  readonly rules: RuleTable;
  /** @internal The rule values, for the façade's per-call decisions. */
  readonly kr: KernelRules;
  /** @internal */
  readonly totalRamPages: number;
  /** @internal */
  readonly layout: Readonly<Layout>;
  #log: string[] = [];
  #warned = new Set<string>();
  #nextPid = 1;
  #broken: Error | null = null;
  #badFrames = 0; // stats[NR_BAD_PAGES] when reports were last printed
  #badSeen = 0; // bad_page() reports already printed

  /** @internal Machines come from boot(). */
  constructor(core: Core, layout: Layout) {
    this.core = core;
    this.v = core.views();
    this.thp = layout.thp;
    this.totalRamPages = layout.ram / PAGE;
    this.layout = layout;
    this.kernel = layout.era.kernel;
    this.rules = layout.era.table;
    this.kr = layout.era.values;
    core.set_kernel_rules(coreRuleBits(this.kr));
    this.#printk(`pinsim: booted ${layout.ram / 2 ** 20} MiB RAM (${core.backend} core), THP ${layout.thp}`);
    const got2m = this.v.stats[C.HUGETLB_TOTAL];
    const got1g = this.v.stats[C.HUGETLB_TOTAL_1G];
    if (got2m < layout.pool2m) this.#printk(`HugeTLB: allocating ${layout.pool2m} of page size 2.00 MiB failed.  Only allocated ${got2m} hugepages.`);
    if (got1g < layout.pool1g) this.#printk(`HugeTLB: allocating ${layout.pool1g} of page size 1.00 GiB failed.  Only allocated ${got1g} hugepages.`);
  }

  get backend(): Backend { return this.core.backend; }

  #printk(line: string): void { this.#log.push(line); }

  printk(line: string): void { this.#printk(line); }

  // WARN_ON_ONCE(): the first time a check trips, log it with the current
  // task, as the kernel's splat does (without the stack dump). Each
  // distinct (site, why) is one check.
  warnOnce(site: string, why: string, pid = 0): void {
    const key = `${site}: ${why}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#printk(`WARNING: CPU: 0 PID: ${pid} at ${key}`);
  }

  // The kernel log, oldest first.
  dmesg(): string[] { return [...this.#log]; }

  // Runs fn against the core on behalf of process `comm`. A trap or abort
  // in the core means a pinsim bug left the machine half-changed: the
  // machine refuses all further work.
  /** @internal */
  guard<T>(fn: () => T, comm = 'swapper/0'): T {
    this.checkAlive();
    try {
      return fn();
    } catch (e) {
      throw this.crashed(e);
    } finally {
      this.reportBadPages(comm);
    }
  }

  // bad_page()'s report for each frame the core refused to free since the
  // last call (it keeps the last BAD_LOG_SIZE), then the taint note once.
  /** @internal */
  reportBadPages(comm = 'swapper/0'): void {
    if (this.v.stats[C.NR_BAD_PAGES] === this.#badFrames) return;
    this.#badFrames = this.v.stats[C.NR_BAD_PAGES];
    const n = this.core.bad_page_reports();
    for (let i = Math.max(this.#badSeen, n - C.BAD_LOG_SIZE); i < n; i++) {
      const e = this.core.bad_page_log(i);
      const pfn = e >>> C.BAD_REASON_BITS;
      this.#printk(`BUG: Bad page state in process ${comm}  pfn:${pfn.toString(16).padStart(5, '0')}`);
      for (const line of dumpPage(this, pfn).split('\n')) this.#printk(line);
      this.#printk(`page dumped because: ${BAD_REASONS[e & ((1 << C.BAD_REASON_BITS) - 1)]}`);
    }
    if (this.#badSeen === 0) this.#printk('Disabling lock debugging due to kernel taint');
    this.#badSeen = n;
  }

  /** @internal */
  checkAlive(): void {
    if (this.#broken !== null) { // one compare, where V8 tests an object field's truthiness in five
      const after = this.#broken instanceof KernelBug ? 'a kernel BUG' : 'an internal error';
      throw new Error(`pinsim: this machine is unusable after ${after}: ${this.#broken.message}`);
    }
  }

  // What guard() does with an error: validation errors are thrown before
  // the core is touched; anything else (a Wasm trap, a CoreAbort) came from
  // inside it and halts the machine. Returns the error to rethrow.
  /** @internal */
  crashed(e: unknown): unknown {
    if (e instanceof KernelBug) return e; // bug() halted the machine already
    if (!(e instanceof SyscallError || e instanceof TypeError || e instanceof RangeError)) {
      this.#broken = e instanceof Error ? e : new Error(String(e));
      this.#printk(`pinsim: core failure, machine halted: ${this.#broken.message}`);
    }
    return e;
  }

  // ---- tasks ----

  spawn(opts: SpawnOptions = {}): Task {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('spawn options must be an object');
    if (opts.name !== undefined && typeof opts.name !== 'string') throw new TypeError('spawn: name must be a string');
    const cred = spawnCred(opts, this.layout.memlock);
    return this.guard(() => {
      const pgd = this.core.mm_alloc();
      if (pgd < 0) throw fail('spawn', C.ENOMEM, 'no memory for a page table');
      return this.#addTask(new Mm(this, pgd), opts.name ?? 'init', null, cred);
    });
  }

  #addTask(mm: Mm, name: string, parent: Task | null, cred: TaskCred): Task {
    // Every machine is a devices/kernel.ts Kernel (boot() makes only those).
    const t = new Task(this as unknown as Task['kernel'], this.#nextPid++, name, mm, parent, cred);
    mm.pid = t.pid;
    mm.owner = t;
    this.tasks.push(t);
    return t;
  }

  // copy_process() -> dup_mm(): the child's VMAs, and its page tables where
  // vma_needs_copy() says so.
  /** @internal */
  fork(parent: Task): Task {
    const pgd = this.core.mm_alloc();
    if (pgd < 0) throw fail('fork', C.ENOMEM, 'no memory for the child PGD');
    const pm = parent.mm;
    const mm = new Mm(this, pgd);
    for (const v of pm.vmas) {
      if (v.flags & C.VM_DONTCOPY) continue;
      const copy = v.clone();
      copy.flags &= ~C.VM_LOCKED_MASK; // locks are not inherited; the child's counters start at 0
      if (v.anonVma) copy.anonVma = new AnonVma(this.core.new_mapping_id(), v.anonVma); // anon_vma_fork()
      mm.vmas.push(copy);
      if (!v.anonVma && !(v.flags & (C.VM_PFNMAP | C.VM_MIXEDMAP))) continue;
      // copy_page_range() write-protects a COW mapping in the parent.
      if ((v.flags & (C.VM_SHARED | C.VM_MAYWRITE)) === C.VM_MAYWRITE) pm.notify(C.MMU_NOTIFY_PROTECTION_PAGE, v.start, v.end, 'copy_page_range');
      mm.prepare(copy); // the child's VMA: pages copied at fork belong to its anon_vma
      const r = this.core.copy_page_range(pm.pgd, pgd, v.start / PAGE, v.pages, pm.hasPinned);
      if (r === C.FORK_BUG_NO_ANON_VMA) // The line is that of the report the fix quotes (a 5.10.149 kernel); other releases differ.
      if (r === C.FORK_BUG_NO_ANON_VMA) throw this.bug('mm/rmap.c:1044', '__page_set_anon_rmap', parent.name, parent.pid, FORK_TRACE);
      if (r < 0) {
        this.exitMm(mm);
        throw fail('fork', C.ENOMEM, 'out of memory copying page tables');
      }
    }
    const child = this.#addTask(mm, parent.name, parent, { uid: parent.uid, caps: parent.caps, signal: parent.signal.clone() });
    for (const [fd, f] of parent.fds) child.fds.set(fd, f);
    return child;
  }

  // A kernel BUG(): the oops report in dmesg, then the machine halts
  // (panic_on_oops: the BUG hit with locks held, nothing could go on).
  // comm/pid: the task or kernel thread it hit (pinsim's kernel threads
  // have no pid). Returns the KernelBug to throw.
  /** @internal */
  bug(site: string, fn: string, comm: string, pid: number | null, trace: readonly string[]): KernelBug {
    this.#printk('------------[ cut here ]------------');
    this.#printk(`kernel BUG at ${site}!`);
    this.#printk('invalid opcode: 0000 [#1] SMP NOPTI');
    this.#printk(`CPU: 0 ${pid === null ? '' : `PID: ${pid} `}Comm: ${comm} Not tainted ${this.kernel} #1 (pinsim)`);
    this.#printk(`RIP: 0010:${fn}`);
    this.#printk('Call Trace:');
    for (const f of trace) this.#printk(` ${f}`);
    this.#printk('---[ end trace ]---');
    this.#printk('Kernel panic - not syncing: Fatal exception');
    const e = new KernelBug(site, `(${fn}, in ${comm}${pid === null ? '' : `[${pid}]`}: the machine has halted)`);
    this.#broken ??= e;
    return e;
  }

  // exit_mmap(): the notifiers' RELEASE pass, then zap every VMA (UNMAP of
  // everything: interval notifiers hear it too, UNVERIFIED), free every page table.
  /** @internal */
  exitMm(mm: Mm): void {
    mm.notifierSubscriptions?.release();
    mm.notify(C.MMU_NOTIFY_UNMAP, 0, 2 ** 64, 'exit_mmap');
    mm.dead = true;
    for (const v of mm.vmas) mm.zap(v, v.start, v.end);
    mm.uncountLocked(mm.vmas);
    mm.vmas.length = 0;
    this.core.mm_free(mm.pgd);
  }

  /** @internal */
  removeTask(t: Task): void {
    this.tasks.splice(this.tasks.indexOf(t), 1);
  }

  // ---- faults on behalf of tasks ----

  // Fills the page cache of a disk file for [index, index + n) from its
  // backing store, through the scratch view. False when memory ran out.
  /** @internal */
  fillCache(f: SimFile, index: number, n: number): boolean {
    if (f.backing !== C.BACKING_FILE && f.backing !== C.BACKING_SHMEM) return true;
    const end = Math.min(index + n, f.pages);
    for (let i = index; i < end; i += C.SCRATCH_WORDS) {
      const chunk = Math.min(C.SCRATCH_WORDS, end - i);
      if (f.backing === C.BACKING_FILE) for (let j = 0; j < chunk; j++) this.v.scratch[j] = f.store.get(i + j) ?? 0;
      else this.v.scratch.fill(0, 0, chunk);
      if (this.core.pc_fill(f.id, i, chunk, f.backing) < chunk) return false;
    }
    return true;
  }

  // Faults [start, end) of one VMA; returns 0 or VM_FAULT_* bits.
  /** @internal */
  faultVma(mm: Mm, vma: Vma, start: number, end: number, write: boolean): number {
    if (vma.file && vma.backing === C.BACKING_FILE) {
      const first = vma.pgoff + (start - vma.start) / PAGE;
      if (!this.fillCache(vma.file, first, (end - start) / PAGE)) return C.VM_FAULT_OOM;
    }
    return mm.faultIn(vma, start, end, write);
  }

  // The error a user access gets for a failed fault.
  /** @internal */
  faultError(syscall: string, bits: number, addr: number): SyscallError {
    const where = `at 0x${addr.toString(16)}`;
    if (bits & C.VM_FAULT_OOM) {
      // The table-slot pool is pinsim's own limit (assembly/mem.ts), not RAM's: say which one ran out.
      const tables = this.core.pt_capacity();
      if (this.v.stats[C.NR_PAGETABLE] >= tables) {
        return fail(syscall, C.ENOMEM, `out of memory ${where}: pinsim's page-table pool is full (${tables} tables; Linux would allocate more)`);
      }
      return fail(syscall, C.ENOMEM, `out of memory ${where} (Linux would invoke the OOM killer)`);
    }
    if (bits & C.VM_FAULT_SIGBUS) return signal(syscall, 'SIGBUS', `bus error ${where}`);
    return signal(syscall, 'SIGSEGV', `segmentation fault ${where}`);
  }

  // mm_populate() for MAP_POPULATE: errors are ignored, as in Linux.
  /** @internal */
  populate(mm: Mm, vma: Vma): void {
    if (vma.flags & (C.VM_IO | C.VM_PFNMAP)) return;
    if (!(vma.flags & (C.VM_READ | C.VM_WRITE | C.VM_EXEC))) return;
    this.faultVma(mm, vma, vma.start, vma.end, (vma.flags & (C.VM_WRITE | C.VM_SHARED)) === C.VM_WRITE);
  }

  // MADV_POPULATE_(READ|WRITE) for one VMA's part.
  /** @internal */
  populateRange(mm: Mm, vma: Vma, start: number, end: number, write: boolean): void {
    const bits = this.faultVma(mm, vma, start, end, write);
    if (bits & C.VM_FAULT_OOM) throw fail('madvise', C.ENOMEM, 'out of memory while populating');
    if (bits) throw fail('madvise', C.EFAULT, 'populating hit SIGBUS/SIGSEGV');
  }

  /** @internal */
  hugetlbOrderFor(flags: number): number | null {
    const sz = (flags >>> C.MAP_HUGE_SHIFT) & C.MAP_HUGE_MASK;
    if (sz === 0 || sz === C.PMD_SHIFT) return C.HPAGE_PMD_ORDER;
    if (sz === C.PUD_SHIFT) return C.HPAGE_PUD_ORDER;
    return null;
  }

  // ---- files ----

  createFile(opts: { fs: FsType; size: string | number; name?: string; hugePageSize?: '2MiB' | '1GiB' }): SimFile {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('createFile options must be an object');
    if (!FS_TYPES.includes(opts.fs)) throw new RangeError(`fs must be one of ${FS_TYPES.join(', ')}`);
    const size = parseSize('size', opts.size);
    if (opts.name !== undefined && typeof opts.name !== 'string') throw new TypeError('name must be a string');
    let hugeOrder = 0;
    if (opts.fs === 'hugetlbfs') {
      hugeOrder = opts.hugePageSize === '1GiB' ? C.HPAGE_PUD_ORDER : C.HPAGE_PMD_ORDER;
      if (opts.hugePageSize !== undefined && opts.hugePageSize !== '2MiB' && opts.hugePageSize !== '1GiB') {
        throw new RangeError("hugePageSize must be '2MiB' or '1GiB'");
      }
      if (size % (PAGE * 2 ** hugeOrder) !== 0) throw fail('createFile', C.EINVAL, 'hugetlbfs size must be a multiple of the huge page size');
    }
    if (size > sMaxBytes(opts.fs)) throw fail('createFile', C.EFBIG, `${size} bytes exceed the ${opts.fs} file size limit`);
    return this.guard(() => this.newFile(opts.fs, size, hugeOrder, opts.name));
  }

  /** @internal */
  newFile(fs: FsType, size: number, hugeOrder: number, name?: string, anonymous = false): SimFile {
    const id = this.core.new_mapping_id();
    let daxBase = -1;
    if (fs === 'fsdax') {
      daxBase = this.core.dax_alloc(Math.ceil(size / PAGE), id);
      if (daxBase < 0) throw fail('createFile', C.ENOSPC, 'not enough pmem for this fsdax file (boot with pmem)');
    }
    const f = new SimFile(id, name ?? `${fs}-${id}`, fs, size, hugeOrder, daxBase, anonymous);
    this.files.push(f);
    return f;
  }

  /** @internal */
  internalFile(kind: 'shmem' | 'hugetlb', size: number, hugeOrder: number): SimFile {
    return this.newFile(kind === 'shmem' ? 'tmpfs' : 'hugetlbfs', size, hugeOrder,
      kind === 'shmem' ? '/dev/zero (deleted)' : 'anon_hugepage (deleted)', true);
  }

  // The last fput() of an anonymous file (memfd, shared anonymous memory):
  // once no fd and no VMA refers to it, its inode is evicted and its page
  // cache truncated.
  /** @internal */
  reapFiles(): void {
    for (const f of this.files.filter((x) => x.anonymous)) {
      if (this.tasks.some((t) => [...t.fds.values()].includes(f) || t.mm.vmas.some((v) => v.file === f))) continue;
      this.truncate(f, 0);
      this.files.splice(this.files.indexOf(f), 1);
    }
  }

  // Every VMA of every task that maps f (the file's i_mmap).
  /** @internal */
  *mappingsOf(f: SimFile): Generator<[Mm, Vma]> {
    for (const t of this.tasks) for (const v of t.mm.vmas) if (v.file === f) yield [t.mm, v];
  }

  // truncate_setsize() + truncate_pagecache(): mappings of the cut part are
  // zapped (private COW copies too), then its cached folios dropped.
  /** @internal */
  truncate(f: SimFile, size: number): void {
    const oldPages = f.pages;
    const newPages = Math.ceil(size / PAGE);
    if (newPages < oldPages) {
      for (const [mm, v] of this.mappingsOf(f)) {
        const from = Math.max(v.start, v.start + (newPages - v.pgoff) * PAGE);
        if (from < v.end) {
          mm.notify(C.MMU_NOTIFY_CLEAR, from, v.end, 'unmap_mapping_range'); // UNVERIFIED event for truncate
          mm.zap(v, from, v.end);
        }
      }
      if (f.backing !== C.BACKING_DAX) this.core.pc_truncate(f.id, newPages, oldPages, f.backing);
      for (const i of f.store.keys()) if (i >= newPages) f.store.delete(i);
    }
    f.size = size;
  }

  // Writeback of dirty page-cache folios (ext4, xfs, btrfs; others need
  // none): folio_mkclean() write-protects and cleans every PTE mapping them,
  // then each dirty folio is written to the store and the filesystem drops
  // its per-folio state. A dirty folio that the filesystem never saw made
  // writable (no ->page_mkwrite) is reported: the hazard FOLL_PIN exposes.
  writeback(file?: SimFile): WritebackReport {
    if (file !== undefined && !this.files.includes(file)) throw new TypeError('writeback(file?): not a file of this machine');
    return this.guard(() => {
      const report: WritebackReport = { written: 0, hazards: [] };
      for (const f of file ? [file] : this.files) this.writebackRange(f, 0, f.pages, report);
      return report;
    });
  }

  // filemap_write_and_wait_range() of the file's pages [first, end), adding to report.
  /** @internal */
  writebackRange(f: SimFile, first: number, end: number, report: WritebackReport = { written: 0, hazards: [] }): WritebackReport {
    if (!f.writesBack) return report;
    for (const [mm, v] of this.mappingsOf(f)) {
      // The part of the VMA that maps [first, end).
      const from = Math.max(v.start, v.start + (first - v.pgoff) * PAGE);
      const to = Math.min(v.end, v.start + (end - v.pgoff) * PAGE);
      if (!v.isShared || from >= to) continue;
      mm.prepare(v);
      // page_vma_mkclean_one(): PROTECTION_PAGE over what is cleaned (one range per VMA here).
      if (mm.notifierSubscriptions && this.core.mkclean_range(mm.pgd, from / PAGE, (to - from) / PAGE, f.id, true)) {
        const cleanFirst = this.core.mkclean_first();
        mm.notify(C.MMU_NOTIFY_PROTECTION_PAGE, cleanFirst * PAGE, (this.core.mkclean_last() + 1) * PAGE, 'page_vma_mkclean_one');
        mm.prepare(v);
      }
      this.core.mkclean_range(mm.pgd, from / PAGE, (to - from) / PAGE, f.id, false);
    }
    const nobuf = noBuffersMode(f, this.kr);
    for (let cursor = 0; cursor >= 0; cursor = this.core.writeback_next()) {
      const n = this.core.writeback_range(f.id, first, end, cursor, nobuf);
      const s = this.v.scratch;
      for (let j = 0; j < 4 * n; j += 4) {
        const index = s[j] + s[j + 1] * 2 ** 32;
        if (s[j + 3] === C.WB_NOBUF_STOP) throw this.bug(EXT4_BUG_SITE, EXT4_SITE, WB_COMM, null, EXT4_BUG_TRACE);
        if (s[j + 3] === C.WB_WRITTEN) {
          f.store.set(index, s[j + 2]);
          report.written++;
          continue;
        }
        report.hazards.push({ file: f.name, index });
        if (s[j + 3] === C.WB_NOBUF_DROP) {
          this.#printk(ext4NoBuffersWarning(f, index, WB_COMM));
          continue;
        }
        f.store.set(index, s[j + 2]);
        report.written++;
        this.#printk(`pinsim: ${f.fs}: writeback of '${f.name}' index ${index}: folio dirtied without ->page_mkwrite (no buffers attached)`);
      }
    }
    return report;
  }

  // ---- inspection ----

  // pfn may be what translate() or PageArray.get() returned: null (nothing
  // mapped, a NULL entry) is a TypeError saying so, as dump_page(NULL) in C
  // would be a NULL dereference.
  page(pfn: number | null): PageSnapshot {
    return pageSnapshot(this, this.#checkPfn('page', pfn));
  }

  dump_page(pfn: number | null): string {
    return dumpPage(this, this.#checkPfn('dump_page', pfn));
  }

  meminfo(): MemInfo {
    return meminfo(this);
  }

  // The state of frames [start, start + perPixel * pixels), one byte per
  // pixel (constants.FRAME_*; see assembly/frame_map.ts), for pictures.
  frameMap(start: number, perPixel: number, pixels: number, out?: Uint8Array): Uint8Array {
    return this.guard(() => frameMap(this, start, perPixel, pixels, out));
  }

  // /proc/meminfo as text, in the kernel's format.
  procMeminfo(): string {
    return procMeminfo(meminfo(this));
  }

  // Frames (pfns): RAM and pmem; more than struct pages on a sparse machine.
  get nrFrames(): number { return (this.layout.ram + this.layout.pmem) / PAGE; }

  #checkPfn(what: string, pfn: unknown): number {
    if (pfn === null) throw new TypeError(`${what}: pfn is null (nothing is mapped there, or a NULL pages[] entry)`);
    if (typeof pfn !== 'number') throw new TypeError(`${what}: pfn must be a number`);
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.nrFrames) throw new RangeError(`${what}: no frame ${pfn}`);
    return pfn;
  }

  // A hash of the whole machine state, computed by the core.
  digest(): number {
    return this.guard(() => this.core.digest() >>> 0);
  }
}
