// liburing #365: io_uring_register_buffers() fails with ENOMEM under the
// old 64 KiB RLIMIT_MEMLOCK for 36 KiB of buffers, because malloc's
// buffers are not page-aligned and io_uring charges user->locked_vm every
// page each buffer touches (io_sqe_buffer_register(); adjacent buffers
// sharing a page pay for it twice). And the other way round: a buffer in a
// huge page is charged the whole compound folio (io_buffer_account_pin(),
// headpage_already_acct()): 4 KiB of buffer, 2 MiB of locked_vm.
import * as C from '../../../assembly/constants';
import type { IoUring } from '../../devices/io_uring';
import type { Scenario, ScenarioCtx } from '../types';
import { KiB, failure, hex, memlockCounters, spawn, task, v } from './lib';

const CNT = 9;
const HPAGE = 2 * 1024 * KiB;

const app = (c: ScenarioCtx) => task(c, 'app');
const ring = (c: ScenarioCtx): IoUring => v<IoUring>(c, 'ring');
const counters = { kind: 'counters' as const, title: 'memlock counters (pages)', values: (c: ScenarioCtx) => memlockCounters(c, 'app') };

// Registers the iovecs; the result line names the counter and numbers of a refusal.
function register(c: ScenarioCtx, what: string, iovs: { iov_base: number; iov_len: number }[]): string {
  const e = failure(() => ring(c).register_buffers(iovs));
  if (e === null) {
    const acct = ring(c).buffers().map((b) => b.acct_pages);
    return `io_uring_register_buffers(${what}) = 0: charged ${acct.join(' + ')} = ${acct.reduce((s, n) => s + n, 0)} pages`;
  }
  const d = e.detail;
  c.vars.lastDetail = d;
  return d
    ? `io_uring_register_buffers(${what}) = -${e.code}: ${d.counter} ${d.current} + ${d.requested} > ${d.limit} pages; ulimit -l ${d.minUlimitKiB} would pass`
    : `io_uring_register_buffers(${what}) = -${e.code}`;
}

export const ioUringMemlock: Scenario = {
  id: 'io-uring-memlock',
  title: 'io_uring fixed buffers under a 64 KiB RLIMIT_MEMLOCK: unaligned buffers charge twice, a THP charges 2 MiB',
  refs: [
    { label: 'liburing #365: max registered buffers size in io_uring', url: 'https://github.com/axboe/liburing/issues/365' },
    { label: 'io_uring/rsrc.c: io_buffer_account_pin(), headpage_already_acct()', url: 'https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/io_uring/rsrc.c' },
  ],
  presets: ['latest'],
  boot: { memory: '256MiB', thp: 'always', memlock: { soft: '64KiB', hard: '8MiB' } },
  steps: [
    {
      narration: `The program of liburing #365 mallocs ${CNT} × 4 KiB; malloc's block starts 16 bytes into a page.`,
      action: (c) => {
        const t = spawn(c, 'app');
        const base = t.mmap({ length: (CNT + 1) * C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.touch(base, (CNT + 1) * C.PAGE_SIZE, { write: true });
        c.vars.base = base;
        c.vars.ring = t.io_uring_setup(64);
        return [`buf = malloc(${CNT} * 4096) = ${hex(base + 16)}`, `io_uring_queue_init(64) = 0; RLIMIT_MEMLOCK 64 KiB: 16 pages`];
      },
      look: [counters],
    },
    {
      narration: 'It registers iov[i] = buf + i * 4096: each buffer straddles two pages and is charged both.',
      action: (c) => {
        const base = v<number>(c, 'base') + 16;
        const iovs = (n: number) => Array.from({ length: n }, (_, i) => ({ iov_base: base + i * C.PAGE_SIZE, iov_len: C.PAGE_SIZE }));
        const nine = register(c, `${CNT} x 4 KiB`, iovs(CNT));
        c.vars.unaligned = v(c, 'lastDetail');
        const eight = register(c, `${CNT - 1} x 4 KiB`, iovs(CNT - 1));
        c.vars.eightCharged = ring(c).buffers().reduce((s, b) => s + b.acct_pages, 0);
        return [nine, eight];
      },
      look: [counters],
    },
    {
      narration: 'Page-aligned buffers (posix_memalign) charge one page each: all nine fit.',
      action: (c) => {
        ring(c).unregister_buffers();
        const base = v<number>(c, 'base');
        const r = register(c, `${CNT} x 4 KiB, aligned`, Array.from({ length: CNT }, (_, i) => ({ iov_base: base + i * C.PAGE_SIZE, iov_len: C.PAGE_SIZE })));
        c.vars.alignedCharged = ring(c).buffers().reduce((s, b) => s + b.acct_pages, 0);
        ring(c).unregister_buffers();
        return [r, 'io_uring_unregister_buffers() = 0'];
      },
      look: [counters],
    },
    {
      narration: 'A 4 KiB buffer inside a transparent huge page: the whole 2 MiB folio is charged.',
      action: (c) => {
        const t = app(c);
        const region = t.mmap({ length: 2 * HPAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS });
        t.touch(region, 2 * HPAGE, { write: true });
        c.vars.thpBuf = region + 5 * C.PAGE_SIZE;
        c.vars.thpPfn = t.translate(v(c, 'thpBuf'));
        const r = register(c, '4 KiB in a THP', [{ iov_base: v(c, 'thpBuf'), iov_len: C.PAGE_SIZE }]);
        c.vars.thpDetail = v(c, 'lastDetail');
        return r;
      },
      look: [{ kind: 'frames', title: 'the buffer\'s page', pfns: (c) => [v<number>(c, 'thpPfn')] }, counters],
    },
    {
      narration: 'With ulimit -l 8192 (8 MiB, the default since 5.16) it passes, and 4 KiB of buffer holds 2 MiB of locked_vm.',
      action: (c) => {
        app(c).setrlimit('RLIMIT_MEMLOCK', { soft: 8 * 1024 * KiB, hard: 8 * 1024 * KiB });
        const r = register(c, '4 KiB in a THP', [{ iov_base: v(c, 'thpBuf'), iov_len: C.PAGE_SIZE }]);
        c.vars.thpCharged = ring(c).buffers()[0].acct_pages;
        return [r, `VmPin: ${app(c).status().VmPin} kB`];
      },
      look: [counters, { kind: 'device', title: 'the ring', device: (c) => ring(c).name }],
    },
  ],
  outcome: (c) => {
    const u = v<{ current: number; requested: number; minUlimitKiB: number }>(c, 'unaligned');
    const h = v<{ requested: number }>(c, 'thpDetail');
    return {
      summary: `${CNT} unaligned 4 KiB buffers need ${u.current + u.requested} pages (ENOMEM; ${v<number>(c, 'alignedCharged')} when aligned); a 4 KiB buffer in a THP is charged ${v<number>(c, 'thpCharged')} pages`,
      values: {
        unalignedFailsAt: u.current + u.requested, unalignedMinUlimitKiB: u.minUlimitKiB, eightUnalignedCharged: v<number>(c, 'eightCharged'),
        alignedCharged: v<number>(c, 'alignedCharged'), thpRequested: h.requested, thpCharged: v<number>(c, 'thpCharged'),
        userLockedVm: c.k.user(app(c).uid).locked_vm, pinnedVm: app(c).mm.pinned_vm,
      },
    };
  },
};
