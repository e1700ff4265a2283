// Sizes given as bytes or as strings like '1GiB', '512MiB', '4KiB'.
import { argError } from './errors';

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

export function parseSize(what: string, v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw argError('ERR_INVALID_ARG_VALUE', `${what}: ${v} is not a size in bytes`);
    return v;
  }
  if (typeof v !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `${what} must be a number of bytes or a string like '1GiB'`);
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB)\s*$/.exec(v);
  if (!m) throw argError('ERR_INVALID_ARG_VALUE', `${what}: cannot parse '${v}' (use e.g. '512MiB' or '1GiB')`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

// A size as the user gave it, for messages: '17MiB' stays '17MiB'.
export function showSize(v: unknown): string {
  return typeof v === 'string' ? `'${v.trim()}'` : String(v);
}
