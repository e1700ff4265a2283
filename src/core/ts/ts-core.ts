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

function freshModule(sparse: boolean): TsCoreModule {
  const src = createTsCoreModule.toString();
  // The factory's SPARSE_MEMMAP (src/core/ts/raw.ts) as a literal where it is
  // read: V8 then folds pfn_to_page() away on a flat machine, which it does
  // not for a variable of the enclosing scope.
  const body = `${src.slice(src.indexOf('{') + 1, src.lastIndexOf('}')).replaceAll('SPARSE_MEMMAP', String(sparse))}`
    + `\n// pinsim TS core, machine ${++instances}\n`;
  try {
    return new Function(body)() as TsCoreModule;
  } catch {
    return createTsCoreModule(sparse) as TsCoreModule;
  }
}

// sparse: the machine is above 256 GiB (a sparse memmap, assembly/mem.ts).
export function createTsCore(sparse: boolean): Core {
  const m = freshModule(sparse);
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
