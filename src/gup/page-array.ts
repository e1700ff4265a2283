// PageArray: the `struct page **pages` of a GUP call. Its entries live in
// the core's page-array arena, so the core writes pfns straight into them;
// JS reads them through `pfns`, a view of the arena. NULL is -1.
export class PageArray {
  #arena: PageArenaAllocator | null; // the root's: null once freed
  readonly #root: PageArray; // this, or the array a subarray was taken from
  /** @internal The root's write epoch: bumped whenever the entries may have
   * changed behind the core's GUP calls (the pfns view handed out, free()),
   * and by provenance before each tracked GUP call into it. A record that saw
   * the same epoch at release still holds the same pfns (src/debug/provenance.ts). */
  epoch = 0;

  /** @internal Made by the Kernel, not by users. */
  constructor(arena: PageArenaAllocator, readonly offset: number, readonly length: number, root: PageArray | null = null) {
    this.#arena = arena;
    this.#root = root ?? this;
  }

  // `pages + start`: entries [start, end) as a PageArray of their own, for
  // GUP calls to fill. It shares this array's storage and goes with it.
  subarray(start: number, end: number = this.length): PageArray {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > this.length) {
      throw new RangeError(`subarray(${start}, ${end}) is outside a PageArray of ${this.length}`);
    }
    return new PageArray(this.#live(), this.offset + start, end - start, this.#root);
  }

  // The pfns, as a view of the arena (valid until free()).
  get pfns(): Int32Array {
    const view = this.#live().view;
    this.#root.epoch++; // writable: whoever holds it may change the entries
    return view.subarray(this.offset, this.offset + this.length);
  }

  /** @internal The array the storage belongs to (this, or the one a subarray was taken from). */
  get root(): PageArray { return this.#root; }

  get(i: number): number | null {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`PageArray index ${i} out of range`);
    const pfn = this.#live().view[this.offset + i];
    return pfn < 0 ? null : pfn;
  }

  toArray(): (number | null)[] {
    return Array.from(this.#live().view.subarray(this.offset, this.offset + this.length), (p) => (p < 0 ? null : p));
  }

  // Gives the entries back to the arena (the pins stay: unpin first).
  free(): void {
    if (this.#root !== this) throw new TypeError('free() the PageArray this one was taken from');
    if (!this.#arena) throw new TypeError('PageArray.free(): this PageArray was already freed');
    this.#arena.release(this);
    this.#arena = null;
    this.epoch++;
  }

  get freed(): boolean { return this.#root.#arena === null; }

  // Is this a live array of that arena? (Checked on every GUP call: one load
  // through the root.)
  livesIn(arena: PageArenaAllocator): boolean {
    return this.#root.#arena === arena;
  }

  #live(): PageArenaAllocator {
    const arena = this.#root.#arena;
    if (!arena) throw new TypeError('PageArray used after free()');
    return arena;
  }
}

// First-fit allocation of arena ranges (per array, never per page).
export class PageArenaAllocator {
  #free: [number, number][]; // [offset, length], sorted, coalesced

  constructor(readonly view: Int32Array) {
    this.#free = [[0, view.length]];
  }

  allocate(n: number): PageArray {
    const i = this.#free.findIndex(([, len]) => len >= n);
    if (i < 0) throw new RangeError(`pageArray(${n}): the page-array arena (${this.view.length} entries) is full`);
    const [off, len] = this.#free[i];
    if (len === n) this.#free.splice(i, 1);
    else this.#free[i] = [off + n, len - n];
    this.view.fill(-1, off, off + n);
    return new PageArray(this, off, n);
  }

  release(pa: PageArray): void {
    const f = this.#free;
    let i = 0;
    while (i < f.length && f[i][0] < pa.offset) i++;
    f.splice(i, 0, [pa.offset, pa.length]);
    for (let j = Math.max(0, i - 1); j + 1 < f.length && j <= i;) {
      if (f[j][0] + f[j][1] === f[j + 1][0]) {
        f[j][1] += f[j + 1][1];
        f.splice(j + 1, 1);
      } else {
        j++;
      }
    }
  }
}
