// `pinsim selftest <name>`: a port of one of the kernel's mm selftests, run
// on a pinsim machine, printing kselftest TAP as the C binary does.
import { parseCommand } from '../cli-args';
import { usageError } from '../usage';
import { PRESETS, ALIASES, type KernelName } from '../eras/presets';
import { progress, type ProgressStream } from '../progress';
import { SELFTESTS, type SelftestOptions } from './index';

export const SELFTEST_USAGE = `usage: pinsim selftest <${Object.keys(SELFTESTS).join('|')}> [--kernel <preset>] [--backend wasm|ts]
Runs a port of a kernel mm selftest (tools/testing/selftests/mm/) on a simulated
machine and prints its kselftest TAP output, to diff against a real kernel's.
  cow            cow.c: COW, vmsplice, io_uring and R/O long-term pins on anon and file memory
  gup_longterm   gup_longterm.c: long-term pins and io_uring fixed buffers in file mappings
  gup_test       run_vmtests.sh's gup_test invocations (-u, -a, -ct -F 0x1 0 19 0x1000)
  hmm            hmm-tests.c, as far as the HMM mirror goes (device memory is skipped)
  --kernel K          the preset (default latest): ${[...PRESETS, ...ALIASES].join(', ')}
  --backend wasm|ts   the core (default wasm)
  -h, --help          this text
Progress goes to stderr when it is a terminal.
exit status: 0 when every test passed or was skipped, 1 when one failed, 2 on bad usage`;

const OPTIONS = { kernel: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const KERNELS: readonly string[] = [...PRESETS, ...ALIASES];

export async function selftestMain(args: string[], out: (line: string) => void, err: (line: string) => void,
  stderr?: ProgressStream, extra: Partial<SelftestOptions> = {}): Promise<number> {
  const parsed = parseCommand('selftest', args, OPTIONS, err);
  if (!parsed) return 2;
  if (parsed.values.help) {
    out(SELFTEST_USAGE);
    return 0;
  }
  const usage = (what: string): 2 => {
    for (const line of usageError('selftest', what)) err(line);
    return 2;
  };
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (name === undefined) return usage(`a selftest is needed: ${Object.keys(SELFTESTS).join(', ')}`);
  const run = Object.hasOwn(SELFTESTS, name) ? SELFTESTS[name] : undefined;
  if (!run) return usage(`unknown selftest '${name}' (one of ${Object.keys(SELFTESTS).join(', ')})`);
  if (rest.length) return usage(`unexpected argument '${rest[0]}'`);
  const backend = values.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') return usage(`--backend must be wasm or ts, got '${backend}'`);
  const kernel = values.kernel ?? 'latest';
  if (!KERNELS.includes(kernel)) return usage(`unknown kernel preset '${kernel}' (one of ${KERNELS.join(', ')})`);
  const bar = progress(stderr, `selftest ${name}`);
  try {
    const r = await run({ ...extra, kernel: kernel as KernelName, backend, progress: bar.update }, bar.wrap(out));
    return r.exitCode;
  } catch (e) {
    err(`pinsim selftest: ${name} failed on ${kernel}: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    bar.end();
  }
}
