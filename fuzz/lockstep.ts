// The lockstep runner: one op sequence on two machines (the Wasm core and
// the pure-TS core, or the two Wasm builds), every result and the state
// digest compared after every op, each machine's own invariants checked
// after every op, and the teardown checks at the end. Throws a FuzzFinding.
import fc from 'fast-check';
import { PRESETS, ALIASES, type KernelName, type KernelRules } from '../src/index';
import { Machine, FuzzFinding, fail, type Shape, type Flavour } from './machine';
import { opsArb, type Family, type Op } from './ops';

export type Pair = 'debug-ts' | 'release-ts' | 'debug-release';
export const PAIRS: Pair[] = ['debug-ts', 'release-ts', 'debug-release'];

export interface RunOptions {
  pair: Pair;
  slowOpMs: number; // an op slower than this is a finding (host time that grows with a size)
  onOp?: (i: number, o: Op) => void; // called before each op starts
}

// Every kernel name boot() takes, 'latest' first: a finding shrinks towards it.
export const KERNELS: readonly KernelName[] = ['latest', ...PRESETS.filter((p) => p !== 'latest'), ...ALIASES];

// A machine shape; kernel: one preset, or (default) any of them; rules:
// overrides every machine gets (default: none, or half the time the
// LRU-batch reference switch, which any preset may have).
export function shapeArb(kernel?: KernelName, rules?: Partial<KernelRules>): fc.Arbitrary<Shape> {
  return fc.record({
    thp: fc.constantFrom('always' as const, 'madvise' as const, 'never' as const),
    movable: fc.boolean(), cma: fc.boolean(), pool: fc.constantFrom(3, 4), track: fc.boolean(),
    kernel: kernel === undefined ? fc.constantFrom(...KERNELS) : fc.constant(kernel),
    rules: rules ? fc.constant(rules) : fc.constantFrom<Partial<KernelRules> | undefined>(undefined, { lruBatchRef: true }),
  });
}

// A run: a machine shape and the ops, drawn from the given families.
export function runArb(families: readonly Family[], maxOps = 80, kernel?: KernelName, rules?: Partial<KernelRules>): fc.Arbitrary<[Shape, Op[]]> {
  return fc.tuple(shapeArb(kernel, rules), opsArb(families, maxOps));
}

function machines(pair: Pair, s: Shape): Promise<Machine>[] {
  const [x, y] = pair.split('-') as [Flavour | 'ts', Flavour | 'ts'];
  const one = (f: Flavour | 'ts') => (f === 'ts' ? Machine.boot('ts', 'debug', s) : Machine.boot('wasm', f, s));
  return [one(x), one(y)];
}

// The full digest hashes every page-table slot too (tens of ms on a debug
// build): after every few ops and at the end. After every op, the frame
// array, the counters and the zones' free counts are compared directly.
const DIGEST_EVERY = 16;
const FORGET_WALK_EVERY = 3;
const VIEWS = ['flags', 'refcount', 'mapcount', 'data', 'mapping', 'index', 'head', 'stats', 'zoneFree'] as const;

// k.frameMap() (the core's per-pixel summary, the lab's picture) of both
// machines, one frame a pixel and the whole machine in 256 pixels: the
// first pixel that differs, or null.
function summaryDiff(a: Machine, b: Machine): string | null {
  const n = a.k.nrFrames;
  for (const per of [1, Math.ceil(n / 256)]) {
    const pixels = Math.ceil(n / per);
    const x = a.k.frameMap(0, per, pixels);
    const y = b.k.frameMap(0, per, pixels);
    const i = x.findIndex((v, j) => v !== y[j]);
    if (i >= 0) return `frameMap(0, ${per}, ${pixels})[${i}]: ${a.k.backend} ${x[i]}, ${b.k.backend} ${y[i]}`;
  }
  return null;
}

function frameDiff(a: Machine, b: Machine): string | null {
  for (const name of VIEWS) {
    const x = a.k.v[name];
    const y = b.k.v[name];
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i] && !(x[i] !== x[i] && y[i] !== y[i])) return `${name}[${i}]: ${a.k.backend} ${x[i]}, ${b.k.backend} ${y[i]}`;
    }
  }
  return null;
}

export async function runLockstep(shape: Shape, ops: Op[], opts: RunOptions): Promise<void> {
  const [a, b] = await Promise.all(machines(opts.pair, shape));
  const inA = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof FuzzFinding) e.message = `${what}: ${e.message}`;
      throw e;
    }
  };
  for (const [i, o] of ops.entries()) {
    opts.onOp?.(i, o);
    // No result may depend on the core's remembered page-table walk (which
    // one-page GUP-fast calls take a short path under): the second machine
    // forgets it before every third op.
    if (i % FORGET_WALK_EVERY === 1) b.k.core.walk_cache_reset();
    const at = `step ${i} ${JSON.stringify(o)}`;
    const t0 = performance.now();
    let ra = '';
    let rb = '';
    inA(`${at} on ${a.k.backend}`, () => { ra = a.outcome(o); });
    inA(`${at} on ${b.k.backend}`, () => { rb = b.outcome(o); });
    const ms = performance.now() - t0;
    if (ms > opts.slowOpMs) fail(`${at} took ${Math.round(ms)} ms on the two machines (limit ${opts.slowOpMs} ms)`);
    if (ra !== rb) fail(`${at}: the cores disagree: ${a.k.backend} ${ra}, ${b.k.backend} ${rb}`);
    const diff = frameDiff(a, b);
    if (diff) fail(`${at}: the machine states differ: ${diff}`);
    if (a.oops !== null) return; // a kernel BUG stopped both machines (their results agree): the run ends here
    if (i % DIGEST_EVERY === DIGEST_EVERY - 1) {
      if (a.k.digest() !== b.k.digest()) fail(`${at}: the machine states differ (digest)`);
      const sum = summaryDiff(a, b);
      if (sum) fail(`${at}: the cores summarise the frames differently: ${sum}`);
    }
  }
  opts.onOp?.(ops.length, { op: 'writeback' }); // the teardown
  inA(`teardown on ${a.k.backend}`, () => a.teardown());
  inA(`teardown on ${b.k.backend}`, () => b.teardown());
  if (a.k.digest() !== b.k.digest()) fail('the machine states differ after teardown (digest)');
}
