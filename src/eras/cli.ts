// `pinsim rules`: a kernel preset's rule record, as a table or JSON, or
// two presets compared. No machine boots. src/cli.ts parses the options
// (RULES_OPTIONS, node:util's parseArgs); output goes through callbacks.
import { usageError } from '../usage';
import { kernelRules, PRESETS, ALIASES, type KernelName } from './presets';
import { rulesTable, rulesCompare, rulesJson, parseRuleOverrides } from './show';
import type { KernelRules } from './timeline';

export const RULES_USAGE = `usage: pinsim rules [--kernel <preset>] [--compare <a>,<b>] [--rules key=value,...] [--json]
The pinning rules a kernel preset boots with (boot({ kernel, rules })): each
rule's value, the commit that set it (and its release), and what it decides.
  --kernel K          the preset (default latest): ${[...PRESETS, ...ALIASES].join(', ')}
  --compare A,B       two presets side by side; '|' marks the rules that differ
  --rules k=v,...     override single rules, bisect-style (with --compare: of A);
                      overridden values are marked '*'
  --json              the record as JSON (not with --compare)
  -h, --help          this text
exit status: 0, 2 on bad usage`;

export const RULES_OPTIONS = {
  kernel: { type: 'string' }, compare: { type: 'string' }, rules: { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export interface RulesArgs { kernel?: string; compare?: string; rules?: string; json?: boolean; help?: boolean }

// The command, on parsed options; the exit status. A bad option value
// (preset, key, value) is bad usage, in boot()'s own words.
export function rulesMain(values: RulesArgs, out: (line: string) => void, err: (line: string) => void): 0 | 2 {
  const usage = (what: string): 2 => {
    for (const line of usageError('rules', what)) err(line);
    return 2;
  };
  if (values.help) {
    out(RULES_USAGE);
    return 0;
  }
  if (values.compare !== undefined && values.kernel !== undefined) return usage('--kernel and --compare exclude each other');
  if (values.compare !== undefined && values.json) return usage('--json and --compare exclude each other');
  let overrides: Partial<KernelRules> | undefined;
  try {
    overrides = values.rules === undefined ? undefined : parseRuleOverrides(values.rules);
    if (values.compare !== undefined) {
      const names = values.compare.split(',');
      if (names.length !== 2) return usage(`--compare needs two presets, like 5.10,latest; got '${values.compare}'`);
      const [a, b] = names as KernelName[];
      for (const line of rulesCompare([a, kernelRules(a, overrides)], [b, kernelRules(b)])) out(line);
      return 0;
    }
    const name = (values.kernel ?? 'latest') as KernelName;
    const table = kernelRules(name, overrides);
    if (values.json) out(rulesJson(name, table));
    else for (const line of rulesTable(name, table)) out(line);
    return 0;
  } catch (e) {
    return usage((e as Error).message);
  }
}
