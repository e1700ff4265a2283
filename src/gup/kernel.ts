// The GUP/pin API on the machine (KernelBase + accounting) with the
// kernel's names, arguments, return values (counts or negative errno) and
// WARN_ON_ONCE()s. JS misuse that has no kernel equivalent (a wrong type, a
// PageArray smaller than nr_pages) throws TypeError/RangeError first.
import * as C from '../../assembly/constants';
import { AccountingKernel } from '../mm/accounting';
import { Mm, TASK_SIZE } from '../mm/mm';
import { Task } from '../task';
import { checkInt, checkBool, fail, type SyscallError } from '../errors';
import { compoundHead } from '../inspect/page';
import { migrateListed } from '../mm/migrate';
import { MmuIntervalNotifier, MmuNotifierSubscriptions, type MmuIntervalNotifierOps } from '../mm/notifier';
import { hmmRangeFault, type HmmRange } from '../mm/hmm';
import { PageArray, PageArenaAllocator } from './page-array';
import { isValidGupArgs, gupLongtermLocked, gupFastFallback, gupFastRest, type Locked } from './gup';
import { pinKind } from '../eras/pincount';

// /proc/vmstat names of the counters the core keeps.
// (nr_foll_pin_* only from 5.7: older kernels have no such lines, pinVmstat.)
const VMSTAT: [string, number][] = [
  ['nr_free_pages', C.NR_FREE_PAGES], ['nr_free_cma', C.NR_FREE_CMA_PAGES], ['nr_anon_pages', C.NR_ANON_PAGES],
  ['nr_file_pages', C.NR_FILE_PAGES], ['nr_shmem', C.NR_SHMEM], ['nr_page_table_pages', C.NR_PAGETABLE],
  ['nr_anon_transparent_hugepages', C.NR_ANON_THPS], ['nr_isolated_anon', C.NR_ISOLATED], ['nr_dirtied', C.NR_DIRTIED],
  ['nr_written', C.NR_WRITTEN], ['nr_foll_pin_acquired', C.NR_FOLL_PIN_ACQUIRED],
  ['nr_foll_pin_released', C.NR_FOLL_PIN_RELEASED], ['pgfault', C.PGFAULT], ['pgmigrate_success', C.PGMIGRATE_SUCCESS],
  ['pgmigrate_fail', C.PGMIGRATE_FAIL], ['thp_fault_alloc', C.THP_FAULT_ALLOC],
  ['thp_fault_fallback', C.THP_FAULT_FALLBACK], ['thp_split_pmd', C.THP_SPLIT_PMD],
];

type Target = Task | Mm;

const PAGE = C.PAGE_SIZE;
const PER_PAGE = 1 / PAGE; // exact; V8 does not fold the module constant, and a division is 4x the latency of a product

// User gup_flags with which is_valid_gup_args() and gup_fast_fallback()'s
// whitelist accept a GUP-fast call as it is (pages given): FOLL_LONGTERM
// only with FOLL_PIN (FOLL_GET|FOLL_LONGTERM is the era's call), never with
// FOLL_PCI_P2PDMA. Anything else takes isValidGupArgs().
const PLAIN_GET_FLAGS = C.FOLL_WRITE | C.FOLL_FORCE | C.FOLL_NOFAULT | C.FOLL_HONOR_NUMA_FAULT;
const PLAIN_PIN_FLAGS = PLAIN_GET_FLAGS | C.FOLL_LONGTERM;

function checkSub(sub: MmuIntervalNotifier): MmuIntervalNotifier {
  if (!(sub instanceof MmuIntervalNotifier)) throw new TypeError('not an interval notifier subscription');
  return sub;
}

export class GupKernel extends AccountingKernel {
  #arena: PageArenaAllocator | null = null;
  // The era's pin API, decided once: none before 5.6 (pinApi); in 5.6 a pin
  // is a plain reference and unpin is put_page() (pinBias 1): FOLL_PIN
  // becomes FOLL_GET where the façade hands a call to the core.
  readonly #pinApi = this.kr.pinApi;
  readonly #pinAsGet = this.kr.pinBias === 1 ? C.FOLL_PIN : 0;
  readonly #unpinFlags = pinKind(this.kr);
  readonly #vmstat = this.kr.pinVmstat ? VMSTAT : VMSTAT.filter(([name]) => !name.startsWith('nr_foll_pin_'));

