// The pure-TS core gives each machine its own copy of the code (see
// src/core/ts/ts-core.ts), falling back to shared code where that fails.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTsCore } from '../src/core/ts/ts-core';
import { bootTest, anon, C } from './helpers';

describe('pure-TS core instances', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('each core compiles the factory afresh, from source that V8 cannot take from its eval cache', () => {
    const RealFunction = Function;
    const bodies: string[] = [];
    vi.stubGlobal('Function', function (...args: string[]) {
      bodies.push(args[args.length - 1]);
      return new RealFunction(...args);
    });
    const a = createTsCore(false);
    const b = createTsCore(false);
    expect(a.gup_fast).not.toBe(b.gup_fast);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).not.toBe(bodies[1]);
    expect(bodies[0]).toContain('function gup_fast(');
    // A flat machine's copy reads its SPARSE_MEMMAP as a literal (V8 folds pfn_to_page()).
    expect(bodies[0]).toMatch(/function sparse_memmap\(\) \{\s*return false;/);
    expect(bodies[0]).not.toContain('SPARSE_MEMMAP');
  });

  it('where eval is forbidden (CSP), cores share the code and still work', async () => {
    vi.stubGlobal('Function', function () { throw new EvalError('Refused to evaluate a string as JavaScript'); });
    const k = await bootTest('ts');
    const t = k.spawn();
    const a = anon(t, 2);
    t.touch(a, 2 * C.PAGE_SIZE, { write: true });
    const pa = k.pageArray(2);
    expect(k.pin_user_pages_fast(t, a, 2, C.FOLL_WRITE, pa)).toBe(2);
    k.unpin_user_pages(pa, 2);
  });

  it('a factory that does not compile on its own (a bundler moved its helpers out) falls back to shared code', () => {
    vi.stubGlobal('Function', function () { throw new ReferenceError('__spreadValues is not defined'); });
    const core = createTsCore(false);
    expect(typeof core.gup_fast).toBe('function');
    expect(createTsCore(false).gup_fast).not.toBe(core.gup_fast); // still one state per machine
  });
});
