// A finding as a developer needs it: the seed and fast-check path that
// replay it, the shrunk ops as JSON to paste into a test, and a listing.
import type fc from 'fast-check';
import type { Shape } from './machine';
import type { Op } from './ops';

export function listing(ops: Op[]): string {
  return ops.map((o, i) => {
    const { op, ...args } = o as Op & Record<string, unknown>;
    return `  ${String(i).padStart(3)}  ${op}(${Object.entries(args).map(([k, v]) => `${k}=${String(v)}`).join(', ')})`;
  }).join('\n');
}

export function formatFinding(r: fc.RunDetails<[[Shape, Op[]]]>): string {
  const [[shape, ops]] = r.counterexample!;
  const err = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
  return [
    `FINDING: ${err}`,
    `seed ${r.seed}, path "${r.counterexamplePath}" (replay: npm run fuzz -- --seed ${r.seed} --path ${r.counterexamplePath}), shrunk ${r.numShrinks} times`,
    `shape: ${JSON.stringify(shape)}`,
    `ops (${ops.length}):`,
    JSON.stringify(ops),
    listing(ops),
  ].join('\n');
}
