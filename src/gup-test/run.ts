// The user side of gup_test: tools/testing/selftests/mm/gup_test.c's main()
// and gup_thread() on a booted pinsim machine. No Node APIs: output goes
// through a callback and into the result.
import * as C from '../../assembly/constants';
import { boot, type BootOptions } from '../boot';
import type { Kernel } from '../devices/kernel';
import { SyscallError } from '../errors';
import { usageError } from '../usage';
import { gupTestIoctl, type GupTestIoctlResult } from './ioctl';
import {
  isBenchmark, machineFor, parseGupTestArgs, USAGE, type GupTestCmd, type GupTestOptions,
} from './options';

export interface GupTestRun extends GupTestIoctlResult {
  repeat: number;
  truncated: boolean; // gup.size != size
  lines: string[]; // what this ioctl printed (kernel log, then the tool's lines)
}

export interface GupTestResult {
  exitCode: 0 | 1;
  options: GupTestOptions;
  lines: string[]; // everything printed, in order
  runs: GupTestRun[]; // one per ioctl
  kernel: Kernel | null; // the machine, for inspection afterwards
  addr: number; // where the range was mapped (0 if mmap failed)
  error: string | null; // why the run stopped early (boot, mmap, pre-fault)
}

export interface GupTestHooks {
  out?: (line: string) => void; // each result line as it is printed
  err?: (line: string) => void; // "Bail out!" lines (default: out)
  bootOptions?: Partial<BootOptions>; // e.g. { wasm: 'debug' } in tests
  boot?: (opts: BootOptions) => Promise<Kernel>; // replaces boot()
  progress?: (done: number, total: number) => void; // after each timed ioctl
}

// What went wrong, without SyscallError's "CODE: syscall: " prefix doubling
// the caller's "syscall: ".
function why(e: unknown): string {
  if (!(e instanceof SyscallError)) return (e as Error).message;
  const prefix = `${e.code}: ${e.syscall}: `;
  return `${e.code}: ${e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message}`;
}

// "8.3 ns/page"; "n/a" when nothing was obtained.
function perPage(ns: number, pages: number): string {
  return pages > 0 ? `${(ns / pages).toFixed(1)} ns/page` : 'n/a';
}

function mapFlagNames(flags: number): string {
  const names: string[] = [];
  if ((flags & C.MAP_TYPE) === C.MAP_SHARED) names.push('MAP_SHARED');
  if ((flags & C.MAP_TYPE) === C.MAP_PRIVATE) names.push('MAP_PRIVATE');
  if (flags & C.MAP_ANONYMOUS) names.push('MAP_ANONYMOUS');
  if (flags & C.MAP_HUGETLB) names.push('MAP_HUGETLB');
  return names.join('|');
}

export function describeOptions(o: GupTestOptions): string {
  return `${o.cmd} ${o.size / 2 ** 20} MiB ${mapFlagNames(o.mapFlags)} gup_flags 0x${o.gupFlags.toString(16)}`
    + ` nr_pages_per_call ${o.nrPagesPerCall}${o.thp === 1 ? ' MADV_HUGEPAGE' : o.thp === 0 ? ' MADV_NOHUGEPAGE' : ''}`;
}

