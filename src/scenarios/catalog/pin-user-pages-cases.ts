// The cases of Documentation/core-api/pin_user_pages.rst, each with the
// device that is its example: Direct IO takes FOLL_PIN, RDMA FOLL_PIN |
// FOLL_LONGTERM (and so moves the page out of CMA first), an ODP memory
// region registers an MMU notifier and pins nothing, and a caller that
// only manipulates struct page takes FOLL_GET. On 5.6 (the first pin API)
// a pin was still a plain reference: +1, invisible to the rest of mm.
import * as C from '../../../assembly/constants';
import type { IbMr, RdmaNic } from '../../devices/rdma';
import type { Task } from '../../task';
import { word } from '../look';
import type { Look, Scenario, ScenarioCtx } from '../types';
import { spawnWithBuffer } from './lib';

const PAGE = C.PAGE_SIZE;
const RWR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
// One page per case: DIO, RDMA, ODP, FOLL_GET.
const [DIO, RDMA, ODP, GET] = [0, 1, 2, 3];

const proc = (c: ScenarioCtx): Task => c.tasks.get('app')!;
const addr = (c: ScenarioCtx, i: number): number => (c.vars.buf as number) + i * PAGE;
const pfn = (c: ScenarioCtx, i: number): number => proc(c).translate(addr(c, i))!;
const nic = (c: ScenarioCtx): RdmaNic => c.vars.nic as RdmaNic;
const refcount = (c: ScenarioCtx, i: number): number => c.k.page(pfn(c, i)).refcount;

// What a GUP reference did to the frame: the references beyond its one
// mapping (an anon page's refcount is its mapcount otherwise), and whether
// the rest of mm can tell (folio_maybe_dma_pinned()).
function held(c: ScenarioCtx, i: number): string {
  const p = c.k.page(pfn(c, i));
  const extra = p.refcount - p.mapcount;
  c.vars[`extra${i}`] = extra;
  c.vars[`pinned${i}`] = p.maybeDmaPinned;
  return `refcount ${p.refcount}, mapcount ${p.mapcount}: +${extra} beyond the mapping; folio_maybe_dma_pinned() = ${p.maybeDmaPinned}`;
}

const frame = (i: number, title: string): Look => ({ kind: 'frames', title, pfns: (c) => [pfn(c, i)] });
const pinCounters: Look = {
  kind: 'counters', title: 'counters',
  values: (c) => ({
    nr_foll_pin_acquired: c.k.vmstat().nr_foll_pin_acquired ?? '(no such line before 5.7)',
    nr_foll_pin_released: c.k.vmstat().nr_foll_pin_released ?? '(no such line before 5.7)',
    VmPin: `${proc(c).status().VmPin} kB`,
  }),
};

