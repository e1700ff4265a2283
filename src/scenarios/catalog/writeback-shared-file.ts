// The writeback hazard that started FOLL_PIN (kernel-history.md §4.2, S4;
// "The trouble with get_user_pages()", LSFMM 2018): an RDMA MR over a
// MAP_SHARED ext4 page. Writeback cleans and write-protects the page and
// the filesystem lets go of its buffers (pinsim strips them at writeback,
// its stand-in for reclaim); the NIC then writes through its pin and the
// release dirties the page behind ext4's back. The next writeback BUGs
// before 5.18, warns and drops the data from 5.18 (cc5095747edf), writes it
// from 6.4 (a maybe-pinned folio keeps its buffers, d824ec2a1546), and from
// 6.5 the long-term R/W pin of such a page is refused (8ac268436e6d).
import * as C from '../../../assembly/constants';
import type { SimFile } from '../../fs/file';
import type { IbMr, RdmaNic } from '../../devices/rdma';
import type { Task } from '../../task';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';

const PAGE = C.PAGE_SIZE;
const RW_MR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE;
const [A, D] = [0x41, 0x44];

const db = (c: ScenarioCtx): Task => c.tasks.get('db')!;
const file = (c: ScenarioCtx): SimFile => c.vars.file as SimFile;
const map = (c: ScenarioCtx): number => c.vars.map as number;
const nic = (c: ScenarioCtx): RdmaNic => c.vars.nic as RdmaNic;
const mr = (c: ScenarioCtx): IbMr | undefined => c.vars.mr as IbMr | undefined;
const page = (c: ScenarioCtx): number => c.vars.page as number;
// The disk block of file page 0 as the writebacks left it.
const disk = (c: ScenarioCtx): number => file(c).store.get(0) ?? 0;

// Writeback of the file, as fsync() or the flusher thread would start it.
function writeback(c: ScenarioCtx): string {
  const r = c.k.writeback(file(c));
  const buffers = c.k.page(page(c)).flags.includes('private') ? 'kept its buffers' : 'has no buffers';
  return `writeback: ${r.written} written, ${r.hazards.length} dirtied behind ext4's back; the disk holds ${word(disk(c))}; the page ${buffers}`;
}

const skipped = 'nothing registered: nothing to do';

export const writebackSharedFile: Scenario = {
  id: 'writeback-shared-file',
  title: 'An RDMA MR over a MAP_SHARED ext4 page across writeback: kernel BUG, lost data, or a refused pin',
  refs: [
    { label: 'LWN: The trouble with get_user_pages() (LSFMM 2018)', url: 'https://lwn.net/Articles/753027/' },
    { label: 'LWN: Page pinning and filesystems (LSFMM 2022)', url: 'https://lwn.net/Articles/894390/' },
    { label: 'cc5095747edf ext4: don\'t BUG if someone dirty pages without asking ext4 first (5.18)', url: 'https://git.kernel.org/linus/cc5095747edf' },
    { label: '8ac268436e6d mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings (6.5)', url: 'https://git.kernel.org/linus/8ac268436e6d' },
  ],
  presets: ['5.5', '5.18', '6.4', 'latest'],
  boot: { memory: '64MiB' },
  steps: [
    {
      narration: "A database maps a 4 KiB ext4 file MAP_SHARED and writes 'A': ->page_mkwrite lets ext4 attach its buffers.",
      action: (c) => {
        const t = c.k.spawn({ name: 'db' });
        c.tasks.set('db', t);
        c.vars.file = c.k.createFile({ fs: 'ext4', size: PAGE, name: 'journal' });
        c.vars.map = t.mmap({ length: PAGE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_SHARED, fd: t.open(file(c)) });
        t.write(map(c), A);
        c.vars.page = t.translate(map(c));
        return `mmap(MAP_SHARED, journal) = 0x${map(c).toString(16)}; write 'A'`;
      },
      look: [{ kind: 'frames', title: 'the page-cache page', pfns: (c) => [page(c)] }],
    },
    {
      narration: 'It registers the mapping as an RDMA MR for remote writes: a long-term R/W pin of a page-cache page.',
      action: (c) => {
        c.vars.nic = c.k.rdma();
        try {
          c.vars.mr = nic(c).reg_mr(nic(c).alloc_pd(db(c)), map(c), PAGE, RW_MR);
          return `ibv_reg_mr(LOCAL_WRITE | REMOTE_WRITE): rkey 0x${mr(c)!.rkey.toString(16)}`;
        } catch (e) {
          c.vars.regError = (e as { code?: string }).code;
          return `ibv_reg_mr(LOCAL_WRITE | REMOTE_WRITE): ${c.vars.regError}: GUP refuses a long-term write pin of a file that writes back`;
        }
      },
      look: [{ kind: 'frames', title: 'the page-cache page', pfns: (c) => [page(c)] }, { kind: 'device', title: 'the NIC', device: (c) => nic(c).name }],
    },
    {
      narration: 'fsync(): writeback cleans and write-protects the page; ext4 then lets go of its buffers (as reclaim would) unless the page is pinned.',
      action: (c) => writeback(c),
      look: [{ kind: 'frames', title: 'the page-cache page', pfns: (c) => [page(c)] }],
    },
    {
      narration: "A peer RDMA-WRITEs 'D' through the MR; then the application deregisters it (the pages are released dirty).",
      action: (c) => {
        const m = mr(c);
        if (!m) return skipped;
        const wc = nic(c).remote_write(m.rkey, map(c), D);
        nic(c).dereg_mr(m);
        return [`RDMA WRITE 'D': ${wc.status}`, 'ibv_dereg_mr(): set_page_dirty_lock() and unpin: the page is dirty, ext4 never heard of it'];
      },
      look: [{ kind: 'frames', title: 'the page-cache page', pfns: (c) => [page(c)] }],
    },
    {
      narration: 'The next writeback: ext4 finds the page dirty; does it still have its buffers?',
      action: (c) => {
        try {
          return writeback(c);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EKERNELBUG') throw e;
          c.vars.bug = true;
          return `${(e as Error).message}`;
        }
      },
    },
  ],
  outcome: (c) => {
    const regError = (c.vars.regError as string | undefined) ?? null;
    const kernelBug = c.vars.bug === true;
    const onDisk = disk(c);
    const summary = regError ? `refused: ibv_reg_mr() fails with ${regError}; the disk holds 'A'`
      : kernelBug ? 'kernel BUG in ext4 writeback: the machine has halted'
        : onDisk === D ? "written: the NIC's 'D' reached the disk"
          : `silent data loss: the NIC's 'D' never reached the disk (it holds ${word(onDisk)})`;
    return { summary, values: { regError, kernelBug, disk: word(onDisk) } };
  },
};
