// kselftest's TAP output (tools/testing/selftests/kselftest.h): the header,
// the plan, one numbered line per result, "# " diagnostics and the totals
// line, in the kernel's exact wording so that a run diffs against a real one.

export interface KsftCounts { pass: number; fail: number; xfail: number; xpass: number; skip: number; error: number }

export class Ksft {
  readonly lines: string[] = [];
  readonly cnt: KsftCounts = { pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 };
  plan = 0;
  #out: (line: string) => void;

  constructor(out: (line: string) => void = () => {}) {
    this.#out = out;
  }

  print(line: string): void {
    this.lines.push(line);
    this.#out(line);
  }

  get testNum(): number {
    const c = this.cnt;
    return c.pass + c.fail + c.xfail + c.xpass + c.skip + c.error;
  }

  // ksft_print_header(), ksft_set_plan()
  header(): void { this.print('TAP version 13'); }
  setPlan(n: number): void {
    this.plan = n;
    this.print(`1..${n}`);
  }

  // ksft_print_msg()
  msg(text: string): void { this.print(`# ${text}`); }

  // ksft_test_result_pass/_fail/_xfail/_skip(), ksft_test_result()
  pass(text: string): void { this.cnt.pass++; this.print(`ok ${this.testNum} ${text}`); }
  fail(text: string): void { this.cnt.fail++; this.print(`not ok ${this.testNum} ${text}`); }
  xfail(text: string): void { this.cnt.xfail++; this.print(`ok ${this.testNum} # XFAIL ${text}`); }
  skip(text: string): void { this.cnt.skip++; this.print(`ok ${this.testNum} # SKIP ${text}`); }
  // ksft_test_result_code(KSFT_SKIP, name, reason): the harness's form.
  skipNamed(name: string, why: string): void { this.cnt.skip++; this.print(`ok ${this.testNum} ${name} # SKIP ${why}`); }
  result(cond: boolean, text: string): void {
    if (cond) this.pass(text);
    else this.fail(text);
  }

  // ksft_finished(): ksft_print_cnts(), then exit status 0 when every planned
  // test passed or was skipped (KSFT_PASS), else 1 (KSFT_FAIL).
  finished(): 0 | 1 {
    const c = this.cnt;
    if (this.plan !== this.testNum) this.print(`# Planned tests != run tests (${this.plan} != ${this.testNum})`);
    this.print(`# Totals: pass:${c.pass} fail:${c.fail} xfail:${c.xfail} xpass:${c.xpass} skip:${c.skip} error:${c.error}`);
    return this.plan === c.pass + c.xfail + c.skip ? 0 : 1;
  }
}
