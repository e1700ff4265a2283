// The pinsim command line (Node only).
import { parseArgs } from 'node:util';
import { tour } from './tour/index';
import { gupTestMain } from './gup-test/index';
import { usageError } from './usage';
import { rulesMain, RULES_OPTIONS } from './eras/cli';
import { scenarioMain } from './scenarios/cli';
import { selftestMain } from './selftests/cli';
import { progress } from './progress';

declare const PINSIM_VERSION: string; // package.json's version, defined by scripts/build.mjs

const USAGE = `usage: pinsim [--version] [--help] [<command>] [<options>]
commands:
  tour        a tour of the machine, then of pinning (the default)
  gup-test    the kernel's gup_test benchmark, ported (pinsim gup-test --help)
  rules       a kernel preset's pinning rules, or two presets compared (pinsim rules --help)
  scenario    replay a real-world pinning report, on one preset or two (pinsim scenario --help)
  selftest    the kernel's mm selftests (cow, gup_longterm, gup_test, hmm) on pinsim, as TAP (pinsim selftest --help)
exit status: 0, 1 when a run fails, 2 on bad usage`;

const TOUR_USAGE = `usage: pinsim tour [--backend=wasm|ts]
A tour of the simulated machine (mmap, fork, COW, THP, writeback), then of
pinning (the pin_user_pages.rst cases, fork with a pinned page, FOLL_LONGTERM
out of CMA).
  --backend wasm|ts   the core to run (default wasm)
  -h, --help          this text`;

function usage(cmd: string | null, what: string): void {
  for (const line of usageError(cmd, what)) console.error(line);
  process.exitCode = 2;
}

async function tourMain(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: { backend: { type: 'string', default: 'wasm' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    return usage('tour', (e as Error).message);
  }
  if (values.help) return console.log(TOUR_USAGE);
  const backend = values.backend;
  if (backend !== 'wasm' && backend !== 'ts') return usage('tour', `--backend must be wasm or ts, got '${backend}'`);
  await tour((line) => console.log(line), backend);
}

const [cmd = 'tour', ...rest] = process.argv.slice(2);
if (cmd === 'tour') {
  await tourMain(rest);
} else if (cmd === 'gup-test') {
  // exitCode, not exit(): let stdout drain. Progress of the repeats on a terminal's stderr.
  const bar = progress(process.stderr, 'gup-test');
  process.exitCode = await gupTestMain(rest, bar.wrap((line) => console.log(line)), (line) => console.error(line), { progress: bar.update });
  bar.end();
} else if (cmd === 'scenario') {
  process.exitCode = await scenarioMain(rest, (line) => console.log(line), (line) => console.error(line));
} else if (cmd === 'selftest') {
  process.exitCode = await selftestMain(rest, (line) => console.log(line), (line) => console.error(line), process.stderr);
} else if (cmd === 'rules') {
  let values;
  try {
    ({ values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options: RULES_OPTIONS }));
  } catch (e) {
    usage('rules', (e as Error).message);
  }
  if (values) process.exitCode = rulesMain(values, (line) => console.log(line), (line) => console.error(line));
} else if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log(USAGE);
} else if (cmd === '--version' || cmd === '-V') {
  console.log(`pinsim ${PINSIM_VERSION}`);
} else {
  usage(null, cmd.startsWith('-') ? `unknown option '${cmd}'` : `unknown command '${cmd}'`);
}
