// pin-leak (llama.cpp #9988): on 6.11 the failed long-term pin keeps its
// 16 pins past the task's exit; on latest it drops them.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

describe.each(BACKENDS)('pin-leak (%s core)', (backend) => {
  const sc = scenario('pin-leak')!;

  it('6.11: -ENOMEM, 16 pins kept, 64 kB never freed, explained by k.leaks()', async () => {
    const r = await runScenario(sc, { kernel: '6.11', backend });
    expect(r.outcome.values).toEqual({ pinResult: -12, acquired: 16, released: 0, leakedPages: 16, stillPinned: 16, memFreeLostKiB: 64 });
    expect(r.steps[2].dmesg).toContain('pinsim: leak: a FOLL_LONGTERM call failed with -ENOMEM and kept 16 pinned pages (6.1-6.11, fixed by aa6f8b2593b5)');
    expect(r.steps[3].lines).toEqual([
      '16 frames of the buffer are still pinned, mapped by nobody: no one can unpin them',
      'k.leaks(): 16 FOLL_PIN pages by pin_user_pages at nv_host_register (pid 1)',
    ]);
  });

  it('latest: -ENOMEM, nothing kept, every frame back', async () => {
    const r = await runScenario(sc, { kernel: 'latest', backend });
    expect(r.outcome.values).toEqual({ pinResult: -12, acquired: 16, released: 16, leakedPages: 0, stillPinned: 0, memFreeLostKiB: 0 });
    expect(r.steps[3].lines).toEqual(['every frame of the buffer is free again']);
  });
});
