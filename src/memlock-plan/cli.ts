// `pinsim memlock`: a plan from flags (in their order) or from a JSON file,
// run on pinsim; the report as text or JSON. Node only: it reads the file.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { usageError } from '../usage';
import { PRESETS, ALIASES } from '../eras/presets';
import { planMemlock, parsePlan, parseCountSize, PlanError } from './index';
import type { PlanRun } from './run';
import type { ProgressStream } from '../progress';
import { formatReport } from './format';

export const MEMLOCK_USAGE = `usage: pinsim memlock [<plan.json>] [<calls>] [--ulimit <size>] [--cap-ipc-lock]
                      [--kernel <preset>] [--thp always|madvise|never] [--backend wasm|ts] [--json]
Runs what a program will pin or lock on a pinsim machine, call by call, and
says which memlock counter each call charged, the first call RLIMIT_MEMLOCK
refuses, the smallest 'ulimit -l' under which the whole plan passes (found
by running it again), and what CAP_IPC_LOCK changes.
calls, made in the order given ([N x]SIZE: N buffers of SIZE, e.g. 64x256KiB):
  --rdma NxSIZE       N RDMA MRs (ibv_reg_mr): mm->pinned_vm, checked
  --io-uring NxSIZE   one io_uring, N fixed buffers: user->locked_vm (checked) + pinned_vm
  --vfio [N x]SIZE    N VFIO containers each mapping the same SIZE of guest RAM: mm->locked_vm
  --iommufd [N x]SIZE N IOASes each mapping the same SIZE: user->locked_vm + pinned_vm
  --xdp NxSIZE        N AF_XDP UMEMs: user->locked_vm
  --zerocopy NxSIZE   N MSG_ZEROCOPY sends in flight: user->locked_vm, (SIZE >> 12) + 2 each
  --mlock NxSIZE      N mlock() calls: mm->locked_vm
  --mlockall          mlockall(MCL_CURRENT | MCL_FUTURE): total_vm checked, then mm->locked_vm
  after a call:  --unaligned (buffers start 1 KiB into a page), --hugepages thp|2MiB|1GiB,
                 --compat (iommufd through /dev/vfio/vfio: mm->locked_vm)
machine:
  --ulimit SIZE       RLIMIT_MEMLOCK: 64KiB, 8MiB (default), unlimited, or KiB as ulimit -l takes it
  --cap-ipc-lock      the program holds CAP_IPC_LOCK
  --kernel K          ${[...PRESETS, ...ALIASES].join(', ')} (default latest)
  --thp MODE          transparent_hugepage/enabled (default madvise)
  --backend wasm|ts   the core (default wasm)
  --json              the report as JSON
  -h, --help          this text
plan.json: {"ulimit": "8MiB", "capIpcLock": false, "kernel": "latest", "thp": "madvise",
  "calls": [{"kind": "io_uring", "count": 64, "size": "256KiB", "unaligned": true},
            {"kind": "vfio", "size": "4GiB", "count": 2, "hugepages": "1GiB"},
            {"kind": "mlockall", "flags": ["MCL_CURRENT", "MCL_FUTURE"]}, ...]}
  (kinds: rdma, io_uring, vfio, iommufd, xdp, zerocopy, mlock, mlockall; iommufd takes "compat")
exit status: 0 when the plan passes under its ulimit, 1 when it does not, 2 on bad usage`;

const CALL_FLAGS: Record<string, string> = {
  rdma: 'rdma', 'io-uring': 'io_uring', vfio: 'vfio', iommufd: 'iommufd', xdp: 'xdp', zerocopy: 'zerocopy', mlock: 'mlock',
};

