// boot(): lays out a machine and returns its Kernel. Options are checked
// before anything is loaded: an unknown key, a wrong type or a value out of
// range is a TypeError/RangeError with Node's codes (ERR_INVALID_ARG_TYPE,
// ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE) whose message echoes the value
// as given.
import { PAGE_SIZE, MAX_PFN_BITS } from '../assembly/constants';
import type { Backend } from './core/types';
import { isWasmSource, type WasmSource } from './core/load';
import { createCore } from './core/create';
import { argError } from './errors';
import { parseSize, showSize } from './units';
import type { ThpMode } from './mm/vma';
import { Kernel } from './devices/kernel';
import { parseMemlock, DEFAULT_MEMLOCK, type MemlockOption } from './cred';
import { resolveRules, type KernelName } from './eras/presets';
import type { RuleKey, KernelRules } from './eras/timeline';

const PAGE = PAGE_SIZE;
const MIB4 = 4 * 1024 * 1024; // MAX_PAGE_ORDER block: zones are laid out in these
const MAX_FRAMES = 2 ** MAX_PFN_BITS;
const MAX_BYTES = MAX_FRAMES * PAGE; // 256 GiB: a flat memmap, every pfn in a PTE
const GIB = 1024 ** 3;
// Above MAX_BYTES the memmap is sparse (assembly/mem.ts): struct pages only
// for what the boot-time 1 GiB pool leaves, at most SPARSE_FLAT_BYTES.
const SPARSE_MAX_BYTES = 1024 * GIB;
const SPARSE_FLAT_BYTES = 128 * GIB;

export interface BootOptions {
  memory?: string | number; // RAM, default '1GiB'
  backend?: Backend; // default 'wasm'
  movable?: string | number; // ZONE_MOVABLE size (top of RAM; kernelcore/movablecore)
  cma?: string | number; // CMA area, top of ZONE_NORMAL
  hugepages?: { '2MiB'?: number; '1GiB'?: number }; // boot-time hugetlb pools
  thp?: ThpMode; // /sys/kernel/mm/transparent_hugepage/enabled, default 'always'
  pmem?: string | number; // fsdax device memory (ZONE_DEVICE), default 0
  // The Wasm core (backend 'wasm'): 'release', 'sparse' or 'debug' found
  // beside the library (default 'release', 'sparse' above 256 GiB), or a
  // URL/path of a .wasm, a fetch Response, the bytes, or a compiled
  // WebAssembly.Module.
  wasm?: WasmSource;
  // RLIMIT_MEMLOCK of spawned tasks: a size ('64KiB', bytes, Infinity) or
  // { soft, hard }; default 8MiB (MLOCK_LIMIT since Linux 5.16).
  memlock?: MemlockOption;
  // Pin provenance: record who took every GUP reference (k.pins(),
  // k.pinners(), k.leaks(), misuse explanations); default false.
  track?: boolean;
  // The kernel era whose pinning rules the machine follows: '5.5', '5.8',
  // '5.10', '5.18', '6.4' or 'latest' (default), or an alias ('5.6', '5.7',
  // '5.9', '6.1', '6.11'); rules overrides single keys (src/eras/timeline.ts).
  kernel?: KernelName;
  rules?: Partial<{ [K in RuleKey]: KernelRules[K] }>;
}

const KNOWN: readonly (keyof BootOptions)[] = ['memory', 'backend', 'movable', 'cma', 'hugepages', 'thp', 'pmem', 'wasm', 'memlock', 'track', 'kernel', 'rules'];

function sizeOpt(what: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const bytes = parseSize(what, v);
  if (bytes % MIB4 !== 0) throw argError('ERR_INVALID_ARG_VALUE', `${what} must be a multiple of 4MiB, got ${showSize(v)}`);
  return bytes;
}

function countOpt(what: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number') throw argError('ERR_INVALID_ARG_TYPE', `${what} must be a number, got ${typeof v}`);
  if (!Number.isSafeInteger(v) || v < 0) throw argError('ERR_INVALID_ARG_VALUE', `${what} must be a non-negative integer, got ${v}`);
  return v;
}

function oneOf<T extends string>(what: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${typeof v}`);
  if (!allowed.includes(v as T)) throw argError('ERR_INVALID_ARG_VALUE', `${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${v}'`);
  return v as T;
}

function checkKnown(opts: object): void {
  for (const key of Object.keys(opts)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw argError('ERR_INVALID_ARG_VALUE', `boot: unknown option '${key}' (known: ${KNOWN.join(', ')})`);
    }
  }
}

