// Running a plan on a pinsim machine through the public API, call by call,
// as the program would make them: what each call charged (from
// k.memlockLedger()), the counters after it, and the first failure.
import * as C from '../../assembly/constants';
import { boot } from '../boot';
import type { Backend } from '../core/types';
import type { WasmSource } from '../core/load';
import type { Kernel } from '../devices/kernel';
import type { RdmaNic, IbPd } from '../devices/rdma';
import { SyscallError, type MemlockDetail } from '../errors';
import type { Task } from '../task';
import { UNALIGNED_OFFSET, type Plan, type PlanCall } from './plan';

const PAGE = C.PAGE_SIZE;
const MIB = 2 ** 20;
const HPAGE = 2 * MIB;
const GPAGE = 2 ** 30;
// The largest machine a run boots. Above it the plan runs scaled down
// (machineFor()). A run costs about 0.25 s per GiB of 4 KiB pages on the
// Wasm core (fault-in, pin, account) on a loaded 2-core machine, and a plan
// takes 4-7 runs: 8 GiB keeps the worst plan around 15 s.
export const MAX_RUN_BYTES = 8 * 2 ** 30;

export type Counter = 'mm.locked_vm' | 'mm.pinned_vm' | 'user.locked_vm' | 'mm.total_vm';
export const COUNTERS: readonly Counter[] = ['mm.locked_vm', 'mm.pinned_vm', 'user.locked_vm', 'mm.total_vm'];

// The machine a plan runs on: RAM and hugetlb pools sized to fit it, and
// the factor its sizes are divided by when the real size would not fit.
export interface Machine {
  memory: number; // bytes
  hugepages: { '2MiB': number; '1GiB': number };
  scale: number; // 1, or a power of two: every size ÷ scale, every page count × scale
  exact: boolean; // false when scaling makes the page counts an upper bound (see machineFor)
}

// One charge a call made: a memlock counter, who charged it, how many pages.
export interface Charge { counter: Counter; by: string; device?: string; pages: number }

export interface CallFailure {
  code: string; // errno name
  syscall: string;
  message: string;
  memlock?: MemlockDetail; // when a RLIMIT_MEMLOCK check refused it
}

export interface CallResult {
  index: number;
  status: 'ok' | 'failed' | 'not run';
  charges: Charge[];
  counters: Record<Counter, number>; // after the call
  error?: CallFailure;
}

export interface PlanRun {
  limitPages: number; // RLIMIT_MEMLOCK >> PAGE_SHIFT of this run (Infinity: RLIM_INFINITY)
  cap: boolean; // the task held CAP_IPC_LOCK
  passed: boolean;
  calls: CallResult[];
  // The highest value any counter reached, and total_vm where mlockall(MCL_CURRENT)
  // checked it: usually the smallest limit (the search's first candidate).
  peak: number;
}

// onRun: told of every finished run (the CLI's progress line on a TTY).
export interface RunOptions { backend?: Backend; wasm?: WasmSource; onRun?: (r: PlanRun) => void }

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function granule(c: PlanCall): number {
  return c.hugepages === '1GiB' ? GPAGE : c.hugepages === null ? PAGE : HPAGE; // THP: whole PMDs
}

// A buffer's size on the (scaled) machine: scaled sizes rounded up to a page.
function bufferBytes(c: PlanCall, scale: number): number {
  return scale === 1 ? c.size : roundUp(Math.ceil(c.size / scale), PAGE);
}

// The mapping a call's buffers live in, in (scaled) bytes.
function mappingBytes(c: PlanCall, scale: number): number {
  if (c.kind === 'mlockall') return 0;
  const size = bufferBytes(c, scale);
  const shared = c.kind === 'vfio' || c.kind === 'iommufd';
  return roundUp((shared ? size : c.count * size) + (c.unaligned ? UNALIGNED_OFFSET : 0), granule(c));
}

