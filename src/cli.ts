// The pinsim command line (Node only).
import { tour } from './tour/index';

const [cmd = 'tour', ...rest] = process.argv.slice(2);
const backend = rest.includes('--backend=ts') || rest.includes('ts') ? 'ts' : 'wasm';
if (cmd === 'tour') {
  await tour((line) => console.log(line), backend);
} else {
  console.error(`usage: pinsim tour [--backend=wasm|ts]`);
  process.exit(2);
}
