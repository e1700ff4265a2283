// Kernel presets: boot({ kernel, rules }). A preset is the rule record of
// one release, read off the timeline (./timeline.ts): every key takes the
// value of its last change at or before that release. `rules` overrides
// single keys, bisect-style ("5.10 with this one fix").
import { argError } from '../errors';
import { TIMELINE, type RuleKey, type KernelRules, type Change } from './timeline';

// The six presets of kernel-history.md §6.1 and their aliases. 'latest'
// is 6.13+ as pinsim models it (6.15's PTE-mapped THP reuse, UNVERIFIED, is
// not modelled).
export const PRESETS = ['5.5', '5.8', '5.10', '5.18', '6.4', 'latest'] as const;
export const ALIASES = ['5.6', '5.7', '5.9', '6.1', '6.11'] as const;
export type Preset = (typeof PRESETS)[number];
export type KernelName = Preset | (typeof ALIASES)[number];
const NAMES: readonly string[] = [...PRESETS, ...ALIASES];
const LATEST = 'latest';

function version(v: string): number {
  if (v === LATEST) return Infinity;
  const [major, minor] = v.split('.').map(Number);
  return major * 1000 + minor;
}

// One key of k.rules: its value and the commit that governs it.
export interface RuleEntry<V = unknown> {
  value: V;
  what: string;
  commit: string | null; // the change that set this value; null before the first change or when the doc gives none
  since: string | null; // the release of that change
  title: string; // the change's title, or where the initial value comes from
  overridden: boolean; // set by boot({ rules }) rather than the preset
}

export type RuleTable = { readonly [K in RuleKey]: RuleEntry<KernelRules[K]> };

export interface Resolved {
  kernel: KernelName;
  values: KernelRules;
  table: RuleTable;
}

const KEYS = Object.keys(TIMELINE) as RuleKey[];

function entryAt(key: RuleKey, ver: number): RuleEntry {
  const def = TIMELINE[key];
  let last: Change<unknown> | null = null;
  for (const c of def.changes as readonly Change<unknown>[]) if (version(c.since) <= ver) last = c;
  if (last === null) return { value: def.initial, what: def.what, commit: null, since: null, title: def.initialNote, overridden: false };
  return { value: last.value, what: def.what, commit: last.commit, since: last.since, title: last.title, overridden: false };
}

// An override's entry names the change that introduced that value, if any.
function entryFor(key: RuleKey, value: unknown): RuleEntry {
  const def = TIMELINE[key];
  const c = [...(def.changes as readonly Change<unknown>[])].reverse().find((ch) => ch.value === value);
  if (c === undefined) return { value, what: def.what, commit: null, since: null, title: def.initialNote, overridden: true };
  return { value, what: def.what, commit: c.commit, since: c.since, title: c.title, overridden: true };
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : String(v));

// The rule table of a preset (with overrides) without booting a machine:
// what k.rules would be. Throws as boot() does on a bad name or override.
export function kernelRules(kernel?: KernelName, rules?: Partial<KernelRules>): RuleTable {
  return resolveRules(kernel, rules).table;
}

// Checks boot()'s kernel and rules options and returns the effective record.
export function resolveRules(kernel: unknown, overrides: unknown): Resolved {
  if (kernel !== undefined && typeof kernel !== 'string') {
    throw argError('ERR_INVALID_ARG_TYPE', `kernel must be one of ${NAMES.map(show).join(', ')}, got ${typeof kernel}`);
  }
  const name = (kernel ?? LATEST) as KernelName;
  if (!NAMES.includes(name)) throw argError('ERR_INVALID_ARG_VALUE', `kernel must be one of ${NAMES.map(show).join(', ')}, got '${name}'`);
  if (overrides !== undefined && (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides))) {
    throw argError('ERR_INVALID_ARG_TYPE', 'rules must be an object of rule keys, like { gupBreaksCow: true }');
  }
  const given = (overrides ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(given)) {
    if (!(key in TIMELINE)) throw argError('ERR_INVALID_ARG_VALUE', `rules: unknown key '${key}' (known: ${KEYS.join(', ')})`);
    const allowed = TIMELINE[key as RuleKey].values as readonly unknown[];
    if (!allowed.includes(value)) {
      throw argError('ERR_INVALID_ARG_VALUE', `rules.${key} must be one of ${allowed.map(show).join(', ')}, got ${show(value)}`);
    }
  }
  const ver = version(name);
  const table = {} as Record<RuleKey, RuleEntry>;
  const values = {} as Record<RuleKey, unknown>;
  for (const key of KEYS) {
    table[key] = Object.freeze(key in given ? entryFor(key, given[key]) : entryAt(key, ver));
    values[key] = table[key].value;
  }
  return { kernel: name, values: Object.freeze(values) as KernelRules, table: Object.freeze(table) as RuleTable };
}
