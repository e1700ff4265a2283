// The fuzz's HMM mirror devices (family 'mirror'): lib/test_hmm.c's dmirror
// opened by a task, reading and writing through its device page table in
// between every other family's ops. Each device access is checked against
// the content model as the CPU's own access would be, and before each
// mirror op every device entry must map the frame the CPU maps there.
import * as C from '../assembly/constants';
import type { HmmMirror, Task } from '../src/index';
import { attempt, fail, type Machine } from './machine';
import type { Op } from './ops';

type MirrorOp = Extract<Op, { op: 'mirrorOpen' | 'mirrorAccess' | 'mirrorRange' | 'mirrorClose' }>;

// A failed device fault is EFAULT (a hole, SIGBUS, out of memory) or EPERM
// (a write where the VMA has no VM_WRITE): where the CPU gets a signal.
const DEVICE_CODES = ['EFAULT', 'EPERM'];

export class Mirrors {
  readonly devs: HmmMirror[] = [];

  constructor(readonly m: Machine) {}

  run(t: Task, o: MirrorOp): unknown {
    this.#checkTables();
    if (o.op === 'mirrorOpen') {
      this.devs.push(this.m.k.hmmMirror(t));
      return this.devs.length - 1;
    }
    const g = this.#pick(o.pick);
    if (o.op === 'mirrorClose') return g.task.exited ? g.close() : g.task.close(g.fd);
    const owner = g.task;
    if (owner.exited) return attempt(() => g.read(0x10000000)); // EFAULT: no mm to fault in
    const a = this.m.addr(owner, o.vma, o.off);
    if (o.op === 'mirrorAccess') return this.#access(g, owner, a, o.write, o.word);
    if (o.snapshot) return attempt(() => Array.from(g.snapshot(a, o.pages)).join(','));
    const got = attempt(() => g.ioctl_read(a, o.pages));
    if ('value' in got) {
      const r = got.value as { data: Uint32Array; faults: number };
      r.data.forEach((w, i) => this.#check(owner, a + i * 4096, w));
      return { faults: r.faults, sum: r.data.reduce((x, y) => (x + y) % 0x7fffffff, 0) };
    }
    return got;
  }

  // The HMM contract, after whatever ran since the last mirror op: every
  // entry of a device page table maps the frame the CPU maps there now
  // (an entry an invalidation should have dropped would not).
  #checkTables(): void {
    for (const g of this.devs) {
      if (g.closed || g.task.exited) continue;
      for (const r of g.mappings()) {
        for (let i = 0; i < r.length / 4096; i++) {
          const a = r.addr + i * 4096;
          const cpu = g.task.translate(a);
          if (cpu !== r.pfn + i) fail(`${g.name}: the device maps 0x${a.toString(16)} to pfn ${r.pfn + i}, the CPU to ${String(cpu)}`);
        }
      }
    }
  }

  // A device not closed yet (some outlive their opener through a forked
  // child's fd), opening one for a live task when there is none.
  #pick(pick: number): HmmMirror {
    const live = this.devs.filter((d) => !d.closed);
    if (live.length) return live[pick % live.length]!;
    this.devs.push(this.m.k.hmmMirror(this.m.task(pick)));
    return this.devs.at(-1)!;
  }

  #access(g: HmmMirror, t: Task, a: number, write: boolean, word: number): unknown {
    const want = this.m.model.expect(t, a, write);
    const got = attempt(() => (write ? g.write(a, word) : g.read(a)));
    const at = `device ${write ? 'write' : 'read'} at 0x${a.toString(16)} of task ${t.pid}`;
    if ('code' in got) {
      if (!this.#refusable(t, a, write, got.code, want !== null && 'code' in want)) fail(`${at}: got ${got.code}, the model expects ${JSON.stringify(want)}`);
      return got;
    }
    if (want && 'code' in want) fail(`${at} succeeded, the model expects ${want.code}`);
    if (write) this.m.model.wrote(t, a, word);
    else this.#check(t, a, got.value as number);
    return got;
  }

  // Where hmm_range_fault() may refuse what the CPU does: where the CPU
  // gets a signal, a VMA without VM_READ (hmm reports it as an error even
  // where x86 lets a PROT_WRITE mapping be read), a write without VM_WRITE,
  // and hugetlb (an empty pool); any fault may run out of memory, or out of
  // page-table slots (pinsim's pool, sized per RAM frame at boot).
  #refusable(t: Task, a: number, write: boolean, code: string, cpuFails: boolean): boolean {
    if (!DEVICE_CODES.includes(code)) return false;
    const v = t.mm.vmaAt(a);
    if (cpuFails || !v) return true;
    if (code === 'EPERM') return write && !(v.flags & C.VM_WRITE);
    const k = this.m.k;
    const mi = k.meminfo();
    return !(v.flags & C.VM_READ) || v.isHugetlb || mi.MemFree < 1024 || mi.PageTables / 4 >= k.core.pt_capacity() - 4;
  }

  #check(t: Task, a: number, word: number): void {
    const want = this.m.model.expect(t, a, false);
    if (want && 'value' in want && want.value !== word) {
      fail(`device read at 0x${a.toString(16)} of task ${t.pid} gave 0x${word.toString(16)}, the model expects 0x${want.value.toString(16)}`);
    }
  }
}
