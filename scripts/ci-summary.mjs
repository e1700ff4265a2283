// Prints the one-line CI summary from vitest's JSON report:
//   node scripts/ci-summary.mjs <report.json> [vitest exit code]
// -> "N passed, N failed" (plus ", N skipped" when some were skipped).
// Exits non-zero if any test failed, a test file failed to run, vitest
// exited non-zero, or the report is missing.
import { readFileSync } from 'node:fs';

const [file = 'build/vitest-report.json', rcArg = '0'] = process.argv.slice(2);
const vitestRc = Number(rcArg) || 0;

let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`ci-summary: no usable vitest report at ${file} (${e.message}); vitest exit code ${vitestRc}`);
  console.log('0 passed, 0 failed');
  process.exit(vitestRc || 1);
}

const passed = r.numPassedTests ?? 0;
const failed = r.numFailedTests ?? 0;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const failedFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
for (const f of failedFiles) console.error(`ci-summary: test file failed outside any test: ${f.name}${f.message ? `: ${f.message.split('\n')[0]}` : ''}`);
if (vitestRc && !failed && !failedFiles.length) console.error(`ci-summary: vitest exited with code ${vitestRc}`);

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
const ok = failed === 0 && failedFiles.length === 0 && r.success !== false && vitestRc === 0;
process.exit(ok ? 0 : 1);
