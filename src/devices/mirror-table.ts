// The HMM mirror device's page table (dmirror's xarray `pt`): for each
// virtual page it mirrors, the hmm_pfns word hmm_range_fault() gave it
// (pfn, HMM_PFN_VALID, HMM_PFN_WRITE). Kept in blocks of DMIRROR_BLOCK
// pages as u32 pairs (low, high), the layout of a BigUint64Array's buffer,
// so a fault's result is stored with one typed-array copy per block and an
// invalidation is one fill (or one delete) per block.
import * as C from '../../assembly/constants';

const BLOCK = C.DMIRROR_BLOCK;

export class MirrorTable {
  #blocks = new Map<number, Uint32Array>(); // vpn / BLOCK → 2 * BLOCK words

  // The high word of vpn's entry (0: none; C.HMM_PFN_VALID_HI / _WRITE_HI bits).
  hi(vpn: number): number {
    const b = this.#blocks.get(Math.floor(vpn / BLOCK));
    return b === undefined ? 0 : b[2 * (vpn % BLOCK) + 1]!;
  }

  // The pfn of vpn's entry (valid when hi(vpn) has HMM_PFN_VALID).
  pfn(vpn: number): number {
    return this.#blocks.get(Math.floor(vpn / BLOCK))![2 * (vpn % BLOCK)]!;
  }

  // dmirror_do_fault()'s xa_store()s: entries[i] becomes vpn + i's entry.
  store(vpn: number, entries: BigUint64Array): void {
    const words = new Uint32Array(entries.buffer, entries.byteOffset, entries.length * 2);
    for (let i = 0; i < entries.length;) {
      const v = vpn + i;
      const off = v % BLOCK;
      const n = Math.min(BLOCK - off, entries.length - i);
      let b = this.#blocks.get(Math.floor(v / BLOCK));
      if (b === undefined) this.#blocks.set(Math.floor(v / BLOCK), (b = new Uint32Array(2 * BLOCK)));
      b.set(words.subarray(2 * i, 2 * (i + n)), 2 * off);
      i += n;
    }
  }

  // dmirror_do_update(): drops the entries of [startVpn, endVpn).
  clear(startVpn: number, endVpn: number): void {
    const first = Math.floor(startVpn / BLOCK);
    const last = Math.ceil(endVpn / BLOCK); // exclusive
    // Visit whichever is fewer: the blocks the range covers or the blocks there are.
    const keys = last - first <= this.#blocks.size
      ? Array.from({ length: last - first }, (_, i) => first + i)
      : [...this.#blocks.keys()];
    for (const key of keys) {
      const b = this.#blocks.get(key);
      if (b === undefined) continue;
      const base = key * BLOCK;
      const lo = Math.max(startVpn, base);
      const hi = Math.min(endVpn, base + BLOCK);
      if (lo >= hi) continue;
      if (lo === base && hi === base + BLOCK) this.#blocks.delete(key);
      else b.fill(0, 2 * (lo - base), 2 * (hi - base));
    }
  }

  // The blocks in address order: [first vpn, entries as u32 pairs].
  blocks(): [number, Uint32Array][] {
    return [...this.#blocks].sort((a, b) => a[0] - b[0]).map(([key, b]) => [key * BLOCK, b]);
  }
}
