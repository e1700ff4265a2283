// The smallest RLIMIT_MEMLOCK under which the whole plan passes, found by
// running the plan again with candidate limits (whole pages: the kernel
// only ever compares rlim_cur >> PAGE_SHIFT). A bisection, sped up by what
// a refused call says: its memlock detail names the smallest limit under
// which *that* call passes, so every limit below it fails too (the calls
// before it passed with less and charge the same under any limit that lets
// them pass). Deterministic: the same plan gives the same runs.
import type { Plan } from './plan';
import { runPlan, type Machine, type PlanRun, type RunOptions } from './run';

const PAGE_KIB = 4;
// A limit no plan reaches (2^40 pages, 4 PiB), finite so that MSG_ZEROCOPY's
// RLIM_INFINITY shortcut does not hide its charges.
export const HUGE_PAGES = 2 ** 40;
const MAX_RUNS = 64;

export interface Search {
  pages: number | null; // the smallest limit in pages (scaled machine); null: no limit makes the plan pass
  pass: PlanRun | null; // the run at that limit
  below: PlanRun | null; // the run one page below it (it fails), when that limit is not negative
  blocker: PlanRun | null; // with pages null: the run that fails under a limit no plan reaches
  runs: number; // plan runs the search made, the first one included
  proven: boolean; // a run passed at pages and one failed a page below (false: the search gave up after MAX_RUNS)
}

// The first failure's memlock detail, as a lower bound in pages.
function needs(r: PlanRun): number | null {
  const f = r.calls.find((c) => c.error)?.error?.memlock;
  return f ? f.minUlimitKiB / PAGE_KIB : null;
}

// Without CAP_IPC_LOCK (with it every check passes). first: a run already
// made without it (the plan's own), or null.
export async function smallestLimit(plan: Plan, machine: Machine, first: PlanRun | null, opts: RunOptions = {}): Promise<Search> {
  const seen = new Map<number, PlanRun>(first ? [[first.limitPages, first]] : []);
  const run = async (pages: number): Promise<PlanRun> => {
    let r = seen.get(pages);
    if (!r) seen.set(pages, (r = await runPlan(plan, machine, pages, false, opts)));
    return r;
  };
  let lo = -1; // the largest limit known to fail
  let hi: number | null = null; // the smallest limit known to pass
  let hint: number | null = null; // a passing run's peak: usually the answer
  const learn = (r: PlanRun): void => {
    if (r.passed) {
      hi = Math.min(hi ?? Infinity, r.limitPages);
      hint = Math.max(1, r.peak);
      return;
    }
    lo = Math.max(lo, r.limitPages, (needs(r) ?? 0) - 1);
  };
  if (first && first.limitPages !== Infinity) learn(first);
  if (hi === null) {
    const top = await run(HUGE_PAGES);
    if (!top.passed) return { pages: null, pass: null, below: null, blocker: top, runs: seen.size, proven: true };
    learn(top);
  }
  // The peak, then one below it; after that alternately what the last
  // failure said it needs and a bisection. (A peak is not always enough:
  // mlock checks the pages of a hugetlb range it then does not count.)
  let guided = false;
  let probe = false; // the last candidate was a peak that passed: try one page less
  while (hi! - lo > 1 && seen.size < MAX_RUNS) {
    let c: number;
    if (hint !== null && hint > lo && hint < hi!) {
      c = hint;
    } else if (probe) {
      c = hi! - 1;
    } else {
      guided = !guided && !seen.has(lo + 1);
      c = guided ? lo + 1 : Math.floor((lo + hi!) / 2);
    }
    const wasHint = c === hint;
    hint = null;
    const r = await run(c);
    learn(r);
    probe = wasHint && r.passed;
  }
  const pass = seen.get(hi!)!;
  const below = lo >= 0 ? await run(lo) : null;
  return { pages: hi, pass, below, blocker: null, runs: seen.size, proven: hi! - lo === 1 };
}
