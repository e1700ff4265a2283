// The scenario catalogue: every scenario the CLI lists, the lab plays and
// the tests run. One module each in catalog/.
import { forkRdma } from './catalog/fork-rdma';
import { pinUserPagesCases } from './catalog/pin-user-pages-cases';
import { roPinStale, roPinSoleOwner } from './catalog/ro-pin';
import { forkRdmaDontfork } from './catalog/fork-rdma-dontfork';
import { longtermCma } from './catalog/longterm-cma';
import { lruBatchRef } from './catalog/lru-batch-ref';
import { odirectForkRace } from './catalog/odirect-fork-race';
import { writebackSharedFile } from './catalog/writeback-shared-file';
import { vmspliceCve, vmspliceThp, vmspliceHugetlb } from './catalog/vmsplice-cve-2020-29374';
import { pinLeak } from './catalog/pin-leak';
import { getUnpinMisuse } from './catalog/get-unpin-misuse';
import { pinReleaseMisuse } from './catalog/pin-release-misuse';
import { staleMrRemap } from './catalog/stale-mr-remap';
import { ioUringMemlock } from './catalog/io-uring-memlock';
import { vfioDmaEntries } from './catalog/vfio-dma-entries';
import { vfioNDevices } from './catalog/vfio-n-devices';
import { memlockThreeCounters } from './catalog/memlock-three-counters';
import { odpInvalidate } from './catalog/odp-invalidate';
import type { Scenario } from './types';

export const SCENARIOS: readonly Scenario[] = [
  forkRdma,
  pinUserPagesCases,
  forkRdmaDontfork,
  vmspliceCve,
  vmspliceThp,
  vmspliceHugetlb,
  roPinStale,
  roPinSoleOwner,
  writebackSharedFile,
  odirectForkRace,
  longtermCma,
  lruBatchRef,
  pinLeak,
  getUnpinMisuse,
  pinReleaseMisuse,
  staleMrRemap,
  ioUringMemlock,
  vfioDmaEntries,
  vfioNDevices,
  memlockThreeCounters,
  odpInvalidate,
];
export function scenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}

export { runScenario, ScenarioPlayer, ScenarioUnsupported, type RunOptions, type ScenarioRun, type StepResult } from './run';
export { renderLook, word, type Table } from './look';
export type { Scenario, ScenarioCtx, Step, Look, Outcome, Reference } from './types';