  // A `struct page *pages[n]` for GUP calls, in the core's arena; NULL (-1) filled.
  pageArray(n: number): PageArray {
    const len = checkInt('n', n);
    if (len < 0) throw new RangeError(`pageArray: negative length ${len}`);
    this.#arena ??= new PageArenaAllocator(this.v.pages);
    return this.#arena.allocate(len);
  }

  // ---- acquire: counts, or -errno (the pin_* slow variants: 0 on bad arguments) ----

  get_user_pages(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null): number {
    return this.#slow('get_user_pages', t, start, nr_pages, gup_flags, pages, null, C.FOLL_TOUCH, -C.EINVAL);
  }

  get_user_pages_remote(mm: Mm, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null,
    locked?: Locked | null): number {
    return this.#slow('get_user_pages_remote', mm, start, nr_pages, gup_flags, pages, locked ?? null,
      C.FOLL_TOUCH | C.FOLL_REMOTE, -C.EINVAL);
  }

  get_user_pages_unlocked(t: Task, start: number, nr_pages: number, pages: PageArray | null, gup_flags: number): number {
    return this.#slow('get_user_pages_unlocked', t, start, nr_pages, gup_flags, pages, null,
      C.FOLL_TOUCH | C.FOLL_UNLOCKABLE, -C.EINVAL);
  }

  get_user_pages_fast(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null): number {
    return this.#fast('get_user_pages_fast', t, start, nr_pages, gup_flags, pages, C.FOLL_GET);
  }

  get_user_pages_fast_only(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null): number {
    return this.#fast('get_user_pages_fast_only', t, start, nr_pages, gup_flags, pages, C.FOLL_GET | C.FOLL_FAST_ONLY);
  }

  pin_user_pages(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray): number {
    if (!this.#pinApi) throw this.#noPinApi('pin_user_pages', 'get_user_pages()');
    return this.#slow('pin_user_pages', t, start, nr_pages, gup_flags, pages, null, C.FOLL_PIN, 0);
  }

  pin_user_pages_fast(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null): number {
    if (this.#pinApi !== true) throw this.#noPinApi('pin_user_pages_fast', 'get_user_pages_fast()'); // strict, as in #usual()
    return this.#fast('pin_user_pages_fast', t, start, nr_pages, gup_flags, pages, C.FOLL_PIN);
  }

  pin_user_pages_remote(mm: Mm, start: number, nr_pages: number, gup_flags: number, pages: PageArray,
    locked?: Locked | null): number {
    if (!this.#pinApi) throw this.#noPinApi('pin_user_pages_remote', 'get_user_pages_remote()');
    return this.#slow('pin_user_pages_remote', mm, start, nr_pages, gup_flags, pages, locked ?? null,
      C.FOLL_PIN | C.FOLL_TOUCH | C.FOLL_REMOTE, 0);
  }

  pin_user_pages_unlocked(t: Task, start: number, nr_pages: number, pages: PageArray, gup_flags: number): number {
    if (!this.#pinApi) throw this.#noPinApi('pin_user_pages_unlocked', 'get_user_pages_unlocked()');
    return this.#slow('pin_user_pages_unlocked', t, start, nr_pages, gup_flags, pages, null,
      C.FOLL_PIN | C.FOLL_TOUCH | C.FOLL_UNLOCKABLE, 0);
  }

  // ---- MMU interval notifiers and HMM (src/mm/notifier.ts, src/mm/hmm.ts) ----

  // mmu_interval_notifier_insert(): the subscription, or -EOVERFLOW (zero or
  // overflowing length), -EINVAL (an mm no task uses: WARN) as an ERR_PTR.
  mmu_interval_notifier_insert(mm: Mm, start: number, length: number, ops: MmuIntervalNotifierOps): MmuIntervalNotifier | number {
    if (!(mm instanceof Mm) || mm.host !== this) throw new TypeError('mmu_interval_notifier_insert: mm must be an Mm (task.mm) of this machine');
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0) {
      throw new TypeError('mmu_interval_notifier_insert: start and length must be non-negative integers');
    }
    if (typeof ops !== 'object' || ops === null || typeof ops.invalidate !== 'function') {
      throw new TypeError('mmu_interval_notifier_insert: ops must have an invalidate function');
    }
    if (length === 0 || start + length > 2 ** 64) return -C.EOVERFLOW;
    if (mm.dead) {
      this.warnOnce('mm/mmu_notifier.c:__mmu_interval_notifier_insert', 'mm_users <= 0');
      return -C.EINVAL;
    }
    return MmuNotifierSubscriptions.subscribe(this, mm, start, length, ops);
  }

  mmu_interval_notifier_remove(sub: MmuIntervalNotifier): void { checkSub(sub).subs.remove(sub); }
  mmu_interval_read_begin(sub: MmuIntervalNotifier): number { return checkSub(sub).subs.readBegin(sub); }
  mmu_interval_read_retry(sub: MmuIntervalNotifier, seq: number): boolean { return checkSub(sub).invalidateSeq !== seq; }
  mmu_interval_check_retry(sub: MmuIntervalNotifier, seq: number): boolean { return checkSub(sub).invalidateSeq !== seq; }
  mmu_interval_set_seq(sub: MmuIntervalNotifier, cur_seq: number): void { checkSub(sub).invalidateSeq = cur_seq; }

  hmm_range_fault(range: HmmRange): number { return hmmRangeFault(this, range); }

  // ---- the 2019 series' names (v1/v2 of "mm/gup: introduce pin_user_pages*() and FOLL_PIN") ----

  // pin_longterm_pages*(): pin_user_pages*() with FOLL_LONGTERM, the remote
  // one included (which the seed could not yet do, and the review asked for).
  pin_longterm_pages(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray): number {
    return this.pin_user_pages(t, start, nr_pages, gup_flags | C.FOLL_LONGTERM, pages);
  }

  pin_longterm_pages_fast(t: Task, start: number, nr_pages: number, gup_flags: number, pages: PageArray | null): number {
    return this.pin_user_pages_fast(t, start, nr_pages, gup_flags | C.FOLL_LONGTERM, pages);
  }

  pin_longterm_pages_remote(mm: Mm, start: number, nr_pages: number, gup_flags: number, pages: PageArray,
    locked?: Locked | null): number {
    return this.pin_user_pages_remote(mm, start, nr_pages, gup_flags | C.FOLL_LONGTERM, pages, locked);
  }

  // In 5.3-5.5 these were placeholders for put_page() (fc1d8e7cca2d): they
  // exist on every preset, releasing plain references before 5.6.
  put_user_page(pfn: number): void {
    if (this.#pinApi) this.unpin_user_page(pfn);
    else this.#unpinPage(pfn, C.FOLL_GET);
  }

  put_user_pages(pages: PageArray, npages: number): void { this.put_user_pages_dirty_lock(pages, npages, false); }

  put_user_pages_dirty_lock(pages: PageArray, npages: number, make_dirty: boolean): void {
    if (this.#pinApi) this.unpin_user_pages_dirty_lock(pages, npages, make_dirty);
    else this.#unpinPages(pages, npages, make_dirty, C.FOLL_GET);
  }

  // ---- release ----

  // One page per call is the common release of a single-page DMA: #watch()
  // spelled out, without its closure.
  unpin_user_page(pfn: number): void {
    if (!this.#pinApi) throw this.#noPinApi('unpin_user_page', 'put_page()');
    this.#unpinPage(pfn);
  }

  #unpinPage(pfn: number, flags = this.#unpinFlags): void {
    const p = this.#pfn(pfn);
    this.checkAlive();
    const before = this.#warns();
    const refc = this.v.stats[C.GUP_WARN_REFCOUNT];
    const bads = this.v.stats[C.NR_BAD_PAGES];
    try {
      this.core.unpin_range(p, 1, false, flags);
    } catch (e) {
      throw this.crashed(e);
    }
    if (this.v.stats[C.NR_BAD_PAGES] !== bads) this.reportBadPages();
    this.#reportWarns(before, refc);
  }

  unpin_user_pages(pages: PageArray, npages: number): void {
    if (!this.#pinApi) throw this.#noPinApi('unpin_user_pages', 'put_page() per page');
    this.#unpinPages(pages, npages, false);
  }

  unpin_user_pages_dirty_lock(pages: PageArray, npages: number, make_dirty: boolean): void {
    if (!this.#pinApi) throw this.#noPinApi('unpin_user_pages_dirty_lock', 'set_page_dirty_lock() and put_page()');
    this.#unpinPages(pages, npages, make_dirty);
  }

  // release_pages(): drops the FOLL_GET reference of every entry of
  // pages[0, npages) (NULL entries skipped) in one core call, as a bio of
  // FOLL_GET pages is released; in any era.
  release_pages(pages: PageArray, npages: number): void {
    this.#unpinPages(pages, npages, false, C.FOLL_GET);
  }

  #unpinPages(pages: PageArray, npages: number, make_dirty: boolean, flags = this.#unpinFlags): void {
    // As in #fast(): the common case inline, the checks' errors otherwise.
    const common = pages instanceof PageArray && Number.isSafeInteger(npages) && npages >= 0
      && npages <= pages.length && typeof make_dirty === 'boolean' && this.#arena !== null && pages.livesIn(this.#arena);
    const n = common ? npages : this.#arrayCount(pages, npages);
    if (!common) checkBool('make_dirty', make_dirty);
    if (n < 0) {
      // IS_ERR_VALUE(npages): a -errno passed straight from a failed GUP call.
      this.warnOnce('mm/gup.c:unpin_user_pages', `npages ${n} looks like an error value`);
      return;
    }
    this.checkAlive();
    const before = this.#warns();
    const bads = this.v.stats[C.NR_BAD_PAGES];
    let bad: number;
    try {
      bad = this.core.unpin_pages(pages.offset, n, make_dirty, flags);
    } catch (e) {
      throw this.crashed(e);
    }
    if (this.v.stats[C.NR_BAD_PAGES] !== bads) this.reportBadPages(); // an unpin dropped a last reference
    if (bad >= 0) {
      // In C, a struct page pointer that points nowhere; here a value
      // written into the PageArray's view. Nothing was unpinned.
      throw new RangeError(`pages[${bad}] holds ${pages.pfns[bad]}, which is no page of this machine: nothing was unpinned`);
    }
    if (this.#warns() !== before) this.#reportWarns(before, this.v.stats[C.GUP_WARN_REFCOUNT]);
  }

  unpin_user_page_range_dirty_lock(pfn: number, npages: number, make_dirty: boolean): void {
    if (!this.#pinApi) throw this.#noPinApi('unpin_user_page_range_dirty_lock', 'set_page_dirty_lock() and put_page()');
    const first = this.#pfn(pfn);
    const n = checkInt('npages', npages);
    checkBool('make_dirty', make_dirty);
    if (n < 0 || first + n > this.nrFrames) throw new RangeError(`pfn range ${first}+${n} is not in this machine`);
    this.#watch(() => this.core.unpin_range(first, n, make_dirty, this.#unpinFlags));
  }

  // Drops a FOLL_GET reference. A page that holds none (a free frame, or
  // one already put to zero) is refused with a WARN and left untouched:
  // Linux stops at the VM_BUG_ON in folio_put_testzero() under
  // CONFIG_DEBUG_VM and otherwise drives the refcount negative. Dropping
  // the last reference of a page still in use (mapped, a page table, the
  // zero page) reaches the free path, which reports it as a bad page.
  put_page(pfn: number): void {
    const p = this.#pfn(pfn);
    const before = this.v.stats[C.GUP_WARN_UNPIN];
    this.guard(() => this.core.unpin_range(p, 1, false, 0));
    if (this.v.stats[C.GUP_WARN_UNPIN] !== before) {
      this.warnOnce('include/linux/mm.h:put_page', 'page_ref underflow: the page holds no reference (pinsim leaves it untouched)');
    }
  }

  // ---- predicates ----

  folio_maybe_dma_pinned(pfn: number): boolean {
    return !!this.core.folio_maybe_dma_pinned(compoundHead(this.v, this.#pfn(pfn))); // Wasm returns bool as 0/1
  }

  // The pre-v6.11 name: the same test on page_folio(page).
  page_maybe_dma_pinned(pfn: number): boolean { return this.folio_maybe_dma_pinned(pfn); }

  folio_is_longterm_pinnable(pfn: number): boolean {
    return !!this.core.folio_is_longterm_pinnable(compoundHead(this.v, this.#pfn(pfn)));
  }

  // Migrates the folio of pfn out of ZONE_MOVABLE and CMA, as compaction or
  // a long-term pin would: 0, or -EAGAIN when references beyond its
  // mappings (a pin, a GUP reference) hold it, -ENOMEM without a target.
  migrate_folio(pfn: number): number {
    const head = compoundHead(this.v, this.#pfn(pfn));
    return this.guard(() => {
      if (!(this.v.flags[this.v.page(head)] & (C.PG_anon | C.PG_lru)) || this.v.flags[this.v.page(head)] & C.PG_hugetlb) return -C.EBUSY;
      this.v.scratch[0] = head;
      return migrateListed(this, 1) ? this.v.scratch[C.MIGRATE_BATCH] | 0 : 0;
    });
  }

  // lru_add_drain(): the folios waiting in the per-CPU LRU batch (boot
  // with rules: { lruBatchRef: true }) go on the LRU and the batch drops
  // its references. Nothing to do with the switch off.
  lru_add_drain(): void {
    this.guard(() => this.core.lru_add_drain());
  }

  // ---- a device's view: DMA into and out of page frames ----

  // A device writes `word` into frame pfn, as DMA into a pinned page does:
  // no PTE, no fault, no dirty bit. Writing a clean page-cache folio of a
  // file that writes back is the hazard FOLL_PIN exists to expose: it is
  // logged, and the data reaches the file only if the folio is dirtied
  // later (unpin_user_pages_dirty_lock()).
  dma_write(pfn: number | null, word: number): void {
    const p = this.#pfn(pfn);
    const w = checkInt('word', word);
    if (w < 0 || w > 0xffffffff) throw new RangeError(`word must fit in 32 bits, got ${w}`);
    this.checkAlive();
    if (!this.keepsContents(p)) throw new RangeError(`dma_write: pfn ${p} is a tail page of a 1 GiB folio above 256 GiB, whose contents pinsim does not keep`);
    const head = compoundHead(this.v, p);
    const f = this.v.flags[this.v.page(head)];
    if (!(f & (C.PG_anon | C.PG_swapbacked | C.PG_dirty)) && this.v.mapping[this.v.page(head)] && this.files.some((x) => x.id === this.v.mapping[this.v.page(head)] && x.writesBack)) {
      this.printk(`pinsim: DMA write into clean page-cache folio pfn ${p} of a file that writes back: the filesystem has not been told`);
    }
    this.v.data[this.v.page(p)] = w;
  }

  // Does pinsim keep pfn's contents? Not for a sparse 1 GiB folio's pages
  // from page[3] on, which share one struct page and data word
  // (assembly/mem.ts page_is_shared_tail()).
  keepsContents(pfn: number): boolean {
    const page = this.v.page(pfn);
    return pfn === 0 || (page !== this.v.page(pfn - 1) && page !== this.v.page(pfn + 1));
  }

  dma_read(pfn: number | null): number {
    return this.v.data[this.v.page(this.#pfn(pfn))];
  }

  // ---- counters ----

  vmstat(): Record<string, number> {
    return Object.fromEntries(this.#vmstat.map(([name, i]) => [name, this.v.stats[i]]));
  }

  procVmstat(): string {
    return this.#vmstat.map(([name, i]) => `${name} ${this.v.stats[i]}\n`).join('');
  }

  // ---- plumbing ----

  // A pin_*() / unpin_*() call on a kernel before 5.6: the symbol does not
  // exist (a module using it would not load), so nothing is touched.
  #noPinApi(fn: string, instead: string): SyscallError {
    return fail(fn, C.ENOSYS, `${fn}() does not exist in kernel ${this.kernel}: added in 5.6 by eddb1c228f79 (use ${instead})`);
  }

  // The mm of a GUP call: a live one of this machine. An exited task, or
  // an mm without users (which has no page tables any more; the kernel's
  // remote callers take mmget_not_zero() first), is refused with ESRCH.
  #mm(fn: string, target: Target): Mm {
    const mm = target instanceof Task ? target.mm : target;
    if (!(mm instanceof Mm)) throw new TypeError(`${fn}: expected a Task${fn.endsWith('remote') ? ' or its mm' : ''}`);
    if (mm.host !== this) throw new TypeError(`${fn}: that task belongs to another machine`);
    if (mm.dead) throw fail(fn, C.ESRCH, `task ${mm.pid} has exited: its mm has no users`);
    return mm;
  }

  #pfn(pfn: unknown): number {
    if (pfn === null) throw new TypeError('pfn is null (nothing is mapped there, or a NULL pages[] entry)');
    const p = checkInt('pfn', pfn);
    if (p < 0 || p >= this.nrFrames) throw new RangeError(`pfn ${p} is not in this machine`);
    return p;
  }

  #pages(pages: unknown, nullable: boolean): PageArray | null {
    if (pages === null && nullable) return null;
    if (!(pages instanceof PageArray) || !this.#arena || !pages.livesIn(this.#arena)) {
      throw new TypeError('pages must be a live PageArray from this kernel\'s pageArray()');
    }
    return pages;
  }

  #arrayCount(pages: PageArray, npages: unknown): number {
    this.#pages(pages, false);
    const n = checkInt('npages', npages);
    if (n > pages.length) throw new RangeError(`npages ${n} exceeds the PageArray (${pages.length})`);
    return n;
  }

  // The common case of a GUP call's JS arguments in one test, which V8
  // inlines (#check()'s calls cost a one-page call a quarter of its time): a
  // live task of this machine, integral start and nr_pages >= 0, 32-bit
  // flags, a live PageArray that holds nr_pages. Anything else goes through
  // #check() for its precise error. A boolean field is compared strictly:
  // V8 tests its truthiness in five instructions, === in one.
  #usual(t: Target, start: number, nr: number, flags: number, pages: PageArray | null): t is Task {
    return t instanceof Task && t.mm.host === this && t.exited === false && Number.isSafeInteger(start)
      && Number.isSafeInteger(nr) && nr >= 0 && typeof flags === 'number' && flags >>> 0 === flags && pages instanceof PageArray
      && nr <= pages.length && this.#arena !== null && pages.livesIn(this.#arena);
  }

  // The checks every GUP entry point makes of its JS arguments; the mm.
  #check(fn: string, target: Target, start: unknown, nr: unknown, flags: unknown, pages: unknown): Mm {
    const mm = this.#mm(fn, target);
    checkInt('start', start);
    const n = checkInt('nr_pages', nr);
    const f = checkInt('gup_flags', flags);
    if (f < 0 || f > 0xffffffff) throw new RangeError(`gup_flags must be an unsigned 32-bit value, got ${f}`);
    const pa = this.#pages(pages, true);
    // A PageArray shorter than the pages asked for (in C, an overflow);
    // nr_pages is unsigned long in the slow path, so a negative count is huge.
    if (pa && (n > pa.length || (n < 0 && !fn.endsWith('fast') && !fn.endsWith('fast_only')))) {
      throw new RangeError(`${fn}: nr_pages ${n} exceeds the PageArray (${pa.length})`);
    }
    return mm;
  }

  // Core-side WARN_ON_ONCE()s are counted in stats; report the new ones.
  #warns(): number { return this.v.stats[C.GUP_WARN_REFCOUNT] + this.v.stats[C.GUP_WARN_UNPIN]; }

  #reportWarns(before: number, refcBefore: number): void {
    if (this.#warns() === before) return;
    if (this.v.stats[C.GUP_WARN_REFCOUNT] > refcBefore) this.warnOnce('mm/gup.c:try_grab_folio', 'folio refcount <= 0 (overflow?)');
    if (this.#warns() - before > this.v.stats[C.GUP_WARN_REFCOUNT] - refcBefore) {
      this.warnOnce('mm/gup.c:gup_put_folio', 'unpinning a folio that holds no pin (pinsim leaves it untouched)');
    }
  }

  // Runs core work for a GUP entry point: refuses on a halted machine, halts
  // it on a core failure, and logs the WARNs the core counted.
  #watch<T>(fn: () => T, comm?: string): T {
    const before = this.#warns();
    const refc = this.v.stats[C.GUP_WARN_REFCOUNT];
    const r = this.guard(fn, comm);
    this.#reportWarns(before, refc);
    return r;
  }

  #slow(fn: string, target: Target, start: number, nr: number, flags: number, pages: PageArray | null,
    locked: Locked | null, toSet: number, failValue: number): number {
    const mm = this.#usual(target, start, nr, flags, pages) ? target.mm : this.#check(fn, target, start, nr, flags, pages);
    if (locked !== null && (typeof locked !== 'object' || typeof locked.value !== 'number')) {
      throw new TypeError(`${fn}: locked must be { value: number } or null`);
    }
    const pid = target instanceof Task ? target.pid : 0;
    let f = isValidGupArgs(this, fn, pages, locked, flags, toSet, pid);
    if (f === null) return failValue;
    if (f & this.#pinAsGet) f ^= C.FOLL_PIN | C.FOLL_GET;
    const n = nr < 0 ? Number.MAX_SAFE_INTEGER : nr;
    return this.#watch(() => gupLongtermLocked(this, mm, start, n, pages, 0, f), target instanceof Task ? target.name : undefined);
  }

  // The GUP-fast entry points, kept free of allocations: one page per call
  // is the case where the JS layer's cost shows. The common call (#usual()
  // arguments, flags is_valid_gup_args() passes unchanged, a range inside
  // user space) goes straight to the lockless walk; when that takes every
  // page nothing can have WARNed or freed a page, so no counters are read.
  #fast(fn: string, t: Task, start: number, nr: number, flags: number, pages: PageArray | null, toSet: number): number {
    if (!this.#usual(t, start, nr, flags, pages) || (flags & (toSet & C.FOLL_PIN ? PLAIN_PIN_FLAGS : PLAIN_GET_FLAGS)) !== flags
      || start < 0 || start + nr * PAGE > TASK_SIZE) {
      return this.#fastChecked(fn, t, start, nr, flags, pages, toSet);
    }
    let f = flags | toSet;
    if (f & this.#pinAsGet) f ^= C.FOLL_PIN | C.FOLL_GET;
    this.checkAlive();
    const mm = t.mm;
    if (f & C.FOLL_PIN) mm.hasPinned = true;
    const at = Math.floor(start * PER_PAGE); // untagged_addr(start) & PAGE_MASK, as a page number
    let fast: number;
    try {
      fast = this.core.gup_fast(mm.pgd, at, nr, f, pages!.offset);
    } catch (e) {
      throw this.crashed(e);
    }
    return fast === nr ? nr : this.#fastRest(t, at, nr, f, pages!, fast);
  }

  // Where the lockless walk stopped short of nr pages. Out of line, closure
  // and all: V8 inlines the whole entry into a caller's loop only while its
  // bytecode fits a budget.
  #fastRest(t: Task, at: number, nr: number, f: number, pa: PageArray, fast: number): number {
    return this.#watchFast(t, () => gupFastRest(this, t.mm, at * PAGE, nr, f, pa, fast));
  }

  // Any other GUP-fast call: precise errors for JS misuse, then
  // is_valid_gup_args() and gup_fast_fallback() in full.
  #fastChecked(fn: string, t: Task, start: number, nr: number, flags: number, pages: PageArray | null, toSet: number): number {
    const mm = this.#usual(t, start, nr, flags, pages) ? t.mm : this.#check(fn, t, start, nr, flags, pages);
    let f = isValidGupArgs(this, fn, pages, null, flags, toSet, t.pid);
    if (f === null) return -C.EINVAL;
    if (f & this.#pinAsGet) f ^= C.FOLL_PIN | C.FOLL_GET;
    this.checkAlive();
    return this.#watchFast(t, () => gupFastFallback(this, mm, start, nr, f, pages!, t.pid));
  }

  // Runs GUP-fast work that may WARN or free pages: halts the machine on a
  // core failure, then logs the WARNs and bad pages.
  #watchFast(t: Task, fn: () => number): number {
    const before = this.#warns();
    const refc = this.v.stats[C.GUP_WARN_REFCOUNT];
    const bads = this.v.stats[C.NR_BAD_PAGES];
    let r: number;
    try {
      r = fn();
    } catch (e) {
      throw this.crashed(e);
    }
    if (this.v.stats[C.NR_BAD_PAGES] !== bads) this.reportBadPages(t.name); // no name (an mm): swapper/0
    this.#reportWarns(before, refc);
    return r;
  }
}
