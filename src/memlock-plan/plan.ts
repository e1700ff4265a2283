// A memlock plan: what a program will pin or lock, in order, and the
// machine it runs on. One schema for the JSON file and the command line
// (the CLI builds the same object from its flags). Parsing checks shape
// and types only: what the kernel refuses (a misaligned VFIO map, 16385
// io_uring buffers, MCL_ONFAULT alone) is the run's answer, not ours.
//
// {
//   "ulimit": "8MiB",            // RLIMIT_MEMLOCK: a size, bytes, or "unlimited" (default 8MiB)
//   "capIpcLock": false,         // the task holds CAP_IPC_LOCK (default false)
//   "kernel": "latest",          // a kernel preset or alias (default latest)
//   "thp": "madvise",            // transparent_hugepage/enabled (default madvise)
//   "calls": [                   // run in this order; the first failure ends the run
//     { "kind": "rdma", "count": 2, "size": "1GiB" },
//     { "kind": "io_uring", "count": 64, "size": "256KiB", "unaligned": true },
//     { "kind": "vfio", "size": "4GiB", "count": 2, "hugepages": "1GiB" },
//     { "kind": "mlockall", "flags": ["MCL_CURRENT", "MCL_FUTURE"] }
//   ]
// }
import * as C from '../../assembly/constants';
import { parseSize } from '../units';
import { PRESETS, ALIASES, type KernelName } from '../eras/presets';
import type { ThpMode } from '../mm/vma';

export const KINDS = ['rdma', 'io_uring', 'vfio', 'iommufd', 'xdp', 'zerocopy', 'mlock', 'mlockall'] as const;
export type CallKind = (typeof KINDS)[number];
export type HugePages = 'thp' | '2MiB' | '1GiB';

// What one entry of `calls` does (src/memlock-plan/run.ts runs it):
//  rdma      count MRs (ibv_reg_mr, LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ), one per buffer
//  io_uring  one ring, count fixed buffers registered in one IORING_REGISTER_BUFFERS
//  vfio      count type1v2 containers (one device each, as under a vIOMMU) each mapping the same size of guest RAM
//  iommufd   one /dev/iommu (compat: /dev/vfio/vfio), count IOASes with a device each, each mapping the same size
//  xdp       count AF_XDP sockets, each registering a UMEM of size (2 KiB chunks)
//  zerocopy  one TCP socket with SO_ZEROCOPY, count sends of size in flight (not yet acknowledged)
//  mlock     count mlock() calls, one per buffer
//  mlockall  mlockall(flags), default MCL_CURRENT | MCL_FUTURE (QEMU's -overcommit mem-lock=on)
// Buffers of one call lie back to back in one anonymous mapping (vfio and
// iommufd: one region all devices map), 1 KiB into it when unaligned.
export interface PlanCall {
  kind: CallKind;
  count: number;
  size: number; // bytes per buffer (0 for mlockall)
  unaligned: boolean;
  hugepages: HugePages | null; // what backs the buffers: THP (MADV_HUGEPAGE) or hugetlb pages
  flags: number; // mlockall's MCL_* flags
  compat: boolean; // iommufd opened as /dev/vfio/vfio (MM accounting)
}

export interface Plan {
  calls: PlanCall[];
  ulimit: number; // bytes, Infinity for unlimited
  capIpcLock: boolean;
  kernel: KernelName;
  thp: ThpMode;
}

export const DEFAULT_ULIMIT = 8 * 2 ** 20; // MLOCK_LIMIT since Linux 5.16, as boot()'s default
export const UNALIGNED_OFFSET = 1024; // where an unaligned call's first buffer starts in its mapping
const MAX_COUNT = 1 << 20;
const MAX_BUFFER_BYTES = 2 ** 42; // 4 TiB: far beyond any machine, small enough for exact arithmetic

export class PlanError extends Error {
  constructor(path: string, what: string) {
    super(path === '' ? what : `${path}: ${what}`);
    this.name = 'PlanError';
  }
}

const PLAN_KEYS = ['calls', 'ulimit', 'capIpcLock', 'kernel', 'thp'];
const CALL_KEYS = ['kind', 'count', 'size', 'unaligned', 'hugepages', 'flags', 'compat'];
const MCL: Record<string, number> = { MCL_CURRENT: C.MCL_CURRENT, MCL_FUTURE: C.MCL_FUTURE, MCL_ONFAULT: C.MCL_ONFAULT };
const KERNELS: readonly string[] = [...PRESETS, ...ALIASES];

function onlyKeys(path: string, o: Record<string, unknown>, known: string[]): void {
  const bad = Object.keys(o).find((k) => !known.includes(k));
  if (bad !== undefined) throw new PlanError(path, `unknown key '${bad}' (known: ${known.join(', ')})`);
}

function object(path: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PlanError(path, 'must be an object');
  return v as Record<string, unknown>;
}

