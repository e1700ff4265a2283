// The page end of `npm run bench -- --browser`, bundled for browsers into
// build/bench/page.js by scripts/build.mjs. It runs the same suite as Node
// (bench/suite.ts) and hands the results back to bench/browser.ts, which
// drives it through playwright and prints them.
import { MismatchError, runCases, runSmoke, type Row, type SmokeResult } from './suite';

export interface PageRequest {
  smoke: boolean;
  only: string[];
  wasm: string; // the .wasm's URL, relative to the page
}

// value: runSmoke()'s or runCases()'s result, as req.smoke asks.
export type PageResult =
  | { ok: true; value: SmokeResult[] | { rows: Row[]; notes: string[] } }
  | { ok: false; mismatch: boolean; message: string };

declare global {
  interface Window {
    pinsimBench(req: PageRequest): Promise<PageResult>;
    pinsimBenchLog(line: string): Promise<void>; // exposed by bench/browser.ts
  }
}

window.pinsimBench = async (req) => {
  // Without isolation Chromium coarsens performance.now() to 100 µs.
  if (!crossOriginIsolated) {
    return { ok: false, mismatch: false, message: 'the page is not cross-origin isolated (crossOriginIsolated is false): '
      + 'it must be served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, '
      + 'or performance.now() is too coarse to time with' };
  }
  const opts = { wasm: new URL(req.wasm, location.href).href, only: req.only, log: (l: string) => void window.pinsimBenchLog(l) };
  try {
    return { ok: true, value: req.smoke ? await runSmoke(opts) : await runCases(opts) };
  } catch (e) {
    if (e instanceof MismatchError) return { ok: false, mismatch: true, message: e.message };
    return { ok: false, mismatch: false, message: e instanceof Error ? e.stack ?? e.message : String(e) };
  }
};
