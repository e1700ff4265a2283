// Browser smoke test: loads the library bundle (dist/pinsim.js) into a real
// Chromium from a local HTTP server, boots a machine on each core, and runs
// the same map / write / fork / COW sequence as smoke.test.ts. For the Wasm
// core this checks that the .wasm is fetched (compileStreaming) from beside
// the bundle, i.e. that the browser path of src/core/load.ts works.
//
// Needs Debian's chromium at /usr/bin/chromium (apt-get install chromium).
// Without it the test is skipped locally, but fails when CI is set.
// Needs a built dist/ (npm test builds it; or run node scripts/build.mjs).
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CONTENT_TYPES, hasChromium, inCI, withChromium, type Route } from './chromium';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

// The page: runs the sequence on both cores as soon as it loads and
// publishes the results in window.__result (and a summary in the title).
const PAGE_HTML = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>pinsim: running</title>
</head>
<body>
<pre id="out"></pre>
<script type="module">
import { boot, constants } from './pinsim.js';

async function run(backend) {
  const k = await boot({ memory: '64MiB', backend });
  const t = k.spawn();
  const a = t.mmap({
    length: 4 * 4096,
    prot: constants.PROT_READ | constants.PROT_WRITE,
    flags: constants.MAP_PRIVATE | constants.MAP_ANONYMOUS,
  });
  t.write(a, 0x1234);
  const c = t.fork();
  c.write(a, 0x5678);
  return {
    backend: k.backend,
    parent: t.read(a),
    child: c.read(a),
    parentFrame: t.translate(a),
    childFrame: c.translate(a),
    untouched: t.translate(a + 3 * 4096),
    dmesg: k.dmesg(),
  };
}

const result = {};
try {
  for (const backend of ['wasm', 'ts']) result[backend] = await run(backend);
  document.title = 'pinsim: ok';
} catch (e) {
  result.error = String(e && e.stack || e);
  document.title = 'pinsim: error';
}
document.getElementById('out').textContent = JSON.stringify(result, null, 2);
window.__result = result;
</script>
</body>
</html>
`;

interface RunResult {
  backend: string;
  parent: number;
  child: number;
  parentFrame: number | null;
  childFrame: number | null;
  untouched: number | null;
  dmesg: string[];
}
type PageResult = { wasm?: RunResult; ts?: RunResult; error?: string };

// The page, and only the library bundle and its .wasm files (not the CLI).
function route(): Route {
  const served = new Set(readdirSync(DIST).filter((f) => /^pinsim\.[\w.]*(js|map|wasm)$/.test(f)));
  return (path) => (path === '/' || path === '/index.html' ? { body: PAGE_HTML, type: CONTENT_TYPES['.html'] }
    : served.has(path.slice(1)) ? { file: DIST + path.slice(1) } : null);
}

describe('browser (Chromium, dist/pinsim.js)', () => {
  const name = 'boots both cores, maps, writes, forks and COWs';
  if (!hasChromium && !inCI) {
    const why = `${CHROMIUM} not found, browser test skipped (install it with: apt-get install chromium)`;
    console.warn(`test/browser.test.ts: ${why}`);
    it.skip(`${name} [${why}]`, () => {});
    return;
  }

  // Everything happens inside the test, so that any failure (no browser,
  // no build, launch error) counts as a failed test, never a skipped one.
  it(name, async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} not found, and CI is set: CI must install Debian's chromium (apt-get install -y chromium)`);
    if (!existsSync(DIST + 'pinsim.js') || !existsSync(DIST + 'pinsim.release.wasm')) {
      throw new Error(`${DIST} has no pinsim.js / pinsim.release.wasm: build first (npm run build, or node scripts/build.mjs)`);
    }
    await withChromium(route(), async (page, base, requests) => {
      const fetched: { url: string; type: string }[] = [];
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.stack ?? e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      page.on('request', (r) => fetched.push({ url: r.url(), type: r.resourceType() }));

      await page.goto(`${base}/`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 30_000 });
      const result = await page.evaluate(() => (window as unknown as { __result: PageResult }).__result);

      expect(result.error).toBeUndefined();
      expect(problems).toEqual([]);
      expect(await page.title()).toBe('pinsim: ok');
      for (const backend of ['wasm', 'ts'] as const) {
        const r = result[backend]!;
        expect(r, backend).toBeDefined();
        expect(r.backend).toBe(backend);
        expect(r.parent, `${backend}: parent word`).toBe(0x1234);
        expect(r.child, `${backend}: child word`).toBe(0x5678);
        expect(r.parentFrame, `${backend}: parent mapped`).not.toBe(null);
        expect(r.childFrame, `${backend}: child mapped`).not.toBe(null);
        expect(r.parentFrame, `${backend}: COW gave the child its own frame`).not.toBe(r.childFrame);
        expect(r.untouched, `${backend}: untouched page not faulted in`).toBe(null);
        expect(r.dmesg[0]).toMatch(new RegExp(`^pinsim: booted 64 MiB RAM \\(${backend} core\\)`));
      }

      // The Wasm core was fetched over HTTP (fetch + compileStreaming) from
      // beside the bundle, and nothing was asked for that is not there.
      expect(requests).toContain('GET /pinsim.js');
      expect(requests).toContain('GET /pinsim.release.wasm');
      expect(fetched).toContainEqual({ url: `${base}/pinsim.release.wasm`, type: 'fetch' });
      expect(requests.filter((r) => !/^GET \/(|pinsim\.js|pinsim\.js\.map|pinsim\.release\.wasm)$/.test(r))).toEqual([]);
    });
  });
});
