// The pure-TS core: the shared core sources, bundled by scripts/build.mjs
// into a factory, run directly by the JS engine on ordinary typed arrays.
import { createTsCoreModule } from '../../../build/ts-core.js';
import type { Core, CoreFunctions, CoreViews } from '../core';
import { pfnToPage } from '../types';

type TsCoreModule = CoreFunctions & { view_list(): ArrayBufferView[] };

// Each machine gets its own copy of the core's code, not only of its state.
// V8 specializes optimized code to its closure's context while a function
// has one closure; once a second machine shares the code, every module
// variable (each typed array) is loaded through the context and the first
// machine's 4 KiB GUP-fast loop runs 3x slower (4.8 -> 14.7 ns/page).
// Compiling the factory's source text afresh (a unique trailing comment
// keeps V8's eval cache from handing back the same functions) costs about
// a millisecond per boot. Where that fails — eval forbidden by a
// Content-Security-Policy without 'unsafe-eval', or a bundler that rewrote
// the factory to use helpers outside it — machines share the code, which is
// always correct, only slower.
let instances = 0;

function freshModule(): TsCoreModule {
  const src = createTsCoreModule.toString();
  const body = `${src.slice(src.indexOf('{') + 1, src.lastIndexOf('}'))}\n// pinsim TS core, machine ${++instances}\n`;
  try {
    return new Function(body)() as TsCoreModule;
  } catch {
    return createTsCoreModule() as TsCoreModule;
  }
}

export function createTsCore(): Core {
  const m = freshModule();
  // Own data properties: the bundle's exports are getters.
  const core = Object.fromEntries(Object.keys(m).map((name) => [name, (m as Record<string, unknown>)[name]])) as unknown as Core;
  const views = (): CoreViews => {
    const [flags, refcount, mapcount, data, mapping, index, head, migratetype, scratch, stats, zoneFree, pages] = m.view_list();
    const page = pfnToPage(m.sparse_start());
    return { page, flags, refcount, mapcount, data, mapping, index, head, migratetype, scratch, stats, zoneFree, pages } as CoreViews;
  };
  Object.defineProperties(core, { backend: { value: 'ts' }, views: { value: views } });
  return core;
}
