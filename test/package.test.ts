// pinsim as an installed package: `npm pack`, install the tarball into a
// fresh project, then (1) type-check a TypeScript program and the README's
// examples against the shipped declarations under the strictest settings,
// with NodeNext and Bundler resolution; (2) run it in Node; (3) bundle a web
// app with esbuild following the README's recipe and run it in Chromium.
// Needs a built dist/ (npm test builds first).
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { hasChromium, inCI, CHROMIUM, withChromium } from './chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
let app = ''; // the consumer project

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

// The README's TypeScript examples (```ts blocks), one module each.
function readmeExamples(): string[] {
  const md = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const PROGRAM = `
import { boot, constants as C, SyscallError, type Kernel, type BootOptions, type PageSnapshot } from 'pinsim';

const opts: BootOptions = { memory: '64MiB', hugepages: { '2MiB': 2 } };
const k: Kernel = await boot(opts);
const t = k.spawn({ name: 'app' });
const buf = t.mmap({ length: 4 * 4096, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
t.write(buf, 0xcafe);
const pfn = t.translate(buf);
if (pfn === null) throw new Error('not mapped');
const snap: PageSnapshot = k.page(pfn);
const pages = k.pageArray(4);
const n = k.pin_user_pages_fast(t, buf, 4, C.FOLL_WRITE | C.FOLL_LONGTERM, pages);
const first = pages.get(0);
if (first !== null) k.dma_write(first, 0xd1a);
k.unpin_user_pages_dirty_lock(pages, n, true);
pages.free();
let code = '';
try { t.read(0x1000); } catch (e) { if (e instanceof SyscallError) code = e.code; }
console.log(JSON.stringify({ data: snap.data, n, read: t.read(buf), code, acquired: k.vmstat()['nr_foll_pin_acquired'] }));
`;

const TSCONFIG = (resolution: 'NodeNext' | 'Bundler') => JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: resolution === 'NodeNext' ? 'NodeNext' : 'ESNext', moduleResolution: resolution,
    strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false,
    types: [], lib: ['ES2022', 'DOM'], outDir: `out-${resolution}`, noEmit: resolution === 'Bundler',
  },
  include: ['src/**/*.ts'],
});

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'pinsim-consumer-'));
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  app = join(dir, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', join(dir, tgz)], app);
  writeFileSync(join(app, 'src/program.ts'), PROGRAM);
  readmeExamples().forEach((code, i) => writeFileSync(join(app, `src/readme-${i + 1}.ts`), `${code}\nexport {};\n`));
  for (const r of ['NodeNext', 'Bundler'] as const) writeFileSync(join(app, `tsconfig.${r}.json`), TSCONFIG(r));
}, 120_000);

describe('the packed package', () => {
  it('ships only what a user needs', () => {
    const files = readdirSync(join(app, 'node_modules/pinsim/dist')).sort();
    expect(files).toEqual(['cli.js', 'pinsim.d.ts', 'pinsim.debug.wasm', 'pinsim.js', 'pinsim.js.map', 'pinsim.release.wasm', 'pinsim.sparse.wasm', 'wasm-url.d.ts']);
    expect(readdirSync(join(app, 'node_modules/pinsim'))).toContain('LICENSE');
  });

  it('the README has TypeScript examples to check', () => {
    expect(readmeExamples().length).toBeGreaterThanOrEqual(2);
  });

  it.each(['NodeNext', 'Bundler'])('a strict program and the README examples type-check (%s resolution)', (r) => {
    run(process.execPath, [TSC, '-p', `tsconfig.${r}.json`], app);
  });

  it('the public types mention no AssemblyScript type', () => {
    const dts = readFileSync(join(app, 'node_modules/pinsim/dist/pinsim.d.ts'), 'utf8');
    expect(dts).not.toMatch(/\b(i32|u32|f64|usize|bool|v128)\b/);
  });

  it('runs in Node from the installed package (the .wasm found beside the bundle)', () => {
    const out = run(process.execPath, ['out-NodeNext/program.js'], app);
    expect(JSON.parse(out)).toEqual({ data: 0xcafe, n: 4, read: 0xd1a, code: 'SIGSEGV', acquired: 4 });
  });

  it('exports the .wasm files and package.json', () => {
    const out = run(process.execPath, ['--input-type=module', '-e',
      "console.log(import.meta.resolve('pinsim/pinsim.release.wasm'), import.meta.resolve('pinsim/pinsim.sparse.wasm'), import.meta.resolve('pinsim/package.json'))"], app);
    expect(out).toMatch(/node_modules\/pinsim\/dist\/pinsim\.release\.wasm .*node_modules\/pinsim\/dist\/pinsim\.sparse\.wasm .*node_modules\/pinsim\/package\.json/);
  });
});

// The README's esbuild recipe: import the .wasm with the file loader and
// hand its URL to boot().
const WEB_APP = `
import { boot, constants as C } from 'pinsim';
import wasmUrl from 'pinsim/pinsim.release.wasm';

const k = await boot({ memory: '64MiB', wasm: new URL(wasmUrl, import.meta.url) });
const t = k.spawn();
const a = t.mmap({ length: 4096, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
t.write(a, 0x600d);
(window as unknown as { __result: unknown }).__result = { backend: k.backend, word: t.read(a) };
`;

describe('a web app bundled with esbuild', () => {
  it.skipIf(!hasChromium && !inCI)(`runs in Chromium${hasChromium ? '' : ` (skipped: ${CHROMIUM} not found)`}`, async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} not found, and CI is set: CI must install Debian's chromium`);
    writeFileSync(join(app, 'src/web.ts'), WEB_APP);
    const www = join(app, 'www');
    await build({
      entryPoints: [join(app, 'src/web.ts')], bundle: true, format: 'esm', outdir: www, absWorkingDir: app,
      loader: { '.wasm': 'file' }, logLevel: 'silent',
    });
    const html = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="web.js"></script>';
    const outputs = readdirSync(www);
    const wasmFile = outputs.find((f) => f.endsWith('.wasm'));
    expect(wasmFile, 'esbuild emitted the .wasm').toBeDefined();
    await withChromium((path) => (path === '/' ? { body: html, type: 'text/html' } : outputs.includes(path.slice(1)) ? { file: join(www, path.slice(1)) } : null),
      async (page, base, requests) => {
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${base}/`);
        await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 30_000 })
          .catch(() => { throw new Error(`no result; page errors: ${errors.join('; ')}`); });
        expect(await page.evaluate(() => (window as unknown as { __result: unknown }).__result)).toEqual({ backend: 'wasm', word: 0x600d });
        expect(requests).toContain(`GET /${wasmFile}`);
        expect(errors).toEqual([]);
      });
  });
});
