// Scenario runs as text: narration, the action's result lines, the tables
// and dmesg, then the outcome. --compare puts two runs side by side and
// marks the lines that differ.
import type { Table } from './look';
import type { ScenarioRun, StepResult } from './run';
import type { Scenario } from './types';

export function formatTable(t: Table): string[] {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [`  [${t.title}]`, `    ${line(t.columns)}`, ...t.rows.map((r) => `    ${line(r)}`)];
}

// A step that charges page by page (65,535 VFIO mappings) logs a
// pr_debug line per call: the first lines and a count tell the story.
const DMESG_SHOWN = 8;
function capDmesg(lines: string[]): string[] {
  if (lines.length <= DMESG_SHOWN) return lines;
  return [...lines.slice(0, DMESG_SHOWN - 1), `... ${lines.length - DMESG_SHOWN + 1} more lines`];
}

export function formatStep(s: StepResult): string[] {
  return [
    `${s.index + 1}. ${s.narration}`,
    ...s.lines.map((l) => `   > ${l}`),
    ...capDmesg(s.dmesg).map((l) => `   dmesg: ${l}`),
    ...s.tables.flatMap(formatTable),
  ];
}

export function formatHeader(sc: Scenario): string[] {
  return [`${sc.id}: ${sc.title}`, ...sc.refs.map((r) => `  see: ${r.label} <${r.url}>`)];
}

function formatOutcome(r: ScenarioRun): string[] {
  return [`outcome on ${r.kernel}: ${r.outcome.summary}`];
}

export function formatRun(sc: Scenario, r: ScenarioRun): string[] {
  return [...formatHeader(sc), `kernel ${r.kernel} (${r.backend} core)`, '', ...r.steps.flatMap((s) => [...formatStep(s), '']), ...formatOutcome(r)];
}

// Two runs of one scenario, step by step in two columns; '|' between equal
// lines, '*' where they differ.
export function formatCompare(sc: Scenario, a: ScenarioRun, b: ScenarioRun, width = 60): string[] {
  const out = [...formatHeader(sc), ''];
  const pair = (l: string[], r: string[]) => {
    for (let i = 0; i < Math.max(l.length, r.length); i++) {
      const x = l[i] ?? '';
      const y = r[i] ?? '';
      const cut = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
      out.push(`${cut(x)} ${x === y ? '|' : '*'} ${y}`.trimEnd());
    }
  };
  pair([`kernel ${a.kernel}`], [`kernel ${b.kernel}`]);
  for (let i = 0; i < Math.max(a.steps.length, b.steps.length); i++) {
    pair(a.steps[i] ? formatStep(a.steps[i]) : [], b.steps[i] ? formatStep(b.steps[i]) : []);
  }
  pair(formatOutcome(a), formatOutcome(b));
  return out;
}