function bool(path: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new PlanError(path, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new PlanError(path, `must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
  return v as T;
}

function size(path: string, v: unknown, max: number): number {
  let bytes: number;
  try {
    bytes = parseSize(path, v);
  } catch (e) {
    throw new PlanError('', (e as Error).message);
  }
  if (bytes <= 0 || bytes > max) throw new PlanError(path, `must be more than 0 and at most ${max} bytes, got ${JSON.stringify(v)}`);
  return bytes;
}

// RLIMIT_MEMLOCK as a user writes it for `ulimit -l` or a plan.
export function parseUlimit(path: string, v: unknown): number {
  if (v === undefined) return DEFAULT_ULIMIT;
  if (v === 'unlimited') return Infinity;
  if (v === 0 || v === '0') return 0;
  return size(path, v, Number.MAX_SAFE_INTEGER);
}

function parseCall(path: string, raw: unknown): PlanCall {
  const o = object(path, raw);
  onlyKeys(path, o, CALL_KEYS);
  if (o.kind === undefined) throw new PlanError(`${path}.kind`, `is required: one of ${KINDS.join(', ')}`);
  const kind = oneOf(`${path}.kind`, o.kind, KINDS, 'rdma');
  const call: PlanCall = { kind, count: 1, size: 0, unaligned: false, hugepages: null, flags: 0, compat: false };
  const forbid = (key: string, why: string): void => {
    if (o[key] !== undefined) throw new PlanError(`${path}.${key}`, why);
  };
  if (kind === 'mlockall') {
    for (const key of ['count', 'size', 'unaligned', 'hugepages']) forbid(key, 'mlockall takes only flags');
    const flags = o.flags ?? ['MCL_CURRENT', 'MCL_FUTURE'];
    if (!Array.isArray(flags)) throw new PlanError(`${path}.flags`, 'must be a list like ["MCL_CURRENT", "MCL_FUTURE"]');
    for (const f of flags) {
      if (typeof f !== 'string' || !(f in MCL)) throw new PlanError(`${path}.flags`, `unknown flag ${JSON.stringify(f)} (known: ${Object.keys(MCL).join(', ')})`);
      call.flags |= MCL[f]!;
    }
    return call;
  }
  forbid('flags', 'only mlockall takes flags');
  if (kind !== 'iommufd') forbid('compat', 'only iommufd takes compat');
  if (o.size === undefined) throw new PlanError(`${path}.size`, "is required (a size like '1GiB', or bytes)");
  call.size = size(`${path}.size`, o.size, MAX_BUFFER_BYTES);
  if (o.count !== undefined) {
    if (typeof o.count !== 'number' || !Number.isInteger(o.count) || o.count < 1 || o.count > MAX_COUNT) {
      throw new PlanError(`${path}.count`, `must be an integer from 1 to ${MAX_COUNT}, got ${JSON.stringify(o.count)}`);
    }
    call.count = o.count;
  }
  call.unaligned = bool(`${path}.unaligned`, o.unaligned);
  call.hugepages = o.hugepages === undefined ? null : oneOf(`${path}.hugepages`, o.hugepages, ['thp', '2MiB', '1GiB'] as const, 'thp');
  call.compat = bool(`${path}.compat`, o.compat);
  return call;
}

// A plan from its JSON form (already JSON.parse'd); PlanError says where
// and what is wrong.
export function parsePlan(raw: unknown): Plan {
  const o = object('plan', raw);
  onlyKeys('plan', o, PLAN_KEYS);
  if (!Array.isArray(o.calls) || o.calls.length === 0) throw new PlanError('calls', 'must be a non-empty list of calls');
  const calls = o.calls.map((c, i) => parseCall(`calls[${i}]`, c));
  return {
    calls,
    ulimit: parseUlimit('ulimit', o.ulimit),
    capIpcLock: bool('capIpcLock', o.capIpcLock),
    kernel: oneOf('kernel', o.kernel, KERNELS, 'latest') as KernelName,
    thp: oneOf('thp', o.thp, ['always', 'madvise', 'never'] as const, 'madvise'),
  };
}

// "64x256KiB" or "4GiB" (count 1), as the command line writes a call.
export function parseCountSize(path: string, spec: string): { count: number; size: string } {
  const m = /^\s*(?:(\d+)\s*[x×]\s*)?(\S+)\s*$/.exec(spec);
  if (!m) throw new PlanError(path, `cannot parse '${spec}' (use e.g. 4GiB or 64x256KiB)`);
  return { count: m[1] === undefined ? 1 : Number(m[1]), size: m[2]! };
}

// A call as one short phrase: "io_uring 64x256KiB unaligned".
export function describeCall(c: PlanCall): string {
  if (c.kind === 'mlockall') {
    const names = Object.entries(MCL).filter(([, v]) => c.flags & v).map(([n]) => n);
    return `mlockall(${names.join(' | ') || '0'})`;
  }
  const parts = [c.kind, `${c.count > 1 ? `${c.count}x` : ''}${showBytes(c.size)}`];
  if (c.unaligned) parts.push('unaligned');
  if (c.hugepages) parts.push(c.hugepages === 'thp' ? 'THP' : `hugetlb ${c.hugepages}`);
  if (c.compat) parts.push('compat');
  return parts.join(' ');
}

// Bytes in the largest unit that divides them: 262144 → '256KiB'.
export function showBytes(n: number): string {
  if (n === Infinity) return 'unlimited';
  for (const [u, f] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return `${n}B`;
}
