// The planner's report as text: the run call by call, the first failure,
// the smallest `ulimit -l`, and what CAP_IPC_LOCK changes.
import type { MemlockReport, ReportCall, ReportRun } from './index';

// KiB as a readable size: "6 GiB", "~6.01 GiB" when not a whole number
// of hundredths (rounded down, so a limit never reads larger than it is).
function size(n: number): string {
  const units: [string, number][] = [['TiB', 2 ** 30], ['GiB', 2 ** 20], ['MiB', 2 ** 10]];
  const u = units.find(([, f]) => n >= f);
  if (!u) return `${n} KiB`;
  const v = Math.floor((n / u[1]) * 100) / 100;
  return `${v * u[1] === n ? '' : '~'}${v} ${u[0]}`;
}

// KiB with the readable size beside it: "6307844 KiB (6.0 GiB)".
function kib(n: number): string {
  return n >= 1024 ? `${n} KiB (${size(n)})` : `${n} KiB`;
}

function ulimit(k: number | null): string {
  return k === null ? 'unlimited' : kib(k);
}

// A call's charges per counter and charger (devices of one kind summed:
// the JSON keeps them apart).
function charges(c: ReportCall): string {
  if (c.status === 'not run') return '';
  const sums = new Map<string, { counter: string; by: string; pages: number }>();
  for (const ch of c.charges) {
    const key = `${ch.counter} ${ch.by}`;
    const s = sums.get(key) ?? { counter: ch.counter, by: ch.by, pages: 0 };
    s.pages += ch.pages;
    sums.set(key, s);
  }
  if (sums.size === 0) return 'no charge';
  return [...sums.values()].map((s) => `${s.counter} ${s.pages > 0 ? '+' : ''}${s.pages} (${s.by})`).join(', ');
}

// Why a call failed, in the counter's words when a memlock check refused it.
function why(c: ReportCall): string {
  const e = c.error!;
  if (e.counter === undefined) return e.message;
  const check = e.counter === 'mm.total_vm'
    ? `${e.counter} is ${e.value} pages > limit ${e.limit} pages`
    : `${e.counter} is ${e.value} pages, +${e.requested} > limit ${e.limit} pages`;
  return `${e.code} from ${e.syscall}: ${check}`;
}

function counters(r: ReportRun): ReportCall['counters'] {
  return r.calls.filter((c) => c.status !== 'not run').at(-1)!.counters;
}

function firstFailure(r: ReportRun): string {
  const i = r.calls.findIndex((c) => c.error);
  return i < 0 ? 'passes' : `call ${i + 1} (${r.calls[i]!.call}) fails: ${why(r.calls[i]!)}`;
}

export function formatReport(r: MemlockReport, backend: string): string[] {
  const m = r.machine;
  const out = [
    `pinsim memlock: kernel ${m.kernel}, ${backend} core, a ${size(m.memory / 1024)} machine (thp ${m.thp}); `
      + `ulimit -l ${ulimit(r.run.ulimitKiB)}, ${r.run.cap ? 'with' : 'without'} CAP_IPC_LOCK`,
  ];
  if (m.scale > 1) {
    out.push(`  scaled: the plan needs more RAM than a run may boot, so it ran with every size ÷ ${m.scale} and every page count below × ${m.scale}; `
      + (m.exact ? 'exact (aligned buffers, sizes multiples of the scale)' : 'the counts are upper bounds (unaligned buffers, MSG_ZEROCOPY\'s +2 or part-used pages scale up too)'));
  }
  // Each call's result under the plan's ulimit, and what it charges when it
  // passes (the run at the smallest limit; the plan's own run without one).
  const passing = r.smallest.pass ?? r.run;
  const head = `at ulimit -l ${ulimit(r.run.ulimitKiB)}`;
  const w = Math.max(28, head.length);
  out.push('', `#  call                                  ${head.padEnd(w)} charges when it passes (pages)`);
  r.run.calls.forEach((c, i) => {
    const res = c.status === 'ok' ? 'ok' : c.status === 'not run' ? 'not run' : `fails: ${c.error!.code}`;
    out.push(`${String(i + 1).padEnd(2)} ${c.call.padEnd(37)} ${res.padEnd(w)} ${charges(passing.calls[i]!)}`.trimEnd());
    if (c.error) out.push(`     ${why(c)}`);
  });
  out.push(`counters after: ${Object.entries(counters(r.run)).map(([k, v]) => `${k} ${v}`).join(', ')} (pages)`, '');
  const s = r.smallest;
  if (s.ulimitKiB === null) {
    out.push(`no ulimit -l makes this plan pass: under a limit no plan reaches, ${firstFailure(s.blocker!)}`);
  } else {
    out.push(`smallest ulimit -l for the whole plan: ${kib(s.ulimitKiB)}, ${s.ulimitKiB / 4} pages (${s.runs} runs${s.proven ? '' : ', not proven smallest: the search stopped'})`);
    if (s.below) out.push(`  at ${ulimit(s.below.ulimitKiB)}: ${firstFailure(s.below)}`);
  }
  const cap = r.capIpcLock;
  out.push(`with CAP_IPC_LOCK at ulimit -l ${ulimit(cap.run.ulimitKiB)}: ${firstFailure(cap.run)}`);
  for (const c of cap.counters) {
    out.push(`  ${c.counter.padEnd(15)} ${String(c.with).padStart(10)} pages  ${c.verdict}${c.with !== c.without ? ` (without it: ${c.without})` : ''}`);
  }
  out.push('  (capable() is tested in the initial user namespace: root in a container without CAP_IPC_LOCK on the host is not exempt)');
  out.push(`${r.ms} ms`);
  return out;
}
