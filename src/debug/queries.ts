// The questions k.pins(), k.pinners(), k.leaks() and k.withCaller() answer
// from the provenance records (src/debug/provenance.ts).
import { compoundHead } from '../inspect/page';
import type { Kernel } from '../devices/kernel';
import type { PinRecord, Tracker } from './provenance';

function tracker(k: Kernel, what: string): Tracker {
  if (!k.tracker) throw new Error(`${what}: pin provenance is off (boot({ track: true }) turns it on)`);
  return k.tracker;
}

export function withCaller<T>(k: Kernel, tag: string, fn: () => T): T {
  if (typeof tag !== 'string' || tag === '') throw new TypeError('withCaller: tag must be a non-empty string');
  if (typeof fn !== 'function') throw new TypeError('withCaller: fn must be a function');
  const prev = k.callerTag;
  k.callerTag = tag;
  try {
    return fn();
  } finally {
    k.callerTag = prev;
  }
}

export function pinnersOf(k: Kernel, pfn: number): PinRecord[] {
  const tr = tracker(k, 'pinners');
  if (!Number.isSafeInteger(pfn)) throw new TypeError(`pinners: pfn must be an integer, got ${String(pfn)}`);
  if (pfn < 0 || pfn >= k.nrFrames) throw new RangeError(`pinners: pfn ${pfn} is not in this machine`);
  const head = compoundHead(k.v, pfn);
  return [...tr.live].filter((r) => r.pfns.some((p, i) => r.holds(i) && compoundHead(k.v, p) === head)).map((r) => r.view());
}

export function pinsOf(k: Kernel, filter: { pid?: number; device?: string }): PinRecord[] {
  const tr = tracker(k, 'pins');
  if (typeof filter !== 'object' || filter === null) throw new TypeError('pins: filter must be { pid?, device? }');
  const { pid, device } = filter;
  if (pid !== undefined && !Number.isSafeInteger(pid)) throw new TypeError('pins: pid must be an integer');
  if (device !== undefined && typeof device !== 'string') throw new TypeError('pins: device must be a string');
  return [...tr.live].filter((r) => (pid === undefined || r.pid === pid) && (device === undefined || r.device === device))
    .map((r) => r.view());
}

export function leaksOf(k: Kernel): PinRecord[] {
  return [...tracker(k, 'leaks').live].filter((r) => r.leaked).map((r) => r.view());
}
