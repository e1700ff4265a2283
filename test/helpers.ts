// Shared test helpers: every mechanism is tested on both cores, the Wasm
// one in its debug build (bounds checks on).
import { boot, type BootOptions, type Kernel, type Task } from '../src/index';
import * as C from '../assembly/constants';

export const BACKENDS = ['wasm', 'ts'] as const;
export { C };

export function bootTest(backend: 'wasm' | 'ts', opts: BootOptions = {}): Promise<Kernel> {
  return boot({ memory: '64MiB', wasm: 'debug', ...opts, backend });
}

export const PAGE = C.PAGE_SIZE;
export const RW = C.PROT_READ | C.PROT_WRITE;
export const ANON_PRIVATE = C.MAP_PRIVATE | C.MAP_ANONYMOUS;

// Maps `pages` private anonymous pages.
export function anon(t: Task, pages: number, prot = RW): number {
  return t.mmap({ length: pages * PAGE, prot, flags: ANON_PRIVATE });
}

// Asserts that fn throws a pinsim error with this code and changes nothing.
export function expectCode(k: Kernel, fn: () => unknown, code: string): void {
  const before = k.digest();
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected an error with code ${code}, got none`);
  const got = (err as { code?: string }).code;
  if (got !== code) throw new Error(`expected code ${code}, got ${String(got)}: ${(err as Error).message}`);
  const after = k.digest();
  if (before !== after) throw new Error(`machine state changed although ${code} was thrown`);
}

// The code of the error fn throws (an errno or signal name), or undefined.
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `non-pinsim error: ${String(e)}`;
  }
  return undefined;
}

// The page mapped at addr (which must be mapped).
export function pageAt(k: Kernel, t: Task, addr: number) {
  const pfn = t.translate(addr);
  if (pfn === null) throw new Error(`nothing mapped at 0x${addr.toString(16)}`);
  return k.page(pfn);
}
