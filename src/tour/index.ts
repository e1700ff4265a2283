// The tour `npm start` prints: the machine, then pinning.
import type { Backend } from '../core/core';
import { tourMachine } from './machine';
import { tourPinning } from './pinning';

export async function tour(out: (line: string) => void, backend: Backend = 'wasm'): Promise<void> {
  await tourMachine(out, backend);
  await tourPinning(out, backend);
}
