// The pure-TS core: the shared core sources, bundled by scripts/build.mjs
// into a factory, run directly by the JS engine on ordinary typed arrays.
import { createTsCoreModule } from '../../../build/ts-core.js';
import type { Core, CoreFunctions, CoreViews } from '../core';

type TsCoreModule = CoreFunctions & { view_list(): ArrayBufferView[] };

export function createTsCore(): Core {
  const m = createTsCoreModule() as TsCoreModule;
  // Own data properties: the bundle's exports are getters.
  const core = Object.fromEntries(Object.keys(m).map((name) => [name, (m as Record<string, unknown>)[name]])) as unknown as Core;
  const views = (): CoreViews => {
    const [flags, refcount, mapcount, data, mapping, index, head, migratetype, scratch, stats, zoneFree, pages] = m.view_list();
    return { flags, refcount, mapcount, data, mapping, index, head, migratetype, scratch, stats, zoneFree, pages } as CoreViews;
  };
  Object.defineProperties(core, { backend: { value: 'ts' }, views: { value: views } });
  return core;
}
