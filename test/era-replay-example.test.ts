// The README's writeback replay (examples/replay-writeback.ts) on 5.5,
// 5.18 and latest, on both cores: what it prints.
import { describe, expect, it } from 'vitest';
import { replayWriteback } from '../examples/replay-writeback';
import { BACKENDS } from './helpers';

describe.each(BACKENDS)('example: the writeback replay (%s core)', (backend) => {
  const run = (kernel: '5.5' | '5.18' | 'latest') => replayWriteback(kernel, { backend, wasm: 'debug' });

  it('5.5: get_user_pages, then ext4\'s BUG at writeback; the file keeps the old data', async () => {
    const out = await run('5.5');
    expect(out[1]).toBe('get_user_pages(FOLL_WRITE): 1');
    expect(out[2]).toMatch(/^writeback: kernel BUG at fs\/ext4\/inode.c:\d+! \(mpage_prepare_extent_to_map, in kworker\/u8:0: the machine has halted\)$/);
    expect(out).toContain('  dmesg: invalid opcode: 0000 [#1] SMP NOPTI');
    expect(out.at(-1)).toBe('the file holds 0xa (the device wrote 0xd)');
  });

  it('5.18: the ext4 warning, and the device\'s write silently lost', async () => {
    const out = await run('5.18');
    expect(out.slice(1, 3)).toEqual(['pin_user_pages(FOLL_WRITE): 1', 'writeback: 0 written, 1 dirtied behind ext4\'s back']);
    expect(out[3]).toMatch(/dmesg: EXT4-fs warning .*page 0 does not have buffers attached$/);
    expect(out.at(-1)).toBe('the file holds 0xa (the device wrote 0xd)');
  });

  it('latest: the long-term pin is refused; the short-term pin\'s data is written', async () => {
    const out = await run('latest');
    expect(out.slice(1)).toEqual([
      'pin_user_pages(FOLL_WRITE|FOLL_LONGTERM) of the ext4 page: -14 (refused since 6.5)',
      'pin_user_pages(FOLL_WRITE): 1',
      'writeback: 1 written, 0 dirtied behind ext4\'s back',
      'the file holds 0xd (the device wrote 0xd)',
    ]);
  });
});
