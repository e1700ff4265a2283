// An independent model of memory contents, one per machine under test:
// what every user read, pread() and the end-of-file checks must give.
//
// What it covers: one word per 4 KiB page (pinsim's contents model).
// Private anonymous memory reads 0 until written; a write stores the word
// for (task, virtual page); fork copies the parent's words into the child;
// munmap, a new mapping over a range, MADV_DONTNEED of private memory and
// exit forget them. Shared mappings (files, shared anonymous memory,
// hugetlbfs files) read and write the file's word, as pread()/pwrite() do.
// A MAP_PRIVATE file mapping sees the file's word until its page is copied
// on write (hugetlbfs too: hugetlb_no_page() maps the cached folio, or a
// fresh zeroed one where the file has none). A file access at or past EOF is
// SIGBUS, for private mappings too; truncation drops the file's words and
// the private copies beyond the new EOF. A device write into a page held
// by a FOLL_WRITE pin changes what the mapping task (or the file, for a
// page-cache frame) reads.
//
// What it takes from the machine instead of predicting: the VMA layout
// (checked by the overlap and ordering invariants in fuzz/machine.ts), and
// WHEN a private file page stopped being the page-cache page (a COW break
// by a write fault, touch, populate or a GUP): just before a file page's
// word changes, every private mapping of that page whose frame is anon is
// given the old word. Where an op fails half-way and the model cannot know
// what is left (a failed munmap or MAP_FIXED mmap), it
// forgets the task: reads there are no longer checked. Reads that fail
// with ENOMEM, or SIGBUS in a hugetlb VMA (empty pool), are accepted.
import * as C from '../assembly/constants';
import type { Kernel, Task, SimFile } from '../src/index';
import type { Vma } from '../src/mm/vma';
import { TASK_SIZE } from '../src/mm/mm';

const PAGE = C.PAGE_SIZE;

export type Expect = { value: number } | { code: 'SIGSEGV' | 'SIGBUS' } | null; // null: unknown

export class ContentModel {
  readonly #priv = new Map<number, Map<number, number>>(); // pid -> virtual page -> word
  readonly #words = new Map<number, Map<number, number>>(); // file id -> page index -> word
  readonly #pages = new Map<number, number>(); // file id -> size in pages
  readonly #forgotten = new Set<number>();

  constructor(readonly k: Kernel) {}

