// Builds what is older than its sources, and says so; nothing when all is
// fresh. Used by `npm start`, `npm run gup-test` and the benchmarks
// (`npm test` always builds everything, type check included).
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The mtimes of the files under these paths; -1 for a path that does not
// exist (an output not built yet is older than anything).
function mtimes(paths) {
  return paths.flatMap((p) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return [-1];
    }
    if (s.isDirectory()) return mtimes(readdirSync(p).map((f) => join(p, f)));
    return /\.md$|baseline\.json$/.test(p) ? [] : [s.mtimeMs]; // docs and bench data build nothing
  });
}

const asc = 'node_modules/.bin/asc';
const steps = [
  { what: 'the release Wasm build', cmd: [asc, 'assembly/index.ts', '--target', 'release'],
    inputs: ['assembly', 'asconfig.json'], outputs: ['build/pinsim.release.wasm'] },
  { what: 'the sparse Wasm build', cmd: [asc, 'assembly/index.ts', '--target', 'sparse'],
    inputs: ['assembly', 'asconfig.json'], outputs: ['build/pinsim.sparse.wasm'] },
  { what: 'the debug Wasm build', cmd: [asc, 'assembly/index.ts', '--target', 'debug'],
    inputs: ['assembly', 'asconfig.json'], outputs: ['build/pinsim.debug.wasm'] },
  { what: 'the JS bundles', cmd: [process.execPath, 'scripts/build.mjs'],
    inputs: ['assembly', 'src', 'bench', 'fuzz', 'scripts/build.mjs', 'package.json', 'build/pinsim.release.wasm', 'build/pinsim.sparse.wasm', 'build/pinsim.debug.wasm'],
    outputs: ['build/ts-core.js', 'dist/pinsim.js', 'dist/pinsim.release.wasm', 'dist/pinsim.sparse.wasm', 'dist/pinsim.debug.wasm', 'dist/cli.js', 'build/bench/run.js', 'build/bench/boot.js', 'build/bench/page.js', 'build/fuzz/cli.js', 'build/fuzz/worker.js'] },
];

for (const s of steps) {
  const newestInput = Math.max(...mtimes(s.inputs));
  const oldestOutput = Math.min(...mtimes(s.outputs));
  if (newestInput <= oldestOutput) continue;
  console.error(`pinsim: building ${s.what} (${oldestOutput < 0 ? 'not built yet' : 'sources changed'}): ${s.cmd.join(' ')}`);
  execFileSync(s.cmd[0], s.cmd.slice(1), { stdio: 'inherit' });
}