// Sizes the machine: every mapping, its page tables (8 bytes per 4 KiB
// page) and 64 MiB for the rest. Bigger than maxBytes: the smallest
// power-of-two scale that fits. A scaled run divides each size by the
// scale (rounded up to a page) and multiplies the page counts back: exact
// for page-aligned buffers whose size is a multiple of scale × their page
// size (2 MiB under THP); otherwise the per-buffer constant terms (the extra page of an
// unaligned buffer, MSG_ZEROCOPY's +2, a partly used huge page) are
// multiplied too, so the counts and the limit are upper bounds.
export function machineFor(plan: Plan, maxBytes = MAX_RUN_BYTES): Machine {
  const need = (scale: number): { memory: number; hugepages: Machine['hugepages'] } => {
    let bytes = 64 * MIB;
    const hugepages = { '2MiB': 0, '1GiB': 0 };
    for (const c of plan.calls) {
      const m = mappingBytes(c, scale);
      bytes += m + m / 512;
      if (c.hugepages === '2MiB') hugepages['2MiB'] += m / HPAGE;
      if (c.hugepages === '1GiB') hugepages['1GiB'] += m / GPAGE;
    }
    return { memory: roundUp(bytes, hugepages['1GiB'] ? GPAGE : 4 * MIB), hugepages };
  };
  let scale = 1;
  while (need(scale).memory > maxBytes) scale *= 2;
  // Where THP may back a buffer, io_uring charges whole 2 MiB folios.
  const page = (c: PlanCall): number => (plan.thp === 'always' ? Math.max(HPAGE, granule(c)) : granule(c));
  const exact = scale === 1 || plan.calls.every((c) => c.kind === 'mlockall'
    || (!c.unaligned && c.kind !== 'zerocopy' && c.size % (scale * page(c)) === 0));
  return { ...need(scale), scale, exact };
}

// What a running plan keeps between calls.
interface Ctx { k: Kernel; t: Task; scale: number; nic?: RdmaNic; pd?: IbPd; devices: number; next: number }

const FIRST_MAPPING = 2 ** 44; // where the first call's mapping goes (16 TiB)
// Where VFIO maps guest RAM: above 4 GiB, clear of the MSI window under it.
const GUEST_IOVA = 2 ** 32;

// The call's buffers: one anonymous mapping (hugetlb with hugepages) at a
// 1 GiB-aligned address of its own (MAP_FIXED_NOREPLACE: exactly the
// length, nothing extra for mlockall(MCL_FUTURE) to lock); the addresses
// of its count buffers.
function buffers(x: Ctx, c: PlanCall): number[] {
  const length = mappingBytes(c, x.scale);
  const size = bufferBytes(c, x.scale);
  const huge = c.hugepages === '2MiB' ? C.MAP_HUGETLB | C.MAP_HUGE_2MB : c.hugepages === '1GiB' ? C.MAP_HUGETLB | C.MAP_HUGE_1GB : 0;
  const base = x.t.mmap({ addr: x.next, length, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED_NOREPLACE | huge });
  x.next += roundUp(length, GPAGE) + GPAGE;
  if (c.hugepages === 'thp') x.t.madvise(base, length, C.MADV_HUGEPAGE);
  const first = base + (c.unaligned ? UNALIGNED_OFFSET : 0);
  const n = c.kind === 'vfio' || c.kind === 'iommufd' ? 1 : c.count;
  return Array.from({ length: n }, (_, i) => first + i * size);
}

// A PCI address for the n-th assigned device: 01:00.0, 01:01.0, ... 02:00.0
function bdf(n: number): string {
  const hex2 = (v: number): string => v.toString(16).padStart(2, '0');
  return `${hex2(1 + (n >> 5))}:${hex2(n & 31)}.0`;
}

// One call, made as a program would make it.
function makeCall(x: Ctx, c: PlanCall): void {
  const { k, t } = x;
  if (c.kind === 'mlockall') return t.mlockall(c.flags);
  const bufs = buffers(x, c);
  const size = bufferBytes(c, x.scale);
  switch (c.kind) {
    case 'rdma': {
      x.nic ??= k.rdma();
      x.pd ??= x.nic.alloc_pd(t);
      for (const a of bufs) x.nic.reg_mr(x.pd, a, size, C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ);
      return;
    }
    case 'io_uring': {
      const ring = t.io_uring_setup(8);
      // A scaled buffer would slip under io_buffer_validate()'s 1 GiB cap:
      // the ring answers for the real size.
      if (x.scale > 1 && c.size > C.IO_BUF_MAX_LEN) throw new SyscallError('io_uring_register', 'EFAULT', C.EFAULT, `a buffer of ${c.size} bytes is over the 1 GiB cap (io_buffer_validate)`);
      return ring.register_buffers(bufs.map((a) => ({ iov_base: a, iov_len: size })));
    }
    case 'vfio':
      for (let i = 0; i < c.count; i++) {
        const ct = t.vfio({ iommu: 'type1v2', bdf: bdf(x.devices++) });
        ct.map_dma({ vaddr: bufs[0]!, iova: GUEST_IOVA, size, flags: C.VFIO_DMA_MAP_FLAG_READ | C.VFIO_DMA_MAP_FLAG_WRITE });
      }
      return;
    case 'iommufd': {
      const fd = t.iommufd({ compat: c.compat });
      for (let i = 0; i < c.count; i++) {
        const ioas = fd.ioas_alloc();
        fd.attach({ ioas, bdf: bdf(x.devices++) });
        fd.ioas_map({ ioas, user_va: bufs[0]!, length: size, flags: C.IOMMU_IOAS_MAP_READABLE | C.IOMMU_IOAS_MAP_WRITEABLE });
      }
      return;
    }
    case 'xdp':
      for (const a of bufs) t.xdp_umem_reg({ addr: a, len: size, chunk_size: 2048 });
      return;
    case 'zerocopy': {
      const sock = t.socket_tcp();
      sock.setsockopt_zerocopy(true);
      for (const a of bufs) sock.sendmsg(a, size, C.MSG_ZEROCOPY);
      return;
    }
    case 'mlock':
      for (const a of bufs) t.mlock(a, size);
  }
}

