// fork-rdma-dontfork: ibv_fork_init()'s MADV_DONTFORK on 5.8 takes the
// malloc data beside an MR away from the child; latest needs no DONTFORK.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('fork-rdma-dontfork')!;

describe.each(BACKENDS)('fork-rdma-dontfork (%s core)', (backend) => {
  it('covers every preset the scenario names', () => {
    expect(sc.presets).toEqual(['5.8', 'latest']);
  });

  it('5.8: the MR page is VM_DONTCOPY, the child gets SIGSEGV on the config struct but reads the next page', async () => {
    const r = await runScenario(sc, { kernel: '5.8', backend });
    expect(r.outcome.values).toEqual({ forkInit: 'IBV_FORK_ENABLED', childConfig: 'SIGSEGV', childLog: "'L'" });
    expect(r.steps[2].lines[1]).toMatch(/-0x[0-9a-f]+ rw-p {2}VmFlags: dc \(MADV_DONTFORK\)$/);
    expect(r.steps[3].lines[0]).toMatch(/its first page is not mapped in the child$/);
  });

  it('latest: ibv_fork_init() is unneeded, no DONTFORK, fork copies the pinned page for the child', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ forkInit: 'IBV_FORK_UNNEEDED', childConfig: "'K'", childLog: "'L'" });
    expect(r.steps[2].lines.slice(1)).toEqual([expect.stringMatching(/^0x[0-9a-f]+-0x[0-9a-f]+ rw-p$/)]);
    expect(r.steps[3].lines[0]).toMatch(/its first page is a copy/);
  });
});
