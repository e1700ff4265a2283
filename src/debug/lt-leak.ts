// Pins a failed long-term GUP call kept (the 6.1-6.11 migration-failure
// leak, src/gup/gup.ts): handed to pin provenance when it is on, so that
// k.leaks() and k.check() account for pins no caller can release.
import type { KernelBase } from '../kernel';
import type { PageArray } from '../gup/page-array';

type Hook = (pages: PageArray, at: number, n: number) => void;
const hooks = new WeakMap<KernelBase, Hook>();

export function onLeakedPins(k: KernelBase, hook: Hook): void { hooks.set(k, hook); }

export function noteLeakedPins(k: KernelBase, pages: PageArray, at: number, n: number): void {
  hooks.get(k)?.(pages, at, n);
}
