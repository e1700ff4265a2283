// `pinsim rules` and `pinsim gup-test --kernel`, as a user runs them (the
// built dist/cli.js): the rule table of a preset, two presets compared,
// overrides, JSON, and bad usage (one line on stderr, exit 2).
import { describe, it, expect } from 'vitest';
import { kernelRules, TIMELINE, type RuleKey } from '../src/index';
import { parseGupTestArgs, runGupTest } from '../src/gup-test/index';
import { pinsim, type CliRun as Run } from './cli-run';

const KEYS = Object.keys(TIMELINE) as RuleKey[];

// The table's row of a key, split on runs of two or more spaces.
const row = (r: Run, key: string) => r.out.find((l) => l.startsWith(`${key} `))?.split(/ {2,}/);

describe.concurrent('pinsim rules', () => {
  it('--help prints the usage and the presets', async () => {
    const r = await pinsim('rules', '--help');
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out[0]).toMatch(/^usage: pinsim rules/);
    expect(r.out.join('\n')).toContain('5.5, 5.8, 5.10, 5.18, 6.4, latest, 5.6, 5.7, 5.9, 6.1, 6.11');
    expect((await pinsim('--help')).out).toContain('  rules       a kernel preset\'s pinning rules, or two presets compared (pinsim rules --help)');
  });

  it('the default is latest: one aligned row per rule, key, value, the commit and release that set it, what it decides', async () => {
    const r = await pinsim('rules');
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out[0]).toBe('kernel latest');
    expect(r.out[1].split(/ {2,}/)).toEqual(['KEY', 'VALUE', 'SET BY', 'WHAT']);
    expect(r.out).toHaveLength(2 + KEYS.length);
    expect(row(r, 'cowReuse')).toEqual(['cowReuse', 'exclusive', '6c287605fd56 (5.19)', TIMELINE.cowReuse.what]);
    expect(row(r, 'gupFastLongtermCma')).toEqual(['gupFastLongtermCma', 'all', 'id not given (6.3)', TIMELINE.gupFastLongtermCma.what]);
    // aligned: every row's value starts in the header's VALUE column
    const col = r.out[1].indexOf('VALUE');
    for (const l of r.out.slice(2)) expect(l[col - 1] === ' ' && l[col] !== ' ').toBe(true);
  });

  it('--kernel 5.5: initial values say where they come from', async () => {
    const r = await pinsim('rules', '--kernel', '5.5');
    expect(r.out[0]).toBe('kernel 5.5');
    expect(row(r, 'pinApi')).toEqual(['pinApi', 'false', 'initial', `${TIMELINE.pinApi.what} [GET only before 5.6]`]);
    expect(row(r, 'cowReuse')?.slice(0, 3)).toEqual(['cowReuse', 'mapcount', 'initial']);
  });

  it('--rules overrides single keys, marked *, with the commit of the value set', async () => {
    const r = await pinsim('rules', '--kernel', '5.10', '--rules', 'reclaimSkipsPinned=true,cowReuse=exclusive');
    expect(r.code).toBe(0);
    expect(row(r, 'reclaimSkipsPinned')?.slice(0, 3)).toEqual(['reclaimSkipsPinned', 'true*', 'feb889fb40fa (5.11)']);
    expect(row(r, 'cowReuse')?.slice(0, 3)).toEqual(['cowReuse', 'exclusive*', '6c287605fd56 (5.19)']);
    expect(row(r, 'gupBreaksCow')?.[1]).toBe('false');
    expect(r.out.at(-1)).toBe('* overridden (--rules)');
  });

  it('--json is k.rules as JSON', async () => {
    const r = await pinsim('rules', '--kernel', '6.4', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toEqual({ kernel: '6.4', rules: JSON.parse(JSON.stringify(kernelRules('6.4'))) });
  });

  it('--compare 5.10,latest: side by side, | on exactly the rules that differ, with the newer value\'s commit', async () => {
    const r = await pinsim('rules', '--compare', '5.10,latest');
    expect(r.code).toBe(0);
    const [a, b] = [kernelRules('5.10'), kernelRules('latest')];
    const differ = KEYS.filter((key) => a[key].value !== b[key].value);
    expect(r.out.filter((l) => l.startsWith('|')).map((l) => l.split(/ +/)[1])).toEqual(differ);
    expect(differ).toContain('cowReuse');
    expect(r.out.find((l) => l.startsWith('|  cowReuse'))?.split(/ {2,}/)).toEqual(['|', 'cowReuse', 'refcount', 'exclusive', '6c287605fd56 (5.19)']);
    expect(r.out.find((l) => l.includes(' gupBreaksCow '))?.startsWith(' ')).toBe(true);
    expect(r.out.at(-1)).toBe(`${differ.length} of ${KEYS.length} rules differ`);
    // an alias against its preset: 5.9 is 5.10 but for GET+LONGTERM
    expect((await pinsim('rules', '--compare', '5.9,5.10')).out.at(-1)).toBe(`1 of ${KEYS.length} rules differ`);
  });

  it('--compare with --rules overrides the first preset', async () => {
    const r = await pinsim('rules', '--compare', '5.9,5.10', '--rules', 'getLongterm=fast-only');
    expect(r.out.at(-1)).toBe(`0 of ${KEYS.length} rules differ`);
    expect(r.out.find((l) => l.includes(' getLongterm '))?.split(/ {2,}/).slice(1, 4)).toEqual(['getLongterm', 'fast-only*', 'fast-only']);
  });

  it.each([
    [['--kernel', '5.4'], "kernel must be one of '5.5', '5.8', '5.10', '5.18', '6.4', 'latest', '5.6', '5.7', '5.9', '6.1', '6.11', got '5.4'"],
    [['--rules', 'bogus=1'], `rules: unknown key 'bogus' (known: ${KEYS.join(', ')})`],
    [['--rules', 'pinBias=512'], 'rules.pinBias must be one of 1, 1024, got 512'],
    [['--rules', 'gupBreaksCow'], "--rules: 'gupBreaksCow' is not key=value"],
    [['--compare', 'latest'], "--compare needs two presets, like 5.10,latest; got 'latest'"],
    [['--compare', '5.10,4.19'], "kernel must be one of '5.5', '5.8', '5.10', '5.18', '6.4', 'latest', '5.6', '5.7', '5.9', '6.1', '6.11', got '4.19'"],
    [['--compare', '5.10,latest', '--kernel', '5.5'], '--kernel and --compare exclude each other'],
    [['--compare', '5.10,latest', '--json'], '--json and --compare exclude each other'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['5.10'], "Unexpected argument '5.10'. This command does not take positional arguments"],
  ])('bad usage %j: one line on stderr, where the help is, exit 2', async (args, what) => {
    expect(await pinsim('rules', ...args)).toEqual({ code: 2, out: [], err: [`pinsim: ${what}`, "see 'pinsim rules --help'"] });
  });
});

