// MMU interval notifiers (mm/mmu_notifier.c): a per-mm interval tree of
// subscriptions and the even/odd invalidate_seq protocol. The mm calls
// notify() before it changes page-table entries of a range; every
// subscription overlapping it has its invalidate() called first.
//
// pinsim is single-threaded, so the kernel's sleeps can only be reached
// re-entrantly, from an invalidate() callback: read_begin() on an interval
// being invalidated, or remove() while any interval of the mm is, would
// wait for the invalidation the caller is running inside. Both throw
// EDEADLK instead of changing anything. insert() from a callback is
// deferred to the end of the invalidation, as the kernel defers it.
import * as C from '../../assembly/constants';
import { fail } from '../errors';
import { IntervalTree } from './interval-tree';
import type { Mm } from './mm';

// struct mmu_notifier_range (minus mm).
export interface MmuNotifierRange {
  readonly start: number;
  readonly end: number; // exclusive; 2 ** 64 stands for ULONG_MAX
  readonly event: number; // MMU_NOTIFY_*
  readonly flags: number; // MMU_NOTIFIER_RANGE_BLOCKABLE
  readonly owner: unknown;
}

// struct mmu_interval_notifier_ops, plus a `release` pinsim calls once at
// exit, after the RELEASE invalidation (the classic notifiers' ->release).
export interface MmuIntervalNotifierOps {
  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, cur_seq: number): boolean;
  release?(sub: MmuIntervalNotifier): void;
}

// What the subscriptions need from their machine.
export interface NotifierHost {
  warnOnce(site: string, why: string, pid?: number): void;
}

// struct mmu_interval_notifier.
export class MmuIntervalNotifier {
  /** @internal */ invalidateSeq = 0;
  /** @internal */ inTree = false;

  /** @internal */
  constructor(
    /** @internal */ readonly subs: MmuNotifierSubscriptions,
    readonly mm: Mm,
    readonly start: number,
    readonly last: number, // start + length - 1, as the kernel keeps it
    readonly ops: MmuIntervalNotifierOps,
  ) {}
}

// struct mmu_notifier_subscriptions: created by the first insert on an mm
// (mm_has_notifiers() from then on), kept for the mm's life.
export class MmuNotifierSubscriptions {
  #tree = new IntervalTree<MmuIntervalNotifier>();
  #seq = 2; // even: idle
  #active = 0; // active_invalidate_ranges
  #deferred: MmuIntervalNotifier[] = [];

  constructor(readonly host: NotifierHost) {}

  // mmu_interval_notifier_insert(): the caller has checked the arguments.
  static subscribe(host: NotifierHost, mm: Mm, start: number, length: number, ops: MmuIntervalNotifierOps): MmuIntervalNotifier {
    const subs = (mm.notifierSubscriptions ??= new MmuNotifierSubscriptions(host));
    const sub = new MmuIntervalNotifier(subs, mm, start, start + length - 1, ops);
    subs.insert(sub);
    return sub;
  }

  get invalidating(): boolean { return (this.#seq & 1) === 1; }

  // mmu_interval_notifier_insert_locked()'s tree part.
  insert(sub: MmuIntervalNotifier): void {
    if (this.#active) {
      if (this.invalidating) this.#deferred.push(sub);
      else {
        this.#seq |= 1;
        this.#add(sub);
      }
      sub.invalidateSeq = this.#seq;
    } else {
      sub.invalidateSeq = this.#seq - 1; // odd, never the mm's current value
      this.#add(sub);
    }
  }

  remove(sub: MmuIntervalNotifier): void {
    if (this.invalidating) {
      throw fail('mmu_interval_notifier_remove', C.EDEADLK,
        'called while an invalidation of this mm runs (from an invalidate callback): the kernel would wait forever');
    }
    if (sub.inTree) this.#tree.remove(sub);
    sub.inTree = false;
  }

  readBegin(sub: MmuIntervalNotifier): number {
    if (sub.invalidateSeq === this.#seq && this.invalidating) {
      throw fail('mmu_interval_read_begin', C.EDEADLK,
        'the interval is being invalidated (called from its invalidate callback): the kernel would wait forever');
    }
    return sub.invalidateSeq;
  }

  #add(sub: MmuIntervalNotifier): void {
    this.#tree.insert(sub);
    sub.inTree = true;
  }

  // mmu_notifier_invalidate_range_start() + _end() around nothing: pinsim
  // makes the change after both (nothing can run in between).
  invalidate(range: MmuNotifierRange, site: string): void {
    this.#active++;
    try {
      for (const sub of this.#tree.overlapping(range.start, range.end - 1)) {
        this.#seq |= 1;
        if (!sub.ops.invalidate(sub, range, this.#seq)) {
          // Only a non-blockable range may be refused; every pinsim range is blockable.
          this.host.warnOnce('mm/mmu_notifier.c:mn_itree_invalidate', `invalidate() returned false for a blockable range (${site})`);
        }
      }
    } finally {
      this.#end();
    }
  }

  // mn_itree_inv_end(): the last active range makes the seq even again and
  // applies the deferred inserts.
  #end(): void {
    if (--this.#active || !this.invalidating) return;
    this.#seq++;
    for (const sub of this.#deferred.splice(0)) this.#add(sub);
  }

  // mn_itree_release() at exit: a RELEASE invalidation of everything, then
  // pinsim's ->release for each subscription.
  release(): void {
    const all = this.#tree.overlapping(0, 2 ** 64);
    this.invalidate({ start: 0, end: 2 ** 64, event: C.MMU_NOTIFY_RELEASE, flags: C.MMU_NOTIFIER_RANGE_BLOCKABLE, owner: null }, 'exit_mmap');
    for (const sub of all) sub.ops.release?.(sub);
  }
}
