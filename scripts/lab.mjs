// npm run lab: builds the browser lab (lab/) into build/lab/ and serves it
// on http://127.0.0.1:<port>/ (--port N, default 8080; 0 picks a free one).
// --build-only builds and exits. The output is a static site: relative URLs
// only, the Wasm core beside the bundle, nothing asked of the server.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';

const OUT = 'build/lab';

export async function buildLab() {
  if (!existsSync('build/pinsim.release.wasm')) throw new Error('build/pinsim.release.wasm is missing: run npm run build first');
  mkdirSync(OUT, { recursive: true });
  await build({
    entryPoints: ['lab/main.ts'], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    outfile: `${OUT}/lab.js`, sourcemap: true, minify: true, logLevel: 'warning', // minified: a third less to parse before first paint
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(`lab/${f}`, `${OUT}/${f}`);
  copyFileSync('build/pinsim.release.wasm', `${OUT}/pinsim.release.wasm`);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8', '.wasm': 'application/wasm', '.png': 'image/png',
};

function serve(port) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(OUT, path.endsWith('/') ? `${path}index.html` : path);
    if (!existsSync(file) || !file.startsWith(OUT)) return res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
      .end(readFileSync(file));
  });
  server.listen(port, '127.0.0.1', () => console.log(`pinsim lab: http://127.0.0.1:${server.address().port}/ (Ctrl-C to stop)`));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let values;
  try {
    ({ values } = parseArgs({ options: { 'build-only': { type: 'boolean' }, port: { type: 'string', default: '8080' } } }));
  } catch (e) {
    console.error(`lab: ${e.message} (usage: npm run lab [-- --build-only] [-- --port N])`);
    process.exit(2);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`lab: --port must be 0..65535, got '${values.port}'`);
    process.exit(2);
  }
  await buildLab();
  console.log(`pinsim lab: built ${OUT}/`);
  if (!values['build-only']) serve(port);
}
