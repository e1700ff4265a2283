// An interval tree (lib/interval_tree.c's job) over closed intervals
// [start, last]: a sorted array read as an implicit balanced tree whose
// nodes carry the largest `last` below them, rebuilt on the first query
// after a change. Queries cost O(log n + hits) and return the hits in
// start order (insertion order among equal starts), as the kernel's
// interval_tree_iter_first()/next() visit them.
export interface Interval {
  readonly start: number;
  readonly last: number;
}

export class IntervalTree<T extends Interval> {
  #items: T[] = [];
  #maxLast: number[] = [];
  #stale = false;

  get size(): number { return this.#items.length; }

  insert(item: T): void {
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#items[mid].start <= item.start) lo = mid + 1;
      else hi = mid;
    }
    this.#items.splice(lo, 0, item);
    this.#stale = true;
  }

  remove(item: T): boolean {
    const i = this.#items.indexOf(item);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    this.#stale = true;
    return true;
  }

  // Every interval meeting [start, last].
  overlapping(start: number, last: number): T[] {
    if (this.#stale) this.#build(0, this.#items.length);
    this.#stale = false;
    const out: T[] = [];
    this.#visit(0, this.#items.length, start, last, out);
    return out;
  }

  #build(lo: number, hi: number): number {
    if (lo >= hi) return -Infinity;
    const mid = (lo + hi) >>> 1;
    const m = Math.max(this.#items[mid].last, this.#build(lo, mid), this.#build(mid + 1, hi));
    this.#maxLast[mid] = m;
    return m;
  }

  #visit(lo: number, hi: number, start: number, last: number, out: T[]): void {
    if (lo >= hi) return;
    const mid = (lo + hi) >>> 1;
    if (this.#maxLast[mid] < start) return;
    this.#visit(lo, mid, start, last, out);
    const it = this.#items[mid];
    if (it.start > last) return; // so does everything to its right
    if (it.last >= start) out.push(it);
    this.#visit(mid + 1, hi, start, last, out);
  }
}
