// The ibv_fork_init() workaround and its page-granularity trap
// (kernel-history.md §4.1). Before 5.9 fork shared pinned pages, so
// libibverbs' fork support marks every MR's page-rounded range
// MADV_DONTFORK at registration. Whatever else lives on those pages (a
// malloc'ed struct next to a small RDMA buffer) is then missing from the
// child, which crashes when it touches it. Kernels from 5.13 report
// copy-on-fork (RDMA_NLDEV_SYS_ATTR_COPY_ON_FORK): ibv_fork_init() is a
// no-op and fork copies the pinned page for the child instead.
import * as C from '../../../assembly/constants';
import type { RdmaNic } from '../../devices/rdma';
import type { Task } from '../../task';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';

const PAGE = C.PAGE_SIZE;
const [K, L] = [0x4b, 0x4c]; // the config struct on the MR's page, a log buffer on the next page
const CONFIG = 2048; // offset of the config struct in the heap, on the MR's page
const MR_LEN = 1024;

const app = (c: ScenarioCtx): Task => c.tasks.get('app')!;
const heap = (c: ScenarioCtx): number => c.vars.heap as number;
const hex = (a: number): string => `0x${a.toString(16)}`;

// Kernels that report copy-on-fork to rdma-core: 5.13 and later. pinsim
// fixes the attribute per machine with the first NIC (k.rdma({ copyOnFork })).
const NO_COPY_ON_FORK = ['5.5', '5.6', '5.7', '5.8', '5.9', '5.10'];

const FORK_STATE = ['IBV_FORK_DISABLED', 'IBV_FORK_ENABLED', 'IBV_FORK_UNNEEDED'];

// The heap's VMAs, /proc/<pid>/maps-like, with smaps' "dc" for VM_DONTCOPY.
function heapMaps(t: Task, start: number): string[] {
  return t.maps().filter((v) => v.end > start && v.start < start + 2 * PAGE)
    .map((v) => `${hex(v.start)}-${hex(v.end)} ${v.perms}${v.flags & C.VM_DONTCOPY ? '  VmFlags: dc (MADV_DONTFORK)' : ''}`);
}

// A user access in the child: the word, or the signal it gets.
function childReads(c: ScenarioCtx, addr: number): string {
  try {
    return word(c.tasks.get('child')!.read(addr));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'SIGSEGV') throw e;
    return code;
  }
}

export const forkRdmaDontfork: Scenario = {
  id: 'fork-rdma-dontfork',
  title: "ibv_fork_init()'s MADV_DONTFORK works on whole pages: the child loses the malloc data beside an MR",
  refs: [
    { label: 'ibv_fork_init(3) (rdma-core)', url: 'https://man7.org/linux/man-pages/man3/ibv_fork_init.3.html' },
    { label: 'LWN: Patching until the COWs come home (part 2)', url: 'https://lwn.net/Articles/849876/' },
    { label: '70e806e4e645 mm: Do early cow for pinned pages during fork() for ptes (5.9)', url: 'https://git.kernel.org/linus/70e806e4e645' },
  ],
  presets: ['5.8', 'latest'],
  boot: { memory: '64MiB', thp: 'never' },
  steps: [
    {
      narration: 'An RDMA application starts with ibv_fork_init() (or RDMAV_FORK_SAFE=1), as the man page asks of programs that fork.',
      action: (c) => {
        const t = c.k.spawn({ name: 'rdma-app' });
        c.tasks.set('app', t);
        c.vars.nic = c.k.rdma({ copyOnFork: !NO_COPY_ON_FORK.includes(c.k.kernel) });
        const r = t.ibv_fork_init();
        c.vars.forkState = FORK_STATE[t.ibv_is_fork_initialized()];
        return [`rdma sys: copy-on-fork ${c.k.rdma_sys().copy_on_fork ? 'on' : 'off'}`, `ibv_fork_init() = ${r}; ibv_is_fork_initialized() = ${c.vars.forkState as string}`];
      },
    },
    {
      narration: "malloc() gives it a 1 KiB RDMA buffer and, on the same page, a config struct ('K'); a log buffer ('L') sits on the next page.",
      action: (c) => {
        const t = app(c);
        c.vars.heap = t.mmap({ length: 2 * PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.write(heap(c) + CONFIG, K);
        t.write(heap(c) + PAGE, L);
        return [`heap at ${hex(heap(c))}: RDMA buffer at +0 (1 KiB), config at +${CONFIG}, log at +${PAGE}`, ...heapMaps(t, heap(c))];
      },
      look: [{ kind: 'ptes', title: 'rdma-app', task: 'app', addr: heap, pages: 2 }],
    },
    {
      narration: 'ibv_reg_mr() registers the 1 KiB buffer; where fork support is enabled, libibverbs marks its whole page MADV_DONTFORK.',
      action: (c) => {
        const nic = c.vars.nic as RdmaNic;
        const mr = nic.reg_mr(nic.alloc_pd(app(c)), heap(c), MR_LEN, C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE);
        return [`ibv_reg_mr(${hex(heap(c))}, ${MR_LEN}): lkey ${hex(mr.lkey)}`, ...heapMaps(app(c), heap(c))];
      },
      look: [{ kind: 'device', title: 'the NIC', device: (c) => (c.vars.nic as RdmaNic).name }],
    },
    {
      narration: 'The application forks a helper child (system(), popen()).',
      action: (c) => {
        const child = app(c).fork();
        c.tasks.set('child', child);
        const [mine, its] = [app(c).translate(heap(c)), child.translate(heap(c))];
        const page0 = its === null ? 'not mapped in the child' : its === mine ? `shared with the parent, pfn ${its}` : `a copy, pfn ${its} (the parent keeps the pinned pfn ${mine})`;
        return [`fork(): the child's heap; its first page is ${page0}`, ...heapMaps(child, heap(c))];
      },
      look: [{ kind: 'ptes', title: 'child', task: 'child', addr: heap, pages: 2 }],
    },
    {
      narration: 'Before it execs, the child reads the config struct and the log buffer it inherited.',
      action: (c) => {
        c.vars.config = childReads(c, heap(c) + CONFIG);
        c.vars.log = childReads(c, heap(c) + PAGE);
        return [`child reads config (+${CONFIG}): ${c.vars.config as string}`, `child reads log (+${PAGE}): ${c.vars.log as string}`];
      },
    },
  ],
  outcome: (c) => {
    const config = c.vars.config as string;
    return {
      summary: config === 'SIGSEGV' ? 'the child crashes: the config struct shared a page with the MR, and MADV_DONTFORK left that page out of the child'
        : `the child reads its config ${config}: fork copied the pinned page for it, no MADV_DONTFORK needed`,
      values: { forkInit: c.vars.forkState as string, childConfig: config, childLog: c.vars.log as string },
    };
  },
};
