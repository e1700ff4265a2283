// The fuzz's interval notifiers (family 'notifier'): subscriptions whose
// callbacks follow the driver contract and record every invalidation
// (event, range, seq) in a log that the lockstep runner compares between
// the cores with each op's result, and hmm_range_fault() through them.
import * as C from '../assembly/constants';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, type Kernel, type Task, type MmuIntervalNotifier } from '../src/index';

const PAGE = C.PAGE_SIZE;
// hmm requests: snapshot, fault, write fault, and per-entry (odd entries fault, every third writes).
const REQS = ['snapshot', 'fault', 'write', 'mixed'] as const;

export class Notifiers {
  readonly subs: { sub: MmuIntervalNotifier; id: number; task: Task }[] = [];
  #log: string[] = [];
  #next = 0;

  constructor(readonly k: Kernel) {}

  // What the callbacks recorded since the last call.
  drain(): string[] {
    return this.#log.splice(0);
  }

  insert(t: Task, start: number, pages: number): unknown {
    const id = this.#next++;
    const log = this.#log;
    const k = this.k;
    const sub = k.mmu_interval_notifier_insert(t.mm, start, pages * PAGE, {
      invalidate(s, r, seq) {
        log.push(`${id} ${r.event} ${r.start.toString(16)}-${r.end === 2 ** 64 ? 'max' : r.end.toString(16)} ${seq}`);
        k.mmu_interval_set_seq(s, seq);
        return true;
      },
      release() { log.push(`${id} release`); },
    });
    if (typeof sub === 'number') return sub;
    this.subs.push({ sub, id, task: t });
    return id;
  }

  remove(pick: number): unknown {
    if (this.subs.length === 0) return null;
    const [{ sub, id }] = this.subs.splice(pick % this.subs.length, 1);
    this.k.mmu_interval_notifier_remove(sub);
    return id;
  }

  // hmm_range_fault over [start, start + pages) of t through one of its
  // subscriptions (made first if it has none), retried on -EBUSY as a
  // driver does; the result and a digest of the entries.
  hmm(t: Task, pick: number, start: number, pages: number, req: number): unknown {
    const mine = this.subs.filter((s) => s.task === t);
    if (mine.length === 0) this.insert(t, start, pages);
    const s = mine.length ? mine[pick % mine.length] : this.subs[this.subs.length - 1];
    if (!s || s.task !== t) return null;
    const hmm_pfns = new BigUint64Array(pages);
    const kind = REQS[req % REQS.length];
    if (kind === 'mixed') for (let i = 1; i < pages; i += 2) hmm_pfns[i] = HMM_PFN_REQ_FAULT | (i % 3 ? 0n : HMM_PFN_REQ_WRITE);
    const default_flags = kind === 'fault' ? HMM_PFN_REQ_FAULT : kind === 'write' ? HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE : 0n;
    let ret = -C.EBUSY;
    for (let tries = 0; ret === -C.EBUSY && tries < 4; tries++) {
      ret = this.k.hmm_range_fault({
        notifier: s.sub, notifier_seq: this.k.mmu_interval_read_begin(s.sub), start, end: start + pages * PAGE,
        hmm_pfns, default_flags, pfn_flags_mask: kind === 'mixed' ? HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE : 0n,
      });
    }
    let h = 0;
    for (const e of hmm_pfns) h = (Math.imul(h, 31) + Number(e >> 32n) + Number(e & 0xffffffffn)) | 0;
    return { sub: s.id, ret, h };
  }
}
