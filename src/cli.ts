// The pinsim command line (Node only).
import { tour } from './tour/index';
import { gupTestMain } from './gup-test/index';

const USAGE = `usage: pinsim tour [--backend=wasm|ts]
       pinsim gup-test [options]   (pinsim gup-test --help)`;

const [cmd = 'tour', ...rest] = process.argv.slice(2);
if (cmd === 'tour') {
  const backend = rest.includes('--backend=ts') || rest.includes('ts') ? 'ts' : 'wasm';
  await tour((line) => console.log(line), backend);
} else if (cmd === 'gup-test') {
  // exitCode, not exit(): let stdout drain.
  process.exitCode = await gupTestMain(rest, (line) => console.log(line), (line) => console.error(line));
} else if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log(USAGE);
} else {
  console.error(USAGE);
  process.exitCode = 2;
}
