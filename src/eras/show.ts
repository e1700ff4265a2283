// The rule record as text, for `pinsim rules`: one preset as an aligned
// table, or two side by side with the lines that differ marked; and the
// command line's `key=value,...` overrides.
import type { RuleKey, KernelRules } from './timeline';
import type { RuleEntry, RuleTable } from './presets';

const cell = (v: unknown): string => String(v);
// The change that set the value, or 'initial' (the value before every change listed; what says why).
const origin = (e: RuleEntry): string => (e.since === null ? 'initial' : `${e.commit ?? 'id not given'} (${e.since})`);
const what = (e: RuleEntry): string => (e.since === null ? `${e.what} [${e.title}]` : e.what);

// Pads each column to its widest cell; the last column is left ragged.
function align(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

const mark = (e: RuleEntry): string => (e.overridden ? '*' : '');

// key, value, commit (release), what: one line per rule.
export function rulesTable(kernel: string, t: RuleTable): string[] {
  const rows = [['KEY', 'VALUE', 'SET BY', 'WHAT'], ...Object.entries(t).map(([key, e]) => [key, cell(e.value) + mark(e), origin(e), what(e)])];
  const over = Object.values(t).some((e) => e.overridden);
  return [`kernel ${kernel}`, ...align(rows), ...(over ? ['* overridden (--rules)'] : [])];
}

// Two presets side by side: '|' marks the keys whose values differ.
export function rulesCompare(a: [string, RuleTable], b: [string, RuleTable]): string[] {
  const keys = Object.keys(a[1]) as RuleKey[];
  const rows = [[' ', 'KEY', a[0], b[0], `SET BY (${b[0]})`], ...keys.map((key) => {
    const [x, y] = [a[1][key], b[1][key]];
    const differs = x.value !== y.value;
    return [differs ? '|' : ' ', key, cell(x.value) + mark(x), cell(y.value) + mark(y), differs ? origin(y) : ''];
  })];
  const n = keys.filter((key) => a[1][key].value !== b[1][key].value).length;
  return [...align(rows), `${n} of ${keys.length} rules differ`];
}

// JSON: { kernel, rules: { key: { value, commit, since, title, what, overridden } } }.
export function rulesJson(kernel: string, t: RuleTable): string {
  return JSON.stringify({ kernel, rules: t }, null, 2);
}

// "gupBreaksCow=true,pinBias=1,cowReuse=refcount" as boot()'s rules:
// true/false and numbers as such, anything else a string (boot() checks
// keys and values). Throws on a malformed item.
export function parseRuleOverrides(s: string): Partial<KernelRules> {
  const out: Record<string, unknown> = {};
  for (const item of s.split(',')) {
    const m = /^\s*(\w+)\s*=\s*(\S+?)\s*$/.exec(item);
    if (!m) throw new Error(`--rules: '${item}' is not key=value`);
    const [, key, raw] = m;
    out[key] = raw === 'true' ? true : raw === 'false' ? false : /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  return out as Partial<KernelRules>;
}
