// k.frameMap(): the core's per-pixel summary of a range of frames
// (assembly/frame_map.ts), for pictures of the whole machine (the lab's
// frame map). The core writes at most FRAME_SUMMARY_MAX pixels per call
// into its scratch area; this copies them out chunk by chunk.
import { FRAME_SUMMARY_MAX } from '../../assembly/constants';
import type { Core } from '../core/core';
import type { CoreViews } from '../core/types';

interface Host {
  readonly core: Pick<Core, 'frame_summary'>;
  readonly v: CoreViews;
  readonly nrFrames: number;
}

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`frameMap: ${what} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`frameMap: ${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

export function frameMap(k: Host, start: number, perPixel: number, pixels: number, out?: Uint8Array): Uint8Array {
  checkInt('start', start, 0, k.nrFrames - 1);
  checkInt('perPixel', perPixel, 1, k.nrFrames);
  checkInt('pixels', pixels, 1, k.nrFrames);
  if (out !== undefined && !(out instanceof Uint8Array && out.length >= pixels)) {
    throw new TypeError(`frameMap: out must be a Uint8Array of at least ${pixels} bytes`);
  }
  const dst = out ?? new Uint8Array(pixels);
  const s = k.v.scratch;
  const bytes = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  for (let done = 0; done < pixels;) {
    const n = Math.min(FRAME_SUMMARY_MAX, pixels - done);
    const first = start + done * perPixel;
    if (first >= k.nrFrames) { dst.fill(0, done, pixels); break; } // past the last frame: nothing there
    k.core.frame_summary(first, perPixel, n);
    dst.set(bytes.subarray(0, n), done);
    done += n;
  }
  return dst;
}
