// Writing your own device model: a video capture device (/dev/video0-like)
// that pins a user buffer long-term, charges it to mm->locked_vm, and DMAs
// a frame into it on every tick of the simulated clock. It talks to the
// kernel only through what a driver would call: pin_user_pages_fast(),
// account_locked_vm(), dma_write(), unpin_user_pages_dirty_lock() and the
// clock. test/dev-example.test.ts exercises it; run as a script (through a
// TypeScript runner or an esbuild bundle) it prints what main() shows.
import { boot, constants as C, DeviceFile, SyscallError, type DevicePin, type Kernel, type Pending, type Task } from '../src/index';

const GUP_FLAGS = C.FOLL_WRITE | C.FOLL_LONGTERM;

export class Capture extends DeviceFile {
  readonly path = '/dev/video0';
  readonly fd: number;
  frames = 0; // frames written so far
  readonly #pages;
  readonly #npages: number;
  #tick: Pending | null = null;

  // VIDIOC_QBUF-style setup: pin [addr, addr + npages pages), charge it, start capturing.
  constructor(k: Kernel, readonly task: Task, readonly addr: number, npages: number, readonly periodNs: number) {
    super(k, k.deviceName('video0'));
    this.#npages = npages;
    this.#pages = k.pageArray(npages);
    try {
      this.as(() => {
        // Charge before pinning, as most drivers do: account_locked_vm() checks RLIMIT_MEMLOCK
        // unless the task has CAP_IPC_LOCK.
        if (k.account_locked_vm(task.mm, npages, true) < 0) {
          throw new SyscallError('VIDIOC_QBUF', 'ENOMEM', C.ENOMEM, `locking ${npages} pages exceeds RLIMIT_MEMLOCK`);
        }
        const n = k.pin_user_pages_fast(task, addr, npages, GUP_FLAGS, this.#pages);
        if (n !== npages) {
          if (n > 0) k.unpin_user_pages_dirty_lock(this.#pages, n, false);
          k.account_locked_vm(task.mm, npages, false);
          throw new SyscallError('VIDIOC_QBUF', 'EFAULT', C.EFAULT, `pinned ${n} of ${npages} pages`);
        }
      });
    } catch (e) {
      this.#pages.free();
      this.close(); // unregisters; release() sees nothing to undo
      throw e;
    }
    this.fd = task.installFd(this);
    this.#schedule();
  }

  pins(): DevicePin[] {
    if (this.#tick === null) return [];
    return [{ device: this.name, object: 'buffer 0', pid: this.task.pid, addr: this.addr, length: this.#npages * C.PAGE_SIZE, pages: this.#npages, gup_flags: GUP_FLAGS }];
  }

  // Each period the device writes frame number f into page f % npages, by DMA.
  #schedule(): void {
    this.#tick = this.kernel.clock.schedule(this.periodNs, `${this.name}: frame`, () => {
      this.kernel.dma_write(this.#pages.get(this.frames % this.#npages), this.frames + 1);
      this.frames++;
      this.#schedule();
    });
  }

  // The last close: stop the clock, unpin (dirtying what the device wrote), uncharge.
  protected release(): void {
    if (this.#tick === null) return; // the constructor failed
    this.kernel.clock.cancel(this.#tick);
    this.#tick = null;
    this.kernel.unpin_user_pages_dirty_lock(this.#pages, this.#npages, true);
    this.kernel.account_locked_vm(this.task.mm, this.#npages, false);
    this.#pages.free();
  }
}

// A demonstration when run directly.
async function main(): Promise<void> {
  const k = await boot({ memory: '64MiB', memlock: '64KiB' });
  const t = k.spawn({ name: 'camera-app' });
  const buf = t.mmap({ length: 4 * C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  const cam = new Capture(k, t, buf, 4, 33_333_333); // 30 frames a second
  k.advance(100_000_000);
  console.log(cam.frames, t.read(buf), t.status().VmLck, k.devices().map((d) => d.name)); // 3 1 16 [ 'video0' ]
  t.munmap(buf, 4 * C.PAGE_SIZE); // the process drops its buffer; the device does not know
  k.advance(100_000_000); // frames still go into the pinned frames
  t.close(cam.fd); // the last close releases the pins and the charge
  console.log(cam.frames, t.status().VmLck, k.devices().length); // 6 0 0
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
