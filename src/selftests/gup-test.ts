// The gup_test invocations of tools/testing/selftests/mm/run_vmtests.sh (its
// default, non -a set), each run as the C gup_test binary runs: a TAP stream
// of its own (one test per thread: "ioctl status N"), wrapped by
// run_vmtests.sh's run_test(): a "running ..." banner, the binary's output
// prefixed with "# ", [PASS]/[FAIL]/[SKIP], one "ok N" line per invocation,
// the SUMMARY and the plan at the end, as that script prints them.
import { SyscallError } from '../errors';
import { parseGupTestArgs, runGupTest } from '../gup-test/index';
import { Ksft } from './tap';
import type { SelftestOptions, SelftestRun } from './machine';

export const GUP_TEST_RUNS: readonly (readonly string[])[] = [
  ['-u', '-n', '1'], // get_user_pages_fast() benchmark
  ['-u', '-n', '-1'],
  ['-a', '-n', '1'], // pin_user_pages_fast() benchmark
  ['-a', '-n', '-1'],
  ['-ct', '-F', '0x1', '0', '19', '0x1000'], // dump pages 0, 19 and 4096
];

// One ./gup_test invocation: its TAP lines and exit status.
async function gupTestBinary(args: readonly string[], o: SelftestOptions): Promise<{ lines: string[]; status: number }> {
  const p = parseGupTestArgs([...args, '--kernel', o.kernel ?? 'latest', '--backend', o.backend ?? 'wasm', '--warmup', '0']);
  if (!p.ok) throw new Error(`gup_test ${args.join(' ')}: ${p.error}`);
  const inner = new Ksft();
  inner.header();
  inner.setPlan(1); // one thread
  let status = 0;
  try {
    const r = await runGupTest(p.options, o.bootOptions ? { bootOptions: o.bootOptions } : {});
    if (r.error) {
      inner.print(`Bail out! ${r.error}`); // ksft_exit_fail_msg()
      return { lines: inner.lines, status: 1 };
    }
    for (const run of r.runs) {
      if (run.error) status = -1;
      if (run.nrPages === 0 && run.error) break;
      if (p.options.cmd.endsWith('_BENCHMARK')) {
        // Two ksft_print_msg() calls, the second only "\n": the kernel's output has the "# ".
        inner.print(`# ${p.options.cmd}: Time: get:${run.getDeltaUsec} put:${run.putDeltaUsec} us`
          + `${run.truncated ? `# , truncated (size: ${run.size})` : ''}# `);
      } else {
        inner.msg(`${p.options.cmd}: done`);
        if (run.truncated) inner.msg(`Truncated (size: ${run.size})`);
      }
    }
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    status = -1; // ioctl() returned -1
  }
  inner.result(!status, `ioctl status ${status}`);
  inner.finished();
  return { lines: inner.lines, status: 0 }; // ksft_exit_pass(), whatever the result
}

export async function runGupTestSelftest(o: SelftestOptions, out: (line: string) => void): Promise<SelftestRun> {
  const ksft = new Ksft(out);
  ksft.header();
  for (const args of GUP_TEST_RUNS) {
    const title = `running ./gup_test ${args.join(' ')}`;
    const sep = '-'.repeat(title.length);
    for (const line of [sep, title, sep]) ksft.msg(line);
    const { lines, status } = await gupTestBinary(args, o);
    for (const line of lines) ksft.msg(line);
    const name = `gup_test ${args.join(' ')}`;
    if (status === 0) {
      ksft.msg('[PASS]');
      ksft.pass(name);
    } else {
      ksft.msg('[FAIL]');
      ksft.fail(`${name} # exit=${status}`);
    }
    o.progress?.(ksft.testNum, GUP_TEST_RUNS.length);
  }
  // run_vmtests.sh's end: the summary, then the plan (TAP allows it last).
  const c = ksft.cnt;
  ksft.msg(`SUMMARY: PASS=${c.pass} SKIP=${c.skip} FAIL=${c.fail}`);
  ksft.setPlan(ksft.testNum);
  return { ksft, exitCode: c.fail ? 1 : 0 };
}
