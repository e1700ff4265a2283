// Reading kselftest TAP back: what the selftest tests check the ports' output with.
export interface Tap {
  plan: number | null;
  results: { n: number; ok: boolean; text: string; run: string | null }[]; // run: the "[RUN] ..." or "RUN ..." line before it
  totals: string | null; // the final "# Totals: ..." line
}

export function parseTap(lines: readonly string[]): Tap {
  const tap: Tap = { plan: null, results: [], totals: null };
  let run: string | null = null;
  for (const line of lines) {
    let m;
    if ((m = /^1\.\.(\d+)$/.exec(line))) {
      if (tap.plan !== null) throw new Error(`a second plan: ${line}`);
      tap.plan = Number(m[1]);
    } else if ((m = /^(not ok|ok) (\d+) (.*)$/.exec(line))) {
      tap.results.push({ n: Number(m[2]), ok: m[1] === 'ok', text: m[3]!, run });
    } else if ((m = /^# \[RUN\] (.*)$/.exec(line)) || (m = /^#  RUN {11}(.*) \.\.\.$/.exec(line))) {
      run = m[1]!;
    } else if (line.startsWith('# Totals: ')) {
      tap.totals = line;
    }
  }
  return tap;
}

// The "[RUN]" descriptions of the failed tests.
export function failed(tap: Tap): string[] {
  return tap.results.filter((r) => !r.ok).map((r) => r.run ?? r.text);
}

// The counts as kselftest totals them.
export function counts(tap: Tap): { pass: number; fail: number; xfail: number; skip: number } {
  const c = { pass: 0, fail: 0, xfail: 0, skip: 0 };
  for (const r of tap.results) {
    if (!r.ok) c.fail++;
    else if (/ # SKIP( |$)/.test(` ${r.text}`)) c.skip++;
    else if (r.text.startsWith('# XFAIL ')) c.xfail++;
    else c.pass++;
  }
  return c;
}
