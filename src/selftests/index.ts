// The kernel's mm selftests ported to pinsim, by the name of their C binary.
import { runCow } from './cow';
import { runGupLongterm } from './gup-longterm';
import { runGupTestSelftest } from './gup-test';
import { runHmm } from './hmm';
import type { SelftestOptions, SelftestRun } from './machine';

export type { SelftestOptions, SelftestRun } from './machine';
export { Ksft, type KsftCounts } from './tap';

export const SELFTESTS: Readonly<Record<string, (o: SelftestOptions, out: (line: string) => void) => Promise<SelftestRun>>> = {
  cow: runCow,
  gup_longterm: runGupLongterm,
  gup_test: runGupTestSelftest,
  hmm: runHmm,
};
