// The built command line (dist/cli.js) as a user runs it: --version, --help
// of every command, one-line usage errors on stderr with exit 2, results on
// stdout. Needs a built dist/ (npm test builds it).
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}dist/cli.js`;

interface Run { code: number; out: string[]; err: string[] }

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd: ROOT, timeout: 60_000 }, (e, stdout, stderr) => {
      const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: lines(stdout), err: lines(stderr) });
    });
  });
}
const pinsim = (...args: string[]) => run(CLI, args);

const TIME = /^PIN_FAST_BENCHMARK: Time: get:\d+ put:\d+ us$/;
const NS = /^ {2}get \d+\.\d ns\/page, put \d+\.\d ns\/page \(wasm core, 1024 pages, 64 per call\)$/;

describe.concurrent('pinsim CLI conventions', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
    expect(await pinsim('--version')).toEqual({ code: 0, out: [`pinsim ${version}`], err: [] });
  });

  it('every command has --help, which prints its usage and runs nothing', async () => {
    for (const args of [['--help'], ['tour', '--help'], ['tour', '-h'], ['gup-test', '--help']]) {
      const r = await pinsim(...args);
      expect(r.code).toBe(0);
      expect(r.err).toEqual([]);
      expect(r.out[0]).toMatch(/^usage: pinsim/);
      expect(r.out.some((l) => l.startsWith('Booted') || l.includes('Time:'))).toBe(false);
    }
  });

  it.each([
    [['tour', '--backend=bogus'], "--backend must be wasm or ts, got 'bogus'", 'tour'],
    [['tour', '--bogus'], "Unknown option '--bogus'", 'tour'],
    [['tour', 'ts'], "Unexpected argument 'ts'. This command does not take positional arguments", 'tour'],
    [['frob'], "unknown command 'frob'", null],
    [['gup-test', '-q'], "invalid option -- 'q'", 'gup-test'],
    [['gup-test', '-r', '0'], "option -r: repeats must be at least 1, got '0'", 'gup-test'],
    [['gup-test', '--memory', '1TiB'], "--memory must be at most 256GiB, got '1TiB'", 'gup-test'],
    [['gup-test', '-m', '200000'], '-m 200000 needs a 391GiB machine (2 * size + 64MiB); pinsim boots at most 256GiB', 'gup-test'],
    [['gup-test', '--warmup', '-1'], "--warmup must not be negative, got '-1'", 'gup-test'],
  ])('bad usage %j: one line on stderr, where the help is, exit 2', async (args, what, cmd) => {
    expect(await pinsim(...args)).toEqual({
      code: 2, out: [], err: [`pinsim: ${what}`, `see 'pinsim ${cmd ? `${cmd} ` : ''}--help'`],
    });
  });

  it('gup-test: a failed mmap bails out on stderr, exit 1, with the errno once', async () => {
    const r = await pinsim('gup-test', '--memory', '16MiB');
    expect(r).toMatchObject({ code: 1, out: [] });
    expect(r.err).toEqual(['Bail out! mmap: ENOMEM: 134217728 bytes exceed RAM + swap (use MAP_NORESERVE to overcommit)']);
  });

  it('gup-test: -U, -b and -c print what gup_test.c prints, no times', async () => {
    expect(await pinsim('gup-test', '-U', '-m', '4', '-n', '64')).toEqual({ code: 0, out: ['GUP_BASIC_TEST: done'], err: [] });
    expect(await pinsim('gup-test', '-b', '-m', '4', '-n', '64')).toEqual({ code: 0, out: ['PIN_BASIC_TEST: done'], err: [] });
    const c = await pinsim('gup-test', '-c', '-m', '4', '3');
    expect(c.code).toBe(0);
    expect(c.out.at(-1)).toBe('DUMP_USER_PAGES_TEST: done');
    expect(c.out.some((l) => l.includes('ns/page'))).toBe(false);
  });

  it('gup-test: a *_BENCHMARK says it ran an untimed warm-up pass first; --warmup sets how many', async () => {
    const r = await pinsim('gup-test', '-a', '-m', '4', '-n', '64', '-r', '2');
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(5);
    expect(r.out[0]).toBe('# warm-up: 1 untimed pass');
    expect(r.out.slice(1).map((l, i) => (i % 2 ? NS : TIME).test(l))).toEqual([true, true, true, true]);
    const none = await pinsim('gup-test', '-a', '-m', '4', '-n', '64', '--warmup', '0');
    expect(none.out).toHaveLength(2);
    expect(none.out[0]).toMatch(TIME);
    expect((await pinsim('gup-test', '-a', '-m', '4', '-n', '64', '--warmup', '3')).out[0]).toBe('# warm-up: 3 untimed passes');
  });

  it.each(['wasm', 'ts'])('tour (%s core), CASE 2: says how many of the 4 pages were in CMA, and that only those moved', async (backend) => {
    const r = await pinsim('tour', `--backend=${backend}`);
    expect(r.code).toBe(0);
    const inCma = r.out.map((l) => /^ {2}(\d) of the 4 pages are in CMA pageblocks$/.exec(l)).find((m) => m);
    expect(inCma).toBeTruthy();
    const n = Number(inCma![1]);
    expect(n).toBeGreaterThan(0);
    expect(r.out).toContain(`  vmstat pgmigrate_success +${n}: only the ${n} pages in CMA moved, the other ${4 - n} were pinned where they were`);
  });

  it('the stale-build check builds nothing when the build is fresh (npm start runs the tour at once)', async () => {
    expect(await run(`${ROOT}scripts/build-if-stale.mjs`, [])).toEqual({ code: 0, out: [], err: [] });
  });
});