const OPTIONS = {
  ...Object.fromEntries(Object.keys(CALL_FLAGS).map((f) => [f, { type: 'string', multiple: true }])),
  mlockall: { type: 'boolean', multiple: true }, unaligned: { type: 'boolean', multiple: true },
  hugepages: { type: 'string', multiple: true }, compat: { type: 'boolean', multiple: true },
  ulimit: { type: 'string' }, 'cap-ipc-lock': { type: 'boolean' }, kernel: { type: 'string' }, thp: { type: 'string' },
  backend: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

type Raw = Record<string, unknown>;

// The calls the flags give, in order; modifiers apply to the call before them.
function callsFromFlags(tokens: { kind: string; name?: string; value?: string | undefined }[]): Raw[] {
  const calls: Raw[] = [];
  for (const tok of tokens) {
    if (tok.kind !== 'option' || tok.name === undefined) continue;
    const kind = CALL_FLAGS[tok.name];
    if (kind !== undefined) {
      const { count, size } = parseCountSize(`--${tok.name}`, tok.value ?? '');
      calls.push({ kind, count, size });
    } else if (tok.name === 'mlockall') {
      calls.push({ kind: 'mlockall' });
    } else if (['unaligned', 'hugepages', 'compat'].includes(tok.name)) {
      const last = calls.at(-1);
      if (!last) throw new PlanError(`--${tok.name}`, 'applies to the call before it; give a call first (e.g. --io-uring 64x256KiB --unaligned)');
      last[tok.name] = tok.value ?? true;
    }
  }
  return calls;
}

// stderr: where the progress line goes, when it is a terminal (the total
// number of runs is not known ahead, so this is a count, not progress()'s bar).
export async function memlockMain(args: string[], out: (line: string) => void, err: (line: string) => void, stderr?: ProgressStream): Promise<number> {
  const usage = (what: string): 2 => {
    for (const line of usageError('memlock', what)) err(line);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: true, tokens: true, options: OPTIONS });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) {
    out(MEMLOCK_USAGE);
    return 0;
  }
  if (positionals.length > 1) return usage(`one plan file at most, got '${positionals[1]}' too`);
  const backend = values.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') return usage(`--backend must be wasm or ts, got '${backend}'`);
  let plan;
  try {
    const calls = callsFromFlags(tokens);
    let raw: Raw = {};
    if (positionals[0] !== undefined) {
      if (calls.length) return usage('give the calls in the plan file or as flags, not both');
      const file = positionals[0];
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        return usage(`cannot read ${file}: ${(e as Error).message}`);
      }
      try {
        raw = JSON.parse(text) as Raw;
      } catch (e) {
        return usage(`${file} is not JSON: ${(e as Error).message}`);
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return usage(`${file}: the plan must be a JSON object with "calls"`);
    } else {
      if (!calls.length) return usage('nothing to plan: give calls (e.g. --rdma 2x1GiB) or a plan file');
      raw = { calls };
    }
    plan = parsePlan({
      ...raw,
      ...(values.ulimit !== undefined ? { ulimit: /^\d+$/.test(values.ulimit) ? Number(values.ulimit) * 1024 : values.ulimit } : {}), // a bare number is KiB, as for ulimit -l
      ...(values['cap-ipc-lock'] ? { capIpcLock: true } : {}),
      ...(values.kernel !== undefined ? { kernel: values.kernel } : {}),
      ...(values.thp !== undefined ? { thp: values.thp } : {}),
    });
  } catch (e) {
    if (e instanceof PlanError) return usage(e.message);
    throw e;
  }
  let runs = 0;
  const onRun = (r: PlanRun): void => {
    stderr!.write(`\r\x1b[Kmemlock: run ${++runs}${r.cap ? ' with CAP_IPC_LOCK' : ''}: ${r.passed ? 'passes' : 'fails'}`);
  };
  const report = await planMemlock(plan, { backend, ...(stderr?.isTTY ? { onRun } : {}) });
  if (runs) stderr!.write('\r\x1b[K');
  if (values.json) out(JSON.stringify({ backend, ...report }, null, 2));
  else for (const line of formatReport(report, backend)) out(line);
  return report.run.passed ? 0 : 1;
}
