// The Node end of `npm run bench -- --browser`: serves build/bench/page.js
// (bench/page.ts) and the Wasm builds to a headless Chromium on a
// cross-origin-isolated page, runs the suite there and returns its results,
// which bench/run.ts prints like a Node run's.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, withChromium, type Route } from '../test/chromium';
import type { PageRequest, PageResult } from './page';
import { MismatchError, type Row, type SmokeResult } from './suite';

// What makes the page crossOriginIsolated, so that performance.now() is
// precise (Chromium: 5 µs, jittered, instead of 100 µs).
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export interface BrowserInfo {
  browser: string; // "Chromium 156.0.8078.114"
  v8: string; // Browser.getVersion's jsVersion
  userAgent: string;
}

const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>pinsim bench</title>
<script type="module" src="/page.js"></script>
`;

// The package root: run.ts runs from build/bench/, the tests import this file from bench/.
function root(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

export interface BrowserRun<T> {
  info: BrowserInfo;
  result: T;
  requests: string[]; // what the page asked the server for
}

// Runs the suite in Chromium. headers: only to test that a page without
// isolation is refused.
async function inBrowser<T>(req: PageRequest, log: (line: string) => void, headers: Record<string, string>)
  : Promise<BrowserRun<T>> {
  if (!hasChromium) throw new Error(`bench --browser: ${CHROMIUM} not found (install Debian's chromium: apt-get install chromium)`);
  const build = path.join(root(), 'build');
  const files: Record<string, string> = {
    '/page.js': path.join(build, 'bench/page.js'),
    '/pinsim.release.wasm': path.join(build, 'pinsim.release.wasm'),
  };
  const missing = Object.values(files).filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`bench --browser: ${missing.join(', ')} not built (npm run build)`);
  const route: Route = (p) => (p === '/' ? { body: PAGE_HTML, type: 'text/html; charset=utf-8' } : files[p] ? { file: files[p] } : null);

  return withChromium(route, async (page, base, requests) => {
    const browser = page.context().browser()!;
    const cdp = await browser.newBrowserCDPSession();
    const v = await cdp.send('Browser.getVersion');
    const info: BrowserInfo = { browser: `Chromium ${browser.version()}`, v8: v.jsVersion, userAgent: v.userAgent };
    page.on('pageerror', (e) => log(`  page error: ${e.stack ?? e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') log(`  console.error: ${m.text()}`); });
    await page.exposeFunction('pinsimBenchLog', log);
    await page.goto(`${base}/`);
    await page.waitForFunction(() => typeof window.pinsimBench === 'function', null, { timeout: 30_000 });
    const isolated = await page.evaluate(() => crossOriginIsolated);
    log(`in ${info.browser}, V8 ${info.v8}, headless, ${isolated ? 'crossOriginIsolated' : 'NOT crossOriginIsolated'}`);
    const res: PageResult = await page.evaluate((r) => window.pinsimBench(r), req);
    if (!res.ok) {
      if (res.mismatch) throw new MismatchError(res.message);
      throw new Error(`bench --browser: ${res.message}`);
    }
    return { info, result: res.value as T, requests };
  }, headers);
}

// runSmoke() in the page.
export function browserSmoke(only: string[], log: (line: string) => void, headers: Record<string, string> = ISOLATION_HEADERS)
  : Promise<BrowserRun<SmokeResult[]>> {
  return inBrowser({ smoke: true, only, wasm: '/pinsim.release.wasm' }, log, headers);
}

// runCases() in the page.
export function browserCases(only: string[], log: (line: string) => void)
  : Promise<BrowserRun<{ rows: Row[]; notes: string[] }>> {
  return inBrowser({ smoke: false, only, wasm: '/pinsim.release.wasm' }, log, ISOLATION_HEADERS);
}