function hugepagesOpt(hp: unknown): [number, number] {
  if (hp === undefined) return [0, 0];
  if (typeof hp !== 'object' || hp === null) throw argError('ERR_INVALID_ARG_TYPE', 'hugepages must be an object like { "2MiB": 16 }');
  for (const k of Object.keys(hp)) {
    if (k !== '2MiB' && k !== '1GiB') throw argError('ERR_INVALID_ARG_VALUE', `hugepages: unknown size '${k}' (known: '2MiB', '1GiB')`);
  }
  const pools = hp as Record<string, unknown>;
  return [countOpt("hugepages['2MiB']", pools['2MiB']), countOpt("hugepages['1GiB']", pools['1GiB'])];
}

// A machine above 256 GiB: up to 1 TiB, mostly boot-time 1 GiB hugetlb
// pages, whose tails share struct pages (HVO), without ZONE_MOVABLE or CMA
// (pmem was refused before, with the flat machine's message).
function sparseCheck(given: string, ram: number, movable: number, cma: number, pool1g: number): void {
  if (ram > SPARSE_MAX_BYTES) throw argError('ERR_OUT_OF_RANGE', `memory ${given} exceeds ${SPARSE_MAX_BYTES / GIB}GiB`);
  const flat = ram - pool1g * GIB;
  if (ram % GIB || flat > SPARSE_FLAT_BYTES || flat < GIB || movable || cma) {
    throw argError('ERR_OUT_OF_RANGE', `memory ${given} exceeds ${MAX_BYTES / GIB}GiB: above that pinsim needs a whole number of GiB with all but 1..${SPARSE_FLAT_BYTES / GIB}GiB in hugepages['1GiB'] (got ${pool1g}) and no movable or cma (struct pages are kept for the rest only)`);
  }
}

export async function boot(opts: BootOptions = {}): Promise<Kernel> {
  if (typeof opts !== 'object' || opts === null) throw argError('ERR_INVALID_ARG_TYPE', 'boot options must be an object');
  checkKnown(opts);
  const ram = sizeOpt('memory', opts.memory, 1024 ** 3);
  const movable = sizeOpt('movable', opts.movable, 0);
  const cma = sizeOpt('cma', opts.cma, 0);
  const pmem = sizeOpt('pmem', opts.pmem, 0);
  const backend = oneOf('backend', opts.backend, ['wasm', 'ts'] as const, 'wasm');
  const thp = oneOf('thp', opts.thp, ['always', 'madvise', 'never'] as const, 'always');
  const [pool2m, pool1g] = hugepagesOpt(opts.hugepages);
  const memlock = opts.memlock === undefined ? { soft: DEFAULT_MEMLOCK, hard: DEFAULT_MEMLOCK } : parseMemlock(opts.memlock);
  if (opts.track !== undefined && typeof opts.track !== 'boolean') throw argError('ERR_INVALID_ARG_TYPE', `track must be a boolean, got ${typeof opts.track}`);
  const era = resolveRules(opts.kernel, opts.rules);
  const sparse = ram > MAX_BYTES;
  const wasm = opts.wasm ?? (sparse ? 'sparse' : 'release');
  if (!isWasmSource(wasm)) {
    throw argError(typeof wasm === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
      `wasm must be 'release', 'sparse', 'debug', a URL or path of a .wasm file, a Response, the bytes or a WebAssembly.Module; got ${typeof wasm === 'string' ? `'${wasm}'` : typeof wasm}`);
  }
  const given = opts.memory === undefined ? "'1GiB' (the default)" : showSize(opts.memory);
  if (ram < 4 * MIB4) throw argError('ERR_OUT_OF_RANGE', `memory must be at least 16MiB, got ${given}`);
  if (ram + pmem > MAX_BYTES && pmem) {
    throw argError('ERR_OUT_OF_RANGE', `memory ${given} + pmem ${showSize(opts.pmem)} exceeds ${MAX_BYTES / GIB}GiB (pinsim's pfns are ${MAX_PFN_BITS}-bit)`);
  }
  if (sparse) sparseCheck(given, ram, movable, cma, pool1g);
  if (movable + cma > ram - 2 * MIB4) {
    throw argError('ERR_OUT_OF_RANGE', `movable ${showSize(opts.movable ?? 0)} + cma ${showSize(opts.cma ?? 0)} must leave at least 8MiB of ZONE_NORMAL in memory ${given}`);
  }
  const nrFrames = (ram + pmem) / PAGE;
  const core = await createCore(backend, wasm, () => nrFrames, sparse);
  if (sparse && !core.sparse_capable()) {
    throw argError('ERR_OUT_OF_RANGE', `memory ${given} exceeds ${MAX_BYTES / GIB}GiB, which this Wasm core (a flat-only build such as 'release') cannot hold: pass wasm: 'sparse' (or 'debug'), or leave wasm out, or boot at most ${MAX_BYTES / GIB}GiB`);
  }
  core.boot(ram / PAGE, movable / PAGE, cma / PAGE, pmem / PAGE, pool2m, pool1g);
  const k = new Kernel(core, { ram, movable, cma, pmem, thp, pool2m, pool1g, memlock, era });
  if (opts.track) k.startTracking();
  return k;
}
