// The long run's worker thread: runs one op sequence at a time for
// fuzz/cli.ts and marks in shared memory the op it is starting, so that
// the main thread can name the op that never returned when it stops a run
// that overran its budget (an infinite loop in a core cannot be interrupted
// from inside its own thread).
import { parentPort, workerData } from 'node:worker_threads';
import { writeSync } from 'node:fs';
import { runLockstep, type Pair } from './lockstep';
import { FuzzFinding, type Shape } from './machine';
import type { Op } from './ops';

export interface WorkerInit { marks: SharedArrayBuffer; pair: Pair; slowOpMs: number; trace: boolean }
export interface RunRequest { id: number; shape: Shape; ops: Op[] }
export type RunReply = { id: number; ok: true } | { id: number; ok: false; finding: boolean; message: string };

const init = workerData as WorkerInit;
const marks = new Int32Array(init.marks); // [op index being run]

parentPort!.on('message', async ({ id, shape, ops }: RunRequest) => {
  let reply: RunReply = { id, ok: true };
  try {
    await runLockstep(shape, ops, {
      pair: init.pair, slowOpMs: init.slowOpMs,
      onOp: (i, o) => {
        Atomics.store(marks, 0, i);
        if (init.trace) writeSync(1, `  run ${id} step ${i}: ${i < ops.length ? JSON.stringify(o) : 'teardown'}\n`);
      },
    });
  } catch (e) {
    reply = { id, ok: false, finding: e instanceof FuzzFinding, message: e instanceof Error ? `${e.message}` : String(e) };
  }
  parentPort!.postMessage(reply);
});
