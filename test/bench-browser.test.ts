// `npm run bench -- --browser --smoke` as a test: the benchmark suite,
// bundled for browsers (build/bench/page.js), runs every case once in
// headless Chromium on a cross-origin-isolated page, where both cores must
// agree. Correctness only, no timing. Needs a build (npm test builds it) and
// Debian's chromium: without it the tests that launch it are skipped
// locally, and fail when CI is set.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allCases } from '../bench/cases';
import { browserSmoke } from '../bench/browser';
import { CHROMIUM, hasChromium, inCI } from './chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN = `${ROOT}build/bench/run.js`;

interface Run { code: number; stdout: string; stderr: string }

function bench(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUN, ...args], { cwd: ROOT, env, timeout: 150_000 }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr });
    });
  });
}

function needBuild(): void {
  for (const f of ['build/bench/run.js', 'build/bench/page.js', 'build/pinsim.release.wasm']) {
    if (!existsSync(ROOT + f)) throw new Error(`${f} not built: npm run build first`);
  }
}

// Everything that can fail happens inside the tests, so that a missing
// browser or build in CI fails them rather than skipping them.
function needChromium(): void {
  if (!hasChromium) throw new Error(`${CHROMIUM} not found, and CI is set: CI must install Debian's chromium (apt-get install -y chromium)`);
  needBuild();
}

const skip = !hasChromium && !inCI;
if (skip) console.warn(`test/bench-browser.test.ts: ${CHROMIUM} not found, Chromium tests skipped (apt-get install chromium)`);
const suffix = skip ? ` [skipped: ${CHROMIUM} not found]` : '';

describe('bench --browser', () => {
  it.skipIf(skip)(`--browser --smoke runs every case in Chromium, on both cores, and they agree${suffix}`, async () => {
    needChromium();
    const r = await bench(['--browser', '--smoke']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^in Chromium \d+\.[\d.]+, V8 \d+\.\d+[\d.]*, headless, crossOriginIsolated$/));
    for (const c of allCases()) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {2}ok {2}${c.id.replace(/\//g, '\\/')} +both cores agree: setup → `)));
    expect(lines).toContain(`smoke: ${allCases().length} cases, Wasm and TS cores agree`);
  }, 180_000);

  it.skipIf(skip)(`the page fetches the Wasm core from the server and its results come back to Node${suffix}`, async () => {
    needChromium();
    const log: string[] = [];
    const r = await browserSmoke(['4k/all', 'mixed'], (l) => log.push(l));
    expect(r.result.map((x) => x.id)).toEqual(['4k/all', 'mixed']);
    for (const x of r.result) expect(x.steps[0]).toBe('setup');
    expect(log.filter((l) => l.startsWith('  ok  '))).toHaveLength(2);
    expect(r.info.browser).toMatch(/^Chromium \d+\./);
    expect(r.info.v8).toMatch(/^\d+\.\d+/);
    expect(r.requests).toEqual(expect.arrayContaining(['GET /', 'GET /page.js', 'GET /pinsim.release.wasm']));
  }, 120_000);

  it.skipIf(skip)(`refuses a page that is not cross-origin isolated (its timers are coarse)${suffix}`, async () => {
    needChromium();
    const log: string[] = [];
    await expect(browserSmoke(['4k/512'], (l) => log.push(l), {}))
      .rejects.toThrow(/not cross-origin isolated/);
    expect(log).toContainEqual(expect.stringMatching(/NOT crossOriginIsolated$/));
    expect(log.some((l) => l.startsWith('  ok  '))).toBe(false);
  }, 60_000);

  it('without Chromium, says where it looked and exits 1', async () => {
    needBuild();
    const r = await bench(['--browser', '--smoke'], { ...process.env, PINSIM_CHROMIUM: '/nonexistent/chromium' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bench --browser: /nonexistent/chromium not found (install Debian\'s chromium: apt-get install chromium)');
  });

  it('--browser will not compare with or overwrite the Node baseline', async () => {
    needBuild();
    for (const opt of ['--compare', '--write-baseline']) {
      const r = await bench(['--browser', opt]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/with --browser, --compare and --write-baseline need --baseline=FILE/);
    }
  });
});
