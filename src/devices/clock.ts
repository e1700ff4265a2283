// The machine's simulated clock, in nanoseconds, and its queue of pending
// device completions. Nothing runs on its own: k.advance(ns) moves time and
// runs what falls due, k.settle() runs everything pending. Completions run
// in time order, ties in the order they were scheduled, so a run is
// deterministic.

// One scheduled completion; cancel() with the clock that made it.
export interface Pending {
  readonly at: number; // ns
  readonly what: string; // a label for listings ('io_uring 3: read_fixed')
}

interface Entry extends Pending {
  readonly seq: number;
  readonly fn: () => void;
}

// A completion that schedules another forever would make settle() spin:
// it stops after this many and says so.
export const SETTLE_LIMIT = 1_000_000;

export class SimClock {
  #now = 0;
  #seq = 0;
  #queue: Entry[] = []; // sorted by (at, seq)

  now(): number { return this.#now; }

  // Runs fn `delay` ns from now (0: at the next advance or settle).
  schedule(delay: number, what: string, fn: () => void): Pending {
    const e: Entry = { at: this.#now + checkNs('delay', delay), what, seq: this.#seq++, fn };
    // Insert after every entry due at or before e.at (ties keep submission order).
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid].at <= e.at) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, e);
    return e;
  }

  // Drops a completion that has not run; false if it already ran or was cancelled.
  cancel(p: Pending): boolean {
    const i = this.#queue.indexOf(p as Entry);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    return true;
  }

  // Moves time forward by ns, running every completion due by then at its
  // own time; returns how many ran.
  advance(ns: number): number {
    const until = this.#now + checkNs('ns', ns);
    const ran = this.#run(until);
    this.#now = until;
    return ran;
  }

  // Runs every pending completion (and those they schedule) in time order;
  // time ends at the last one's. Returns how many ran.
  settle(): number {
    return this.#run(Infinity);
  }

  // What is pending, soonest first.
  pending(): Pending[] {
    return this.#queue.map(({ at, what }) => ({ at, what }));
  }

  #run(until: number): number {
    let ran = 0;
    while (this.#queue.length && this.#queue[0].at <= until) {
      if (ran === SETTLE_LIMIT) throw new RangeError(`clock: ${SETTLE_LIMIT} completions ran without the queue emptying (a completion that reschedules itself forever?); next: ${this.#queue[0].what}`);
      const e = this.#queue.shift()!;
      this.#now = e.at;
      ran++;
      e.fn();
    }
    return ran;
  }
}

function checkNs(what: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number of nanoseconds, got ${typeof v}`);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer (ns), got ${v}`);
  return v;
}
