// One RLIMIT_MEMLOCK, three counters: mlock (and VFIO) charge
// mm->locked_vm, an RDMA MR mm->pinned_vm, io_uring the per-user
// user->locked_vm (and pinned_vm, unchecked). Each charger checks only its
// own counter against the limit, so one process holds three times its
// limit (devices-and-accounting.md §1; Alistair Popple's pins cgroup
// cover letter says so).
import * as C from '../../../assembly/constants';
import type { IoUring } from '../../devices/io_uring';
import type { RdmaNic } from '../../devices/rdma';
import type { Scenario, ScenarioCtx } from '../types';
import { failure, memlockCounters, spawn, task, v } from './lib';

const LIMIT_PAGES = 16; // 64 KiB
const LEN = LIMIT_PAGES * C.PAGE_SIZE;
const ACCESS = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;

const app = (c: ScenarioCtx) => task(c, 'app');
const buf = (c: ScenarioCtx, i: number): number => v<number>(c, 'buf') + i * LEN;
const nic = (c: ScenarioCtx): RdmaNic => v<RdmaNic>(c, 'nic');
const ring = (c: ScenarioCtx): IoUring => v<IoUring>(c, 'ring');

const counters = { kind: 'counters' as const, title: 'app (pages)', values: (c: ScenarioCtx) => ({ ...memlockCounters(c, 'app'), VmLck: `${app(c).status().VmLck} kB`, VmPin: `${app(c).status().VmPin} kB` }) };
const ledger = {
  kind: 'counters' as const, title: 'k.memlockLedger()',
  values: (c: ScenarioCtx) => Object.fromEntries(c.k.memlockLedger().map((e) => [`${e.counter} by ${e.by}`, e.pages])),
};

// One page more through a charger: its errno and the counter it names, or "0".
function onePageMore(c: ScenarioCtx, what: string, fn: () => unknown): string {
  const e = failure(fn);
  c.vars[what] = e?.code ?? null;
  return `${what}: ${e ? `-${e.code}${e.detail ? ` (${e.detail.counter} ${e.detail.current} + ${e.detail.requested} > ${e.detail.limit})` : ''}` : '0'}`;
}

export const memlockThreeCounters: Scenario = {
  id: 'memlock-three-counters',
  title: 'one 64 KiB RLIMIT_MEMLOCK, three counters: mlock, an RDMA MR and io_uring lock 3 × 64 KiB',
  refs: [
    { label: 'Alistair Popple: [RFC PATCH 00/19] mm: Introduce a cgroup to limit the amount of locked and pinned memory (Jan 2023)', url: 'https://lore.kernel.org/r/cover.f52b9eb2792bccb8a9ecd6bc95055705cfe2ae03.1674538665.git-series.apopple@nvidia.com' },
    { label: 'Documentation/core-api/pin_user_pages.rst', url: 'https://docs.kernel.org/core-api/pin_user_pages.html' },
  ],
  presets: ['latest'],
  boot: { memory: '64MiB', thp: 'never', memlock: '64KiB' },
  steps: [
    {
      narration: 'A process (uid 1000, no CAP_IPC_LOCK, ulimit -l 64) maps three 64 KiB buffers.',
      action: (c) => {
        const t = spawn(c, 'app');
        c.vars.buf = t.mmap({ length: 3 * LEN, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_POPULATE });
        return 'mmap(3 x 64 KiB, MAP_POPULATE)';
      },
      look: [counters],
    },
    {
      narration: 'mlock() the first: mm->locked_vm (VmLck) reaches the limit, 16 pages (VFIO would charge the same counter).',
      action: (c) => {
        app(c).mlock(buf(c, 0), LEN);
        return 'mlock(buf0, 64 KiB) = 0';
      },
      look: [counters],
    },
    {
      narration: 'Register the second as an RDMA MR: ib_umem_get() checks and charges mm->pinned_vm (VmPin), a different counter.',
      action: (c) => {
        c.vars.nic = c.k.rdma();
        c.vars.pd = nic(c).alloc_pd(app(c));
        nic(c).reg_mr(v(c, 'pd'), buf(c, 1), LEN, ACCESS);
        return 'ibv_reg_mr(buf1, 64 KiB) = 0';
      },
      look: [counters],
    },
    {
      narration: 'Register the third with io_uring: it checks user->locked_vm, and adds to pinned_vm without a check.',
      action: (c) => {
        c.vars.ring = app(c).io_uring_setup(8);
        ring(c).register_buffers([{ iov_base: buf(c, 2), iov_len: LEN }]);
        return 'io_uring_register_buffers(buf2, 64 KiB) = 0';
      },
      look: [counters, ledger],
    },
    {
      narration: 'One page more through each charger: now each is refused, each by its own counter.',
      action: (c) => {
        const extra = app(c).mmap({ length: C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_POPULATE });
        const r2 = app(c).io_uring_setup(8);
        return [
          onePageMore(c, 'mlock', () => app(c).mlock(extra, C.PAGE_SIZE)),
          onePageMore(c, 'ibv_reg_mr', () => nic(c).reg_mr(v(c, 'pd'), extra, C.PAGE_SIZE, ACCESS)),
          onePageMore(c, 'io_uring_register_buffers', () => r2.register_buffers([{ iov_base: extra, iov_len: C.PAGE_SIZE }])),
        ];
      },
      look: [counters],
    },
  ],
  outcome: (c) => {
    const t = app(c);
    const user = c.k.user(t.uid).locked_vm;
    const distinct = 3 * LIMIT_PAGES;
    return {
      summary: `${distinct} distinct pages locked or pinned under a ${LIMIT_PAGES}-page limit: locked_vm ${t.mm.locked_vm}, pinned_vm ${t.mm.pinned_vm}, user locked_vm ${user}; each next page is refused by its own counter`,
      values: {
        limitPages: LIMIT_PAGES, lockedVm: t.mm.locked_vm, pinnedVm: t.mm.pinned_vm, userLockedVm: user, distinctPages: distinct,
        mlockMore: v<string | null>(c, 'mlock'), rdmaMore: v<string | null>(c, 'ibv_reg_mr'), ioUringMore: v<string | null>(c, 'io_uring_register_buffers'),
      },
    };
  },
};
