// `pinsim selftest` as a user runs it (the built dist/cli.js), and the
// progress line it and `pinsim gup-test` draw on a terminal's stderr.
import { describe, expect, it } from 'vitest';
import { selftestMain } from '../../src/selftests/cli';
import { gupTestMain } from '../../src/gup-test/index';
import { progress, type ProgressStream } from '../../src/progress';
import { pinsim } from '../cli-run';

// A terminal (or a pipe) that keeps what is written to it.
function fakeStream(isTTY: boolean): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (s: string) => written.push(s) };
}

describe.concurrent('pinsim selftest', () => {
  it('runs a selftest: TAP on stdout, nothing on a piped stderr; exit 1 when a test fails', async () => {
    const ok = await pinsim('selftest', 'gup_longterm', '--backend', 'ts');
    expect(ok).toMatchObject({ code: 0, err: [] });
    expect(ok.out.slice(0, 4)).toEqual([
      '# [INFO] detected hugetlb page size: 2048 KiB', '# [INFO] detected hugetlb page size: 1048576 KiB', 'TAP version 13', '1..50',
    ]);
    expect(ok.out.at(-1)).toBe('# Totals: pass:40 fail:0 xfail:0 xpass:0 skip:10 error:0');
    const bad = await pinsim('selftest', 'gup_longterm', '--kernel', '6.4');
    expect(bad).toMatchObject({ code: 1, err: [] });
    expect(bad.out).toContain('not ok 3 Should have worked');
  });

  it.each([
    [[], 'pinsim: a selftest is needed: cow, gup_longterm, gup_test, hmm'],
    [['nope'], "pinsim: unknown selftest 'nope' (one of cow, gup_longterm, gup_test, hmm)"],
    [['cow', 'extra'], "pinsim: unexpected argument 'extra'"],
    [['cow', '--kernel', '4.19'], "pinsim: unknown kernel preset '4.19' (one of 5.5, 5.8, 5.10, 5.18, 6.4, latest, 5.6, 5.7, 5.9, 6.1, 6.11)"],
    [['cow', '--backend', 'gpu'], "pinsim: --backend must be wasm or ts, got 'gpu'"],
    [['cow', '--kernel'], "pinsim: Option '--kernel <value>' argument missing"],
  ])('bad usage %j: one message and where the help is, on stderr; exit 2, nothing run', async (args, msg) => {
    const r = await pinsim('selftest', ...args);
    expect(r).toEqual({ code: 2, out: [], err: [msg, "see 'pinsim selftest --help'"] });
  });

  it('--help lists the four selftests; pinsim --help lists the command', async () => {
    const r = await pinsim('selftest', '--help');
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('usage: pinsim selftest <cow|gup_longterm|gup_test|hmm> [--kernel <preset>] [--backend wasm|ts]');
    expect((await pinsim('--help')).out.some((l) => l.startsWith('  selftest '))).toBe(true);
  });
});

describe('progress', () => {
  it('on a terminal: one line redrawn in place, throttled, cleared at the end; piped: nothing', () => {
    let now = 0;
    const tty = fakeStream(true);
    const bar = progress(tty, 'selftest cow', 100, () => now);
    bar.update(1, 10);
    now = 50;
    bar.update(2, 10); // too soon
    now = 150;
    bar.update(3, 10);
    bar.update(10, 10); // the last one always shows
    bar.end();
    expect(tty.written).toEqual([
      '\r\x1b[Kselftest cow: 1/10 (10%)', '\r\x1b[Kselftest cow: 3/10 (30%)', '\r\x1b[Kselftest cow: 10/10 (100%)', '\r\x1b[K',
    ]);
    const pipe = fakeStream(false);
    const quiet = progress(pipe, 'x');
    quiet.update(1, 2);
    quiet.wrap(() => {})('line');
    quiet.end();
    expect(pipe.written).toEqual([]);
    expect(progress(undefined, 'x').wrap).toBeTypeOf('function');
  });

  it('selftestMain: the bar on a terminal, cleared before each output line; the output is the same as piped', async () => {
    const events: string[] = []; // 'draw', 'clear', 'out' in the order they happen
    const tty: ProgressStream = { isTTY: true, write: (s: string) => events.push(s === '\r\x1b[K' ? 'clear' : 'draw') };
    const outTty: string[] = [];
    expect(await selftestMain(['hmm', '--backend', 'ts'], (l) => { events.push('out'); outTty.push(l); }, () => {}, tty)).toBe(0);
    expect(events.filter((e) => e === 'draw').length).toBeGreaterThan(1);
    let drawn = false;
    for (const e of events) {
      if (e === 'out') expect(drawn).toBe(false);
      if (e !== 'out') drawn = e === 'draw';
    }
    expect(drawn).toBe(false); // nothing left on the line
    const outPipe: string[] = [];
    const pipe = fakeStream(false);
    expect(await selftestMain(['hmm', '--backend', 'ts'], (l) => outPipe.push(l), () => {}, pipe)).toBe(0);
    expect(pipe.written).toEqual([]);
    expect(outTty).toEqual(outPipe);
  }, 60_000);

  it('gup-test: one update per timed repeat', async () => {
    const seen: [number, number][] = [];
    const out: string[] = [];
    const code = await gupTestMain(['-a', '-m', '4', '-r', '3', '--backend', 'ts'], (l) => out.push(l), (l) => out.push(l),
      { progress: (d, t) => seen.push([d, t]) });
    expect(code).toBe(0);
    expect(seen).toEqual([[1, 3], [2, 3], [3, 3]]);
  }, 60_000);
});