export async function runGupTest(o: GupTestOptions, hooks: GupTestHooks = {}): Promise<GupTestResult> {
  const lines: string[] = [];
  const print = (line: string) => {
    lines.push(line);
    hooks.out?.(line);
  };
  const result: GupTestResult = { exitCode: 0, options: o, lines, runs: [], kernel: null, addr: 0, error: null };
  const bail = (what: string, e: unknown): GupTestResult => {
    const msg = `${what}: ${why(e)}`;
    const line = `Bail out! ${msg}`; // ksft_exit_fail_msg()
    lines.push(line);
    (hooks.err ?? hooks.out)?.(line);
    result.error = msg;
    result.exitCode = 1;
    return result;
  };

  const m = machineFor(o);
  const bootOpts: BootOptions = {
    memory: m.memory, backend: o.backend, thp: o.thpMode, movable: o.movable, cma: o.cma, kernel: o.kernel,
    hugepages: m.hugepages2m ? { '2MiB': m.hugepages2m } : {}, ...hooks.bootOptions,
  };
  let k: Kernel;
  try {
    k = await (hooks.boot ?? boot)(bootOpts);
  } catch (e) {
    return bail('boot', e);
  }
  result.kernel = k;
  const t = k.spawn({ name: 'gup_test' });

  // p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, filed, 0);
  let addr: number;
  try {
    addr = t.mmap({ length: o.size, prot: C.PROT_READ | C.PROT_WRITE, flags: o.mapFlags });
  } catch (e) {
    return bail('mmap', e);
  }
  result.addr = addr;

  // gup_test.c ignores madvise()'s return value.
  try {
    if (o.thp === 1) t.madvise(addr, o.size, C.MADV_HUGEPAGE);
    else if (o.thp === 0) t.madvise(addr, o.size, C.MADV_NOHUGEPAGE);
  } catch { /* as in gup_test.c */ }

  // "Fault them in here, from user space": p[0] = 0 on every page, whatever -W says.
  try {
    t.touch(addr, o.size, { write: true });
  } catch (e) {
    return bail('pre-fault', e);
  }

  // One ioctl; a timed one reports its times (the kernel tool's lines, then
  // pinsim's ns/page for the *_BENCHMARK commands), a warm-up pass only what
  // the kernel side logged.
  const ioctl = (repeat: number, timed: boolean): GupTestRun => {
    const r = gupTestIoctl(k, t, o.cmd, {
      addr, size: o.size, nrPagesPerCall: o.nrPagesPerCall, gupFlags: o.gupFlags, testFlags: o.testFlags,
      whichPages: o.whichPages,
    });
    const run: GupTestRun = { ...r, repeat, truncated: r.size !== o.size, lines: [] };
    const say = (line: string) => {
      run.lines.push(line);
      print(line);
    };
    for (const line of r.log) say(line);
    if (r.error || r.verifyFailed) result.exitCode = 1;
    if (!timed) return run;
    if (isBenchmark(o.cmd)) {
      say(`${o.cmd}: Time: get:${r.getDeltaUsec} put:${r.putDeltaUsec} us${run.truncated ? `, truncated (size: ${r.size})` : ''}`);
      say(`  get ${perPage(r.getNs, r.nrPages)}, put ${perPage(r.putNs, r.nrPages)}`
        + ` (${k.backend} core, ${r.nrPages} pages, ${o.nrPagesPerCall} per call)`);
    } else {
      say(`${o.cmd}: done`);
      if (run.truncated) say(`Truncated (size: ${r.size})`);
    }
    result.runs.push(run);
    hooks.progress?.(result.runs.length, isBenchmark(o.cmd) ? o.repeats : 1);
    return run;
  };

  // gup_thread(): only the *_BENCHMARK commands repeat and report times;
  // pinsim runs them warm first (--warmup).
  if (isBenchmark(o.cmd)) {
    if (o.warmup > 0) print(`# warm-up: ${o.warmup} untimed pass${o.warmup > 1 ? 'es' : ''}`);
    for (let i = 0; i < o.warmup; i++) ioctl(i, false);
    for (let i = 0; i < o.repeats; i++) ioctl(i, true);
  } else {
    ioctl(0, true);
  }
  return result;
}

// `pinsim gup-test ARGS`: parse, run, and the exit status (0, 1, or 2 for
// bad usage). out gets the test's lines, err usage errors.
export async function gupTestMain(argv: readonly string[], out: (line: string) => void,
  err: (line: string) => void = out, hooks: Omit<GupTestHooks, 'out'> = {}): Promise<0 | 1 | 2> {
  const p = parseGupTestArgs(argv);
  if (!p.ok) {
    for (const line of usageError('gup-test', p.error)) err(line);
    return 2;
  }
  if (p.help) {
    out(USAGE);
    return 0;
  }
  try {
    return (await runGupTest(p.options, { ...hooks, out, err })).exitCode;
  } catch (e) {
    err(`pinsim gup-test: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

export type { GupTestCmd };