function counters(k: Kernel, t: Task): Record<Counter, number> {
  return { 'mm.locked_vm': t.mm.locked_vm, 'mm.pinned_vm': t.mm.pinned_vm, 'user.locked_vm': k.user(t.uid).locked_vm, 'mm.total_vm': t.mm.total_vm };
}

// The ledger summed per counter, charger and device.
function ledger(k: Kernel): Map<string, Charge> {
  const out = new Map<string, Charge>();
  for (const e of k.memlockLedger()) {
    const key = `${e.counter}\0${e.by}\0${e.device ?? ''}`;
    const c = out.get(key) ?? { counter: e.counter, by: e.by, ...(e.device === undefined ? {} : { device: e.device }), pages: 0 };
    c.pages += e.pages;
    out.set(key, c);
  }
  return out;
}

function diff(before: Map<string, Charge>, after: Map<string, Charge>): Charge[] {
  const out: Charge[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(key);
    const b = before.get(key);
    const pages = (a?.pages ?? 0) - (b?.pages ?? 0);
    if (pages !== 0) out.push({ ...(a ?? b)!, pages });
  }
  return out;
}

function failure(e: unknown): CallFailure {
  const err = e as { code?: unknown; syscall?: unknown; message?: unknown; detail?: MemlockDetail };
  if (typeof err?.code !== 'string') throw e; // not the kernel's answer: a pinsim or planner bug
  return {
    code: err.code, syscall: String(err.syscall ?? ''), message: String(err.message ?? ''),
    ...(err.detail ? { memlock: { ...err.detail } } : {}),
  };
}

// The plan on a fresh machine, its task's RLIMIT_MEMLOCK limitPages pages
// (of the scaled machine; Infinity: unlimited) and with or without
// CAP_IPC_LOCK. Calls after the first failure are not run.
export async function runPlan(plan: Plan, machine: Machine, limitPages: number, cap: boolean, opts: RunOptions = {}): Promise<PlanRun> {
  const k = await boot({
    memory: machine.memory, hugepages: machine.hugepages, thp: plan.thp, kernel: plan.kernel,
    memlock: limitPages === Infinity ? Infinity : limitPages * PAGE,
    ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.wasm ? { wasm: opts.wasm } : {}),
  });
  const t = k.spawn({ name: 'app', caps: cap ? ['CAP_IPC_LOCK'] : [] });
  const x: Ctx = { k, t, scale: machine.scale, devices: 0, next: FIRST_MAPPING };
  const calls: CallResult[] = [];
  let peak = 0;
  let failed = false;
  for (const [index, c] of plan.calls.entries()) {
    if (failed) {
      calls.push({ index, status: 'not run', charges: [], counters: counters(k, t) });
      continue;
    }
    if (c.kind === 'mlockall' && c.flags & C.MCL_CURRENT) peak = Math.max(peak, t.mm.total_vm);
    const before = ledger(k);
    let error: CallFailure | undefined;
    try {
      makeCall(x, c);
    } catch (e) {
      error = failure(e);
      failed = true;
    }
    const after = counters(k, t);
    peak = Math.max(peak, after['mm.locked_vm'], after['mm.pinned_vm'], after['user.locked_vm']);
    calls.push({ index, status: error ? 'failed' : 'ok', charges: diff(before, ledger(k)), counters: after, ...(error ? { error } : {}) });
  }
  const r = { limitPages, cap, passed: !failed, calls, peak };
  opts.onRun?.(r);
  return r;
}
