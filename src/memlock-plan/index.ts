// The memlock planner: runs a plan at its ulimit, finds the smallest
// ulimit under which it passes, and runs it once more with CAP_IPC_LOCK.
// The report's page counts are the real plan's (a scaled run's counts
// multiplied back, see machineFor()). No Node APIs: the lab can use it.
import * as C from '../../assembly/constants';
import { describeCall, type Plan } from './plan';
import { runPlan, machineFor, COUNTERS, type CallResult, type Charge, type Counter, type Machine, type PlanRun, type RunOptions } from './run';
import { smallestLimit } from './search';

const PAGE_KIB = C.PAGE_SIZE / 1024;

export interface ReportCall {
  call: string; // "io_uring 64x256KiB unaligned"
  status: CallResult['status'];
  charges: Charge[];
  counters: Record<Counter, number>;
  // message: the syscall's own words (a scaled run's numbers); counter..limit: its memlock check, scaled back
  error?: { code: string; syscall: string; message: string; counter?: string; value?: number; requested?: number; limit?: number };
}

export interface ReportRun { ulimitKiB: number | null; cap: boolean; passed: boolean; calls: ReportCall[] }

export interface CapCounter { counter: Counter; without: number; with: number; verdict: 'not charged' | 'charged, not checked' | 'charged' | 'unused' }

export interface MemlockReport {
  machine: { memory: number; hugepages: Machine['hugepages']; kernel: string; thp: string; scale: number; exact: boolean };
  run: ReportRun; // at the plan's ulimit, with the plan's CAP_IPC_LOCK
  // The smallest `ulimit -l` (KiB) under which every call passes without CAP_IPC_LOCK.
  // pass: the run there (each call's charges when it passes); below: the run a page lower, which fails;
  // blocker: when no limit helps, the run under a limit no plan reaches.
  smallest: { ulimitKiB: number | null; runs: number; proven: boolean; pass: ReportRun | null; below: ReportRun | null; blocker: ReportRun | null };
  capIpcLock: { run: ReportRun; counters: CapCounter[] }; // the plan with CAP_IPC_LOCK at its ulimit
  ms: number;
}

function scaleRun(r: PlanRun, plan: Plan, scale: number): ReportRun {
  const x = (n: number): number => n * scale;
  return {
    ulimitKiB: r.limitPages === Infinity ? null : x(r.limitPages) * PAGE_KIB,
    cap: r.cap, passed: r.passed,
    calls: r.calls.map((c, i) => {
      const e = c.error;
      const m = e?.memlock;
      return {
        call: describeCall(plan.calls[i]!), status: c.status,
        charges: c.charges.map((ch) => ({ ...ch, pages: x(ch.pages) })),
        counters: Object.fromEntries(COUNTERS.map((k) => [k, x(c.counters[k])])) as Record<Counter, number>,
        ...(e ? { error: { code: e.code, syscall: e.syscall, message: e.message, ...(m ? { counter: m.counter, value: x(m.current), requested: x(m.requested), limit: x(m.limit) } : {}) } } : {}),
      };
    }),
  };
}

// Each counter with and without CAP_IPC_LOCK: which charges the capability
// skips, and which it only stops checking.
function capCounters(without: PlanRun, withCap: PlanRun, scale: number): CapCounter[] {
  const last = (r: PlanRun): Record<Counter, number> => r.calls.at(-1)!.counters;
  return (['mm.locked_vm', 'mm.pinned_vm', 'user.locked_vm'] as const).map((counter) => {
    const a = last(without)[counter] * scale;
    const b = last(withCap)[counter] * scale;
    const over = b > withCap.limitPages * scale;
    const verdict = a === 0 && b === 0 ? 'unused' : b === 0 ? 'not charged' : over ? 'charged, not checked' : 'charged';
    return { counter, without: a, with: b, verdict };
  });
}

// maxMachine: the largest machine a run boots (default MAX_RUN_BYTES); a
// plan that needs more runs scaled down (machineFor()).
export async function planMemlock(plan: Plan, opts: RunOptions & { maxMachine?: number } = {}): Promise<MemlockReport> {
  const t0 = Date.now();
  const machine = machineFor(plan, opts.maxMachine);
  const limit = plan.ulimit === Infinity ? Infinity : Math.floor(plan.ulimit / C.PAGE_SIZE / machine.scale);
  const first = await runPlan(plan, machine, limit, plan.capIpcLock, opts);
  const s = await smallestLimit(plan, machine, plan.capIpcLock ? null : first, opts);
  const withCap = plan.capIpcLock ? first : await runPlan(plan, machine, limit, true, opts);
  const scaled = (r: PlanRun | null): ReportRun | null => (r ? scaleRun(r, plan, machine.scale) : null);
  return {
    machine: { memory: machine.memory, hugepages: machine.hugepages, kernel: plan.kernel, thp: plan.thp, scale: machine.scale, exact: machine.exact },
    run: scaleRun(first, plan, machine.scale),
    smallest: { ulimitKiB: s.pages === null ? null : s.pages * machine.scale * PAGE_KIB, runs: s.runs, proven: s.proven, pass: scaled(s.pass), below: scaled(s.below), blocker: scaled(s.blocker) },
    capIpcLock: { run: scaleRun(withCap, plan, machine.scale), counters: capCounters(s.pass ?? s.blocker!, withCap, machine.scale) },
    ms: Date.now() - t0,
  };
}

export { parsePlan, parseCountSize, parseUlimit, describeCall, showBytes, PlanError, KINDS, type Plan, type PlanCall, type CallKind } from './plan';
export { MAX_RUN_BYTES, type Machine, type Charge, type Counter } from './run';
