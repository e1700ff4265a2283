// A finding as a developer needs it: the seed and fast-check path that
// replay it, the shrunk ops as JSON to paste into a test, and a listing.
import type fc from 'fast-check';
import type { Shape } from './machine';
import { familyOf, type Op } from './ops';

export function listing(ops: Op[]): string {
  return ops.map((o, i) => {
    const { op, ...args } = o as Op & Record<string, unknown>;
    return `  ${String(i).padStart(3)}  ${op}(${Object.entries(args).map(([k, v]) => `${k}=${String(v)}`).join(', ')})`;
  }).join('\n');
}

// The ops up to the one that failed: the rest never ran.
function ran(ops: Op[], err: string): Op[] {
  const m = /^(?:hang: .*?)?step (\d+) /.exec(err) ?? /never returned: step (\d+) /.exec(err);
  return m ? ops.slice(0, Number(m[1]) + 1) : ops;
}

// kernel, rules: the --kernel and --rules the run was given (replaying needs them too).
export function formatFinding(r: fc.RunDetails<[[Shape, Op[]]]>, kernel?: string, rules?: object): string {
  const err = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
  const [[shape, all]] = r.counterexample!;
  const ops = ran(all, err);
  return [
    `FINDING: ${err}`,
    `seed ${r.seed}, path "${r.counterexamplePath}" (replay: npm run fuzz -- --seed ${r.seed} --path ${r.counterexamplePath}${kernel ? ` --kernel ${kernel}` : ''}${rules ? ` --rules ${Object.entries(rules).map(([k, v]) => `${k}=${String(v)}`).join(',')}` : ''}), shrunk ${r.numShrinks} times`,
    `shape: ${JSON.stringify(shape)}`,
    `ops (${ops.length}; families ${[...new Set(ops.map(familyOf))].join(', ')}):`,
    JSON.stringify(ops),
    listing(ops),
  ].join('\n');
}
