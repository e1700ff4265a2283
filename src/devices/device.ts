// What every device model shares: a name the kernel knows it by, the live
// pins it holds (for dev.pins() and k.devices()), its memlock charges (the
// ledger entries made while it was the current device), and, for devices a
// process opens, the file behind the fd whose last close releases them.
import type { MemlockCharge } from '../mm/memlock';
import type { Kernel } from './kernel';

// One live pin (or reference) a device holds on a user range.
export interface DevicePin {
  device: string; // the device's name
  object: string; // what holds it: 'MR lkey 0x1234', 'buffer 3', 'iova 0x100000'
  pid: number; // the task whose memory it is (the mm's owner)
  addr: number; // user virtual address of the first byte
  length: number; // bytes
  pages: number; // page references held (struct page entries)
  gup_flags: number; // FOLL_* the pages were taken with
}

export abstract class DmaDevice {
  #closed = false;

  constructor(readonly kernel: Kernel, readonly name: string) {
    kernel.registerDevice(this);
  }

  // The pins this device holds now.
  abstract pins(): DevicePin[];

  // The memlock charges this device made and still holds.
  charges(): MemlockCharge[] {
    return this.kernel.memlockLedger().filter((c) => c.device === this.name);
  }

  get closed(): boolean { return this.#closed; }

  // Releases everything (the device's ->release path) once; later calls do nothing.
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.as(() => this.release());
    this.kernel.unregisterDevice(this);
  }

  // The device's own release path; runs as the current device.
  protected abstract release(): void;

  // Runs fn as this device: the memlock charges it makes are listed as this
  // device's (charges(), k.memlockLedger()'s `device`).
  protected as<T>(fn: () => T): T {
    return this.kernel.asDevice(this.name, fn);
  }
}

// A device a process opens: an fd in its table refers to it; the last
// close (or the exit of the last task holding it) calls close().
export abstract class DeviceFile extends DmaDevice {
  // The name /proc/<pid>/fd shows for it ('anon_inode:[io_uring]', '/dev/vfio/vfio').
  abstract readonly path: string;
}
