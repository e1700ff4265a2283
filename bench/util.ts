// Small helpers for the benchmark suite: a seeded PRNG, an order-sensitive
// hash of numbers (to compare long result streams between the two cores
// without keeping them), and formatting.

// mulberry32: a small, fast, seedable 32-bit PRNG. Both cores are driven by
// the same sequence because the same seed produces the same numbers.
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  // A uniform 32-bit unsigned integer.
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  // An integer in [0, n).
  below(n: number): number {
    return this.u32() % n;
  }
}

// FNV-1a over 32-bit words. add() takes any safe integer (addresses above
// 2^32, negative errnos) and null.
export class Hash {
  #h = 0x811c9dc5;
  count = 0;

  #word(w: number): void {
    let h = this.#h;
    for (let i = 0; i < 4; i++) {
      h ^= (w >>> (i * 8)) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
    this.#h = h;
  }

  add(v: number | null): this {
    this.count++;
    if (v === null) {
      this.#word(0xdeadbeef);
      return this;
    }
    this.#word(v | 0);
    this.#word(Math.floor(v / 2 ** 32) | 0);
    return this;
  }

  addAll(a: ArrayLike<number>): this {
    for (let i = 0; i < a.length; i++) this.add(a[i]);
    return this;
  }

  get value(): string {
    return `${(this.#h >>> 0).toString(16).padStart(8, '0')}/${this.count}`;
  }
}

// Formats a measurement with about 3 significant digits.
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// Renders rows of strings as an aligned text table; columns whose header
// starts with '>' are right-aligned (the '>' is dropped).
export function table(headers: string[], rows: string[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const hs = headers.map((h) => (h.startsWith('>') ? h.slice(1) : h));
  const w = hs.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(hs), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}
