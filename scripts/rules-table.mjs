// Prints the README's preset × rule table from the timeline (src/eras/):
// node scripts/rules-table.mjs (after npm run build).
import { kernelRules, PRESETS, TIMELINE } from '../dist/pinsim.js';

const tables = PRESETS.map((p) => kernelRules(p));
// A value that changed since the previous column names its commit.
const cell = (e, prev) => {
  if (!prev || prev.value === e.value || e.since === null) return String(e.value);
  return `**${e.value}** ${e.commit ?? `(${e.since}, id not given)`}`;
};
console.log(`| rule key | ${PRESETS.join(' | ')} |`);
console.log(`|---|${PRESETS.map(() => '---').join('|')}|`);
for (const key of Object.keys(TIMELINE)) {
  const effect = TIMELINE[key].effect === 'none' ? ' †' : '';
  console.log(`| \`${key}\`${effect} | ${tables.map((t, i) => cell(t[key], tables[i - 1]?.[key])).join(' | ')} |`);
}
