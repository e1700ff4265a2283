// Replaying a historical bug: fork() with a registered RDMA memory region
// (kernel-history.md §4.1, scenario S2). A process writes 'A' into a
// buffer, registers it as an MR (a long-term R/W pin), forks a child that
// stays alive, then writes 'B'; a peer reads, then writes 'C', through the
// MR. Up to 5.8 fork shared the pinned page copy-on-write, so the parent's
// write moved it to a new page the NIC never sees; 5.9 (70e806e4e645)
// copies maybe-pinned pages into the child at fork instead.
// test/era-replay.test.ts checks it; run as a script (through a TypeScript
// runner or an esbuild bundle) it prints the replay on '5.8' and '5.10'.
import { boot, constants as C, type BootOptions, type Kernel } from '../src/index';

const RWR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const [A, B, CC] = [0x41, 0x42, 0x43]; // 'A', 'B', 'C': pinsim models a page's contents as one word
const ch = (w: number | null): string => (w === null ? 'nothing' : `'${String.fromCharCode(w)}'`);

export interface ForkRdmaReplay {
  parentReads: number;
  deviceReads: number | null;
  childReads: number;
  lines: string[];
}

// The replay on a booted machine: what each side reads, and a few lines
// that say what happened to the frames.
export function replayForkRdma(k: Kernel): ForkRdmaReplay {
  const lines: string[] = [];
  const frame = (pfn: number): string => {
    const p = k.page(pfn);
    return `pfn ${pfn} (refcount ${p.refcount}, mapcount ${p.mapcount})`;
  };
  const t = k.spawn({ name: 'rdma-app' });
  const buf = t.mmap({ length: C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
  t.write(buf, A);
  const nic = k.rdma();
  const mr = nic.reg_mr(nic.alloc_pd(t), buf, C.PAGE_SIZE, RWR);
  const pinned = t.translate(buf)!;
  lines.push(`kernel ${k.kernel}: fork copies maybe-pinned pages: '${k.rules.forkCopyPinned.value}' (${k.rules.forkCopyPinned.title})`);
  lines.push(`  ibv_reg_mr() pins ${frame(pinned)}`);
  const child = t.fork();
  const cpfn = child.translate(buf)!;
  lines.push(`  fork: the child maps ${cpfn === pinned ? 'the same frame, copy-on-write' : `its own copy, ${frame(cpfn)}`}; the pinned frame is ${frame(pinned)}`);
  t.write(buf, B);
  const ppfn = t.translate(buf)!;
  lines.push(`  the parent writes 'B': it maps ${ppfn === pinned ? 'the pinned frame still' : `a COW copy, ${frame(ppfn)}; the MR still points at pfn ${pinned}`}`);
  const deviceReads = nic.remote_read(mr.rkey, buf).word;
  nic.remote_write(mr.rkey, buf, CC);
  const parentReads = t.read(buf);
  const childReads = child.read(buf);
  lines.push(`  RDMA READ through the MR gets ${ch(deviceReads)}; after an RDMA WRITE of 'C' the parent reads ${ch(parentReads)}, the child ${ch(childReads)}`);
  lines.push(parentReads === CC ? '  => coherent: the NIC and the parent share the buffer' : '  => silent corruption: the parent and the NIC no longer share the buffer');
  return { parentReads, deviceReads, childReads, lines };
}

// A demonstration when run directly.
async function main(): Promise<void> {
  for (const kernel of ['5.8', '5.10'] as const satisfies readonly BootOptions['kernel'][]) {
    const k = await boot({ memory: '64MiB', kernel, thp: 'never' });
    for (const line of replayForkRdma(k).lines) console.log(line);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
