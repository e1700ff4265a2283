// writeback-shared-file (S4): an RDMA MR over a MAP_SHARED ext4 page across
// writeback; the BUG, the lost write, the write kept, the refused pin.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const sc = scenario('writeback-shared-file')!;

describe.each(BACKENDS)('writeback-shared-file (%s core)', (backend) => {
  it('covers every preset the scenario names', () => {
    expect(sc.presets).toEqual(['5.5', '5.18', '6.4', 'latest']);
  });

  it('5.5: ext4 BUGs at the second writeback; the action catches it and the machine is halted', async () => {
    const r = await runScenario(sc, { kernel: '5.5', backend });
    expect(r.outcome.values).toEqual({ regError: null, kernelBug: true, disk: "'A'" });
    expect(r.steps[4].lines[0]).toMatch(/^kernel BUG at fs\/ext4\/inode\.c:\d+! .*the machine has halted/);
    expect(r.steps[4].dmesg).toContain('invalid opcode: 0000 [#1] SMP NOPTI');
  });

  it('5.18: ext4 warns and drops the NIC\'s write', async () => {
    const r = await runScenario(sc, { kernel: '5.18', backend });
    expect(r.outcome.values).toEqual({ regError: null, kernelBug: false, disk: "'A'" });
    expect(r.steps[4].lines[0]).toMatch(/^writeback: 0 written, 1 dirtied behind ext4's back/);
    expect(r.steps[4].dmesg[0]).toMatch(/page 0 does not have buffers attached$/);
  });

  it('6.4: the pinned page kept its buffers, the NIC\'s write reaches the disk', async () => {
    const r = await runScenario(sc, { kernel: '6.4', backend });
    expect(r.outcome.values).toEqual({ regError: null, kernelBug: false, disk: "'D'" });
    expect(r.steps[2].lines[0]).toMatch(/the page kept its buffers$/);
  });

  it('latest: ibv_reg_mr() is EFAULT, nothing is pinned, nothing is lost', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ regError: 'EFAULT', kernelBug: false, disk: "'A'" });
    expect(r.steps[1].lines[0]).toMatch(/^ibv_reg_mr\(LOCAL_WRITE \| REMOTE_WRITE\): EFAULT/);
    expect(r.steps[3].lines).toEqual(['nothing registered: nothing to do']);
  });
});
