// The Kernel users get from boot(): the machine, accounting and GUP/pin API
// (src/gup/kernel.ts) plus what device models need: the simulated clock
// and the list of live devices. Each device lives in a file of its own in
// this folder and reaches the machine only through kernel-level functions
// (pin_user_pages_fast, account_locked_vm, interval notifiers, dma_write),
// as a user's own device model would.
import { GupKernel } from '../gup/kernel';
import { SimClock, type Pending } from './clock';
import { DeviceFile, type DmaDevice } from './device';
import { HmmMirror, type HmmMirrorOptions } from './hmm-mirror';
import type { Task } from '../task';

export class Kernel extends GupKernel {
  // The clock device models schedule their completions on.
  readonly clock = new SimClock();
  #devices = new Map<string, DmaDevice>();

  // ---- the simulated clock ----

  // Simulated time, in ns since boot.
  now(): number { return this.clock.now(); }

  // Moves time forward by ns, completing what falls due; returns how many completions ran.
  advance(ns: number): number {
    this.checkAlive();
    return this.clock.advance(ns);
  }

  // Runs every pending completion in time order (ties in submission order).
  settle(): number {
    this.checkAlive();
    return this.clock.settle();
  }

  // What is still to complete, soonest first.
  pending(): Pending[] { return this.clock.pending(); }

  // ---- devices ----

  // The live device models, in the order they were made.
  devices(): DmaDevice[] { return [...this.#devices.values()]; }

  /** @internal A device's constructor registers it under its unique name. */
  registerDevice(d: DmaDevice): void {
    if (typeof d.name !== 'string' || d.name === '') throw new TypeError('a device needs a non-empty name');
    if (this.#devices.has(d.name)) throw new RangeError(`a device named '${d.name}' exists already`);
    this.#devices.set(d.name, d);
  }

  /** @internal */
  unregisterDevice(d: DmaDevice): void {
    if (this.#devices.get(d.name) === d) this.#devices.delete(d.name);
  }

  // A name no live device has: base, else base-2, base-3, …
  deviceName(base: string): string {
    if (!this.#devices.has(base)) return base;
    let i = 2;
    while (this.#devices.has(`${base}-${i}`)) i++;
    return `${base}-${i}`;
  }

  // lib/test_hmm.c's mirror device, /dev/hmm_dmirror0 opened by t (src/devices/hmm-mirror.ts).
  hmmMirror(t: Task, opts?: HmmMirrorOptions): HmmMirror { return HmmMirror.open(this, t, opts); }

  // The last fput(): a device file no task's fd table holds any more is
  // released, after the files (a task's exit, close(), or an mm that dies).
  /** @internal */
  override reapFiles(): void {
    super.reapFiles();
    for (const d of this.#devices.values()) {
      if (d instanceof DeviceFile && !this.tasks.some((t) => [...t.fds.values()].includes(d))) d.close();
    }
  }
}
