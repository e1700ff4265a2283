// boot(): lays out a machine and returns its Kernel.
import { PAGE_SIZE, MAX_PFN_BITS } from '../assembly/constants';
import type { Backend } from './core/core';
import { createCore, type WasmSource } from './core/load';
import { parseSize } from './units';
import type { ThpMode } from './mm/vma';
import { Kernel } from './gup/kernel';

const PAGE = PAGE_SIZE;
const MIB4 = 4 * 1024 * 1024; // MAX_PAGE_ORDER block: zones are laid out in these
const MAX_FRAMES = 2 ** MAX_PFN_BITS;

export interface BootOptions {
  memory?: string | number; // RAM, default '1GiB'
  backend?: Backend; // default 'wasm'
  movable?: string | number; // ZONE_MOVABLE size (top of RAM; kernelcore/movablecore)
  cma?: string | number; // CMA area, top of ZONE_NORMAL
  hugepages?: { '2MiB'?: number; '1GiB'?: number }; // boot-time hugetlb pools
  thp?: ThpMode; // /sys/kernel/mm/transparent_hugepage/enabled, default 'always'
  pmem?: string | number; // fsdax device memory (ZONE_DEVICE), default 0
  wasm?: WasmSource; // 'release' (default), 'debug', or a compiled WebAssembly.Module
}

function sizeOpt(what: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const bytes = parseSize(what, v);
  if (bytes % MIB4 !== 0) throw new RangeError(`${what} must be a multiple of 4MiB, got ${bytes}`);
  return bytes;
}

function countOpt(what: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number`);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
  return v;
}

export async function boot(opts: BootOptions = {}): Promise<Kernel> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('boot options must be an object');
  const ram = sizeOpt('memory', opts.memory, 1024 ** 3);
  const movable = sizeOpt('movable', opts.movable, 0);
  const cma = sizeOpt('cma', opts.cma, 0);
  const pmem = sizeOpt('pmem', opts.pmem, 0);
  const backend = opts.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') throw new RangeError(`backend must be 'wasm' or 'ts', got ${String(backend)}`);
  const thp = opts.thp ?? 'always';
  if (!['always', 'madvise', 'never'].includes(thp)) throw new RangeError(`thp must be 'always', 'madvise' or 'never'`);
  const hp = opts.hugepages ?? {};
  if (typeof hp !== 'object') throw new TypeError('hugepages must be an object like { "2MiB": 16 }');
  for (const k of Object.keys(hp)) if (k !== '2MiB' && k !== '1GiB') throw new RangeError(`hugepages: unknown size '${k}'`);
  const pool2m = countOpt("hugepages['2MiB']", hp['2MiB']);
  const pool1g = countOpt("hugepages['1GiB']", hp['1GiB']);
  if (ram < 4 * MIB4) throw new RangeError('memory must be at least 16MiB');
  if ((ram + pmem) / PAGE > MAX_FRAMES) throw new RangeError('memory + pmem must not exceed 64GiB (24-bit pfns)');
  if (movable + cma > ram - 2 * MIB4) throw new RangeError('movable + cma must leave at least 8MiB of ZONE_NORMAL');
  const nrFrames = (ram + pmem) / PAGE;
  const core = await createCore(backend, opts.wasm ?? 'release', () => nrFrames, () => ram / PAGE);
  core.boot(ram / PAGE, movable / PAGE, cma / PAGE, pmem / PAGE, pool2m, pool1g);
  return new Kernel(core, { ram, movable, cma, pmem, thp, pool2m, pool1g });
}