export const pinUserPagesCases: Scenario = {
  id: 'pin-user-pages-cases',
  title: 'The cases of pin_user_pages.rst: FOLL_PIN, FOLL_PIN|FOLL_LONGTERM, an MMU notifier, FOLL_GET',
  refs: [
    { label: 'Documentation/core-api/pin_user_pages.rst', url: 'https://docs.kernel.org/core-api/pin_user_pages.html' },
    { label: 'LWN: Explicit pinning of user-space pages (2019)', url: 'https://lwn.net/Articles/807108/' },
    { label: 'eddb1c228f79 mm/gup: introduce pin_user_pages*() and FOLL_PIN (5.6)', url: 'https://git.kernel.org/linus/eddb1c228f79' },
    { label: '3faa52c03f44 mm/gup: track FOLL_PIN pages (5.7)', url: 'https://git.kernel.org/linus/3faa52c03f44' },
  ],
  presets: ['latest', '5.6'],
  boot: { memory: '64MiB', cma: '32MiB', thp: 'never' },
  steps: [
    {
      narration: 'A process writes four pages of anonymous memory, one per case; they come from the CMA area.',
      action: (c) => {
        c.vars.buf = spawnWithBuffer(c, 'app', 'app', 4 * PAGE);
        for (let i = 0; i < 4; i++) proc(c).write(addr(c, i), 0x61 + i);
        return `mmap() = 0x${addr(c, 0).toString(16)}; writes 'a' 'b' 'c' 'd'`;
      },
      look: [{ kind: 'ptes', title: 'app', task: 'app', addr: (c) => addr(c, 0), pages: 4 }],
    },
    {
      narration: 'CASE 1, Direct IO: an O_DIRECT read into page 0 is in flight; the doc asks for FOLL_PIN, held only for the I/O.',
      action: (c) => {
        const t = proc(c);
        const f = c.k.createFile({ fs: 'ext4', size: PAGE, name: 'data' });
        t.pwrite(t.open(f), 0, 0x44);
        t.preadv(t.open(f, { direct: true }), [{ base: addr(c, DIO), len: PAGE }], 0, { async: true });
        const how = c.k.rules.odirectPin.value ? 'FOLL_PIN (iov_iter_extract_pages(), since 6.5)' : 'FOLL_GET (iov_iter_get_pages(): O_DIRECT pinned only from 6.5)';
        return [`preadv(O_DIRECT, page 0) submitted: the block layer took ${how}`, held(c, DIO)];
      },
      look: [frame(DIO, 'page 0 while the read is in flight'), { kind: 'device', title: 'the block device', device: (c) => c.k.blockDevice().name }],
    },
    {
      narration: 'The read completes: the device wrote the file data, and the pin is dropped at once.',
      action: (c) => {
        c.k.settle();
        return `page 0 holds ${word(proc(c).read(addr(c, DIO)))}; refcount ${refcount(c, DIO)}`;
      },
      look: [frame(DIO, 'page 0')],
    },
    {
      narration: 'CASE 2, RDMA: ibv_reg_mr() on page 1 pins it for as long as the MR lives (FOLL_PIN | FOLL_LONGTERM).',
      action: (c) => {
        c.vars.nic = c.k.rdma({ odp: true });
        const was = pfn(c, RDMA);
        c.vars.wasCma = c.k.page(was).migratetype === 'CMA';
        c.vars.mr = nic(c).reg_mr(nic(c).alloc_pd(proc(c)), addr(c, RDMA), PAGE, RWR);
        c.vars.leftCma = c.k.page(pfn(c, RDMA)).migratetype !== 'CMA';
        const moved = pfn(c, RDMA) !== was;
        return [
          `ibv_reg_mr(page 1, REMOTE_WRITE): lkey 0x${(c.vars.mr as IbMr).lkey.toString(16)}`,
          moved ? `the page left CMA first: pfn ${was} -> ${pfn(c, RDMA)} (a long-term pin must not block cma_alloc())`
            : `the page stays in CMA at pfn ${was}: GUP-fast took it where it was (it checked FOLL_LONGTERM against CMA only from 5.7, df3a0a21b698)`,
          held(c, RDMA),
        ];
      },
      look: [frame(RDMA, 'page 1'), { kind: 'device', title: 'the NIC', device: (c) => nic(c).name }, pinCounters],
    },
    {
      narration: 'CASE 3, an MMU notifier instead of a pin: an ODP MR on page 2; the NIC faults the page in and the kernel may take it back.',
      action: (c) => {
        const mr = nic(c).reg_mr(nic(c).alloc_pd(proc(c)), addr(c, ODP), PAGE, RWR | C.IB_ACCESS_ON_DEMAND);
        const wc = nic(c).remote_write(mr.rkey, addr(c, ODP), 0x4f);
        c.vars.odp = mr;
        return [
          `ibv_reg_mr(page 2, ON_DEMAND); RDMA WRITE 'O': ${wc.status}, device fault ${wc.faulted}`,
          held(c, ODP),
          `the CPU reads ${word(proc(c).read(addr(c, ODP)))}`,
        ];
      },
      look: [frame(ODP, 'page 2'), pinCounters],
    },
    {
      narration: 'MADV_DONTNEED on page 2: the notifier tells the NIC to drop its mapping; nothing held the page.',
      action: (c) => {
        proc(c).madvise(addr(c, ODP), PAGE, C.MADV_DONTNEED);
        const s = (c.vars.odp as IbMr).odpStats();
        c.vars.invalidations = s.invalidations;
        return `odpStats: ${s.faults} fault, ${s.invalidations} invalidation; page 2 now maps ${proc(c).translate(addr(c, ODP)) ?? 'nothing'}`;
      },
      look: [{ kind: 'ptes', title: 'app', task: 'app', addr: (c) => addr(c, ODP), pages: 1 }],
    },
    {
      narration: 'CASE 4, struct page manipulation only: get_user_pages() on page 3 takes a plain reference (FOLL_GET).',
      action: (c) => {
        const pages = c.k.pageArray(1);
        const n = c.k.get_user_pages(proc(c), addr(c, GET), 1, 0, pages);
        const line = held(c, GET);
        c.k.put_page(pages.get(0)!);
        pages.free();
        return [`get_user_pages(page 3, 0) = ${n}`, line, 'put_page()'];
      },
      look: [frame(GET, 'page 3 after put_page()'), pinCounters],
    },
  ],
  outcome: (c) => {
    const v = {
      dioExtraRefs: c.vars[`extra${DIO}`] as number, dioMaybePinned: c.vars[`pinned${DIO}`] as boolean,
      rdmaExtraRefs: c.vars[`extra${RDMA}`] as number, rdmaMaybePinned: c.vars[`pinned${RDMA}`] as boolean,
      rdmaLeftCma: (c.vars.wasCma as boolean) && (c.vars.leftCma as boolean),
      odpExtraRefs: c.vars[`extra${ODP}`] as number, odpInvalidations: c.vars.invalidations as number,
      getExtraRefs: c.vars[`extra${GET}`] as number, getMaybePinned: c.vars[`pinned${GET}`] as boolean,
      vmPinKb: proc(c).status().VmPin,
    };
    const pin = (d: number, p: boolean) => (p ? `FOLL_PIN (+${d}, maybe-pinned)` : `+${d}, not visible as a pin`);
    return {
      summary: `DIO ${pin(v.dioExtraRefs, v.dioMaybePinned)}; RDMA ${pin(v.rdmaExtraRefs, v.rdmaMaybePinned)}${v.rdmaLeftCma ? ', moved out of CMA' : ''}; ODP +${v.odpExtraRefs}; FOLL_GET +${v.getExtraRefs}`,
      values: v,
    };
  },
};