  #privOf(t: Task): Map<number, number> {
    let m = this.#priv.get(t.pid);
    if (!m) this.#priv.set(t.pid, (m = new Map()));
    return m;
  }

  #size(f: SimFile): number {
    let n = this.#pages.get(f.id);
    if (n === undefined) this.#pages.set(f.id, (n = f.pages)); // first sight (a new shared anon object)
    return n;
  }

  word(f: SimFile, idx: number): number {
    return this.#words.get(f.id)?.get(idx) ?? 0;
  }

  // ---- expectations ----

  #where(t: Task, addr: number): { v: Vma; vpn: number; idx: number } | null {
    if (addr < 0 || addr >= TASK_SIZE) return null;
    const v = t.mm.vmaAt(addr);
    if (!v) return null;
    const vpn = Math.floor(addr / PAGE);
    return { v, vpn, idx: v.pgoff + vpn - v.start / PAGE };
  }

  expect(t: Task, addr: number, write: boolean): Expect {
    const w = this.#where(t, addr);
    if (!w) return { code: 'SIGSEGV' };
    const ok = write ? w.v.flags & C.VM_WRITE : w.v.flags & (C.VM_READ | C.VM_WRITE | C.VM_EXEC);
    if (!ok) return { code: 'SIGSEGV' };
    if (w.v.file && w.idx >= this.#size(w.v.file)) return { code: 'SIGBUS' };
    if (this.#forgotten.has(t.pid)) return null;
    if (write) return { value: 0 };
    if (w.v.isShared && w.v.file) return { value: this.word(w.v.file, w.idx) };
    const own = this.#priv.get(t.pid)?.get(w.vpn);
    if (own !== undefined) return { value: own };
    return { value: w.v.file ? this.word(w.v.file, w.idx) : 0 };
  }

  // A failure the machine may give where the model expects success.
  tolerated(t: Task, addr: number, code: string): boolean {
    return code === 'ENOMEM' || (code === 'SIGBUS' && !!t.mm.vmaAt(addr)?.isHugetlb);
  }

  preadExpect(f: SimFile, idx: number): number | null {
    return idx >= this.#size(f) ? null : this.word(f, idx);
  }

  // ---- changes ----

  wrote(t: Task, addr: number, word: number): void {
    const w = this.#where(t, addr)!;
    if (w.v.isShared && w.v.file) this.fileWrite(w.v.file, w.idx, word);
    else this.#privOf(t).set(w.vpn, word);
  }

  pwrote(f: SimFile, idx: number, word: number): void {
    if (idx >= this.#size(f)) this.#pages.set(f.id, idx + 1);
    this.fileWrite(f, idx, word);
  }

  fileWrite(f: SimFile, idx: number, word: number): void {
    this.#freezeCopies(f, idx);
    let m = this.#words.get(f.id);
    if (!m) this.#words.set(f.id, (m = new Map()));
    m.set(idx, word);
  }

  // Private mappings of (f, idx) whose page was copied on write keep the
  // word the file has now.
  #freezeCopies(f: SimFile, idx: number): void {
    for (const t of this.k.tasks) {
      for (const v of t.mm.vmas) {
        if (v.file !== f || v.isShared || idx < v.pgoff || idx >= v.pgoff + v.pages) continue;
        const vpn = v.start / PAGE + idx - v.pgoff;
        const own = this.#privOf(t);
        if (own.has(vpn)) continue;
        const pfn = t.translate(vpn * PAGE);
        if (pfn !== null && this.k.v.flags[this.k.v.head[pfn]] & C.PG_anon) own.set(vpn, this.word(f, idx));
      }
    }
  }

  // A new mapping, munmap, or MADV_DONTNEED of private memory: the range
  // reads as fresh again. hugetlb ranges are dropped where nothing is
  // mapped any more (the machine chooses the huge-page rounding).
  cleared(t: Task, addr: number, len: number, onlyPrivate = false): void {
    const own = this.#priv.get(t.pid);
    if (!own) return;
    const first = Math.floor(addr / PAGE);
    const end = Math.ceil((addr + len) / PAGE);
    for (const vpn of [...own.keys()]) {
      if (vpn < first || vpn >= end) continue;
      const v = t.mm.vmaAt(vpn * PAGE);
      if (onlyPrivate && v?.isShared) continue;
      if (onlyPrivate && v?.isHugetlb && t.translate(vpn * PAGE) !== null) continue;
      own.delete(vpn);
    }
  }

  hugetlbCleared(t: Task, addr: number, len: number): void {
    const H = 2 << 20;
    const start = Math.floor(addr / H) * H;
    this.cleared(t, start, Math.ceil((addr + len) / H) * H - start, true);
  }

  truncated(f: SimFile, pages: number): void {
    this.#pages.set(f.id, pages);
    const m = this.#words.get(f.id);
    if (m) for (const idx of [...m.keys()]) if (idx >= pages) m.delete(idx);
    for (const t of this.k.tasks) {
      const own = this.#priv.get(t.pid);
      if (!own) continue;
      for (const v of t.mm.vmas) {
        if (v.file !== f || v.isShared) continue;
        for (const vpn of [...own.keys()]) {
          const idx = v.pgoff + vpn - v.start / PAGE;
          if (vpn * PAGE >= v.start && vpn * PAGE < v.end && idx >= pages) own.delete(vpn);
        }
      }
    }
  }

  forked(parent: Task, child: Task): void {
    this.#priv.set(child.pid, new Map(this.#priv.get(parent.pid)));
    if (this.#forgotten.has(parent.pid)) this.#forgotten.add(child.pid);
  }

  exited(t: Task): void {
    this.#priv.delete(t.pid);
  }

  forget(t: Task): void {
    this.#forgotten.add(t.pid);
  }

  // k.dma_write(pfn, word) into a frame the fuzz pinned (or, as drivers did
  // before pins, got) with FOLL_WRITE at addr of t: a page-cache frame
  // changes its file's page; an anon frame changes what every task that
  // still maps it at addr reads: t, and the children a fork shared it with
  // (fork copies a maybe-pinned page only from 5.9, a got one never).
  dma(t: Task, addr: number, pfn: number, word: number): void {
    const v = this.k.v;
    const head = v.head[pfn];
    const f = v.flags[head] & C.PG_anon ? undefined : this.k.files.find((x) => x.id === v.mapping[head]);
    if (f) {
      const idx = v.index[head] + pfn - head;
      if (fileFrame(this.k, f, idx) === pfn && idx < this.#size(f)) this.fileWrite(f, idx, word);
      return;
    }
    for (const x of this.k.tasks) {
      if (x.translate(addr) === pfn && !x.mm.vmaAt(addr)?.isShared) this.#privOf(x).set(Math.floor(addr / PAGE), word);
    }
  }
}

// The frame holding page idx of f in the page cache, or -1.
export function fileFrame(k: Kernel, f: SimFile, idx: number): number {
  if (f.fs !== 'hugetlbfs') return k.core.pc_lookup(f.id, idx);
  const span = 2 ** f.hugeOrder;
  const head = k.core.pc_lookup(f.id, idx - (idx % span));
  return head < 0 ? -1 : head + (idx % span);
}
