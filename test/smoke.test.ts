import { describe, expect, it } from 'vitest';
import { BACKENDS, bootTest, anon, PAGE } from './helpers';

describe.each(BACKENDS)('smoke (%s core)', (backend) => {
  it('boots, maps, writes, forks and COWs', async () => {
    const k = await bootTest(backend);
    const t = k.spawn();
    const a = anon(t, 4);
    t.write(a, 7);
    const c = t.fork();
    c.write(a, 8);
    expect(t.read(a)).toBe(7);
    expect(c.read(a)).toBe(8);
    expect(t.translate(a)).not.toBe(c.translate(a));
    expect(t.translate(a + 3 * PAGE)).toBe(null);
  });
});
