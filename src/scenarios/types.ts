// What a scenario is: a small, deterministic script over a booted machine
// that reproduces one real-world report. The same module runs in the CLI
// (pinsim scenario run), in the lab's player and in the tests.
import type { BootOptions } from '../boot';
import type { KernelName } from '../eras/presets';
import type { Kernel } from '../devices/kernel';
import type { Task } from '../task';

// Where the facts come from: a bug report, an LWN article, a CVE, a commit.
export interface Reference { label: string; url: string }

// The state a scenario's steps share: the machine, the tasks and devices it
// created by name, and anything else (addresses, fds, MRs) in vars.
export interface ScenarioCtx {
  readonly k: Kernel;
  readonly tasks: Map<string, Task>;
  readonly vars: Record<string, unknown>;
}

// What to look at after a step. Values are functions of the context so a
// look can name a frame or an address the steps only learn while running.
export type Look =
  // frames: a row per pfn (refcount, mapcount, pincount, flags, data, ...)
  | { kind: 'frames'; title: string; pfns: (c: ScenarioCtx) => number[] }
  // a task's PTEs: a row per page of [addr, addr + pages pages)
  | { kind: 'ptes'; title: string; task: string; addr: (c: ScenarioCtx) => number; pages: number }
  // a device's live pins and memlock charges (by its k.devices() name)
  | { kind: 'device'; title: string; device: (c: ScenarioCtx) => string }
  // named counters: vmstat, a task's VmLck / VmPin, locked_vm, ...
  | { kind: 'counters'; title: string; values: (c: ScenarioCtx) => Record<string, number | string> };

export interface Step {
  narration: string; // one line: what this step does and why it matters
  // The action; what it returns (a call and its result, "pin_user_pages() = 4")
  // is printed under the narration. Errors with a code are part of the story:
  // catch them in the action and return the line.
  action: (c: ScenarioCtx) => string | string[] | void;
  look?: Look[];
}

// The result the scenario is about, per run: a one-line verdict and the
// values the tests assert on (and --compare / --json print).
export interface Outcome {
  summary: string;
  values: Record<string, number | string | boolean | null>;
}

export interface Scenario {
  id: string; // kebab-case, used on the command line
  title: string;
  refs: Reference[];
  // The presets this scenario compares: the first is where the bug shows
  // (or the default shown), the rest where it is fixed or behaves otherwise.
  presets: KernelName[];
  // The machine: memory, cma, thp, memlock, ... (kernel and backend are the runner's).
  boot: Omit<BootOptions, 'kernel' | 'backend' | 'wasm'>;
  // Why the scenario cannot be told on this machine's kernel (a scenario
  // about the pin API on 5.5, say), or null; runScenario() and the player
  // refuse such a kernel with a ScenarioUnsupported (a RangeError) saying so.
  requires?: (k: Kernel) => string | null;
  steps: Step[];
  outcome: (c: ScenarioCtx) => Outcome;
}