describe('pinsim gup-test --kernel', () => {
  it('boots the preset (the machine is 5.10), and is in the usage', async () => {
    const p = parseGupTestArgs(['--kernel', '5.10', '-U', '-m', '4', '-n', '64']);
    expect(p.ok && p.options.kernel).toBe('5.10');
    if (!p.ok) return;
    const r = await runGupTest(p.options, { bootOptions: { wasm: 'debug' } });
    expect(r.exitCode).toBe(0);
    expect(r.kernel?.kernel).toBe('5.10');
    expect(r.kernel?.kr.cowReuse).toBe('refcount');
    const d = parseGupTestArgs(['-U']);
    expect(d.ok && d.options.kernel).toBe('latest');
    expect((await pinsim('gup-test', '--help')).out.join('\n')).toContain('--kernel K          the kernel preset to boot (default latest; pinsim rules --help)');
  });

  it('CLI: runs on a preset; a bad one is bad usage', async () => {
    expect(await pinsim('gup-test', '--kernel=5.18', '-U', '-m', '4', '-n', '64')).toEqual({ code: 0, out: ['GUP_BASIC_TEST: done'], err: [] });
    expect(await pinsim('gup-test', '--kernel', '4.19')).toEqual({
      code: 2, out: [], err: ["pinsim: --kernel must be one of 5.5, 5.8, 5.10, 5.18, 6.4, latest, 5.6, 5.7, 5.9, 6.1, 6.11, got '4.19'", "see 'pinsim gup-test --help'"],
    });
  });
});
