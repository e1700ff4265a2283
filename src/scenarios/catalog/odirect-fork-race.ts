// O_DIRECT read + fork (kernel-history.md §6.3 S14): a process forks while
// a direct read into its buffer is in flight, then writes to that page.
// Until 6.4 the block layer held the buffer with FOLL_GET references,
// which fork does not see: the page stays shared, the parent's write
// copies it away, and the read's data lands in the child's page. From 6.5
// (1ccf164ec866 and the rest of David Howells' series) O_DIRECT pins with
// FOLL_PIN, so fork copies the page for the child instead (the 5.9 fork
// rule for maybe-pinned pages) and the parent keeps the page being filled.
import * as C from '../../../assembly/constants';
import type { SimFile } from '../../fs/file';
import { word } from '../look';
import type { Scenario, ScenarioCtx } from '../types';
import { spawnWithBuffer, task } from './lib';

const PAGE = C.PAGE_SIZE;
const [A, B, D] = [0x41, 0x42, 0x44];

const buf = (c: ScenarioCtx): number => c.vars.buf as number;
const dmaPage = (c: ScenarioCtx): number => c.vars.dmaPage as number;

export const odirectForkRace: Scenario = {
  id: 'odirect-fork-race',
  title: 'fork() during an O_DIRECT read: the data goes to the child while O_DIRECT takes FOLL_GET references',
  refs: [
    { label: 'LWN: Patching until the COWs come home (part 2)', url: 'https://lwn.net/Articles/849876/' },
    { label: 'LWN: get_user_pages() and COW, 2022 edition', url: 'https://lwn.net/Articles/895439/' },
    { label: '1ccf164ec866 block: Use iov_iter_extract_pages() and page pinning in direct-io.c (6.5)', url: 'https://git.kernel.org/linus/1ccf164ec866' },
  ],
  presets: ['6.4', 'latest'],
  boot: { memory: '64MiB', thp: 'never' },
  steps: [
    {
      narration: "A process writes 'A' into a one-page buffer; the file it will read holds 'D'.",
      action: (c) => {
        c.vars.buf = spawnWithBuffer(c, 'parent', 'reader', PAGE);
        const t = task(c, 'parent');
        const f = c.k.createFile({ fs: 'ext4', size: PAGE, name: 'data' });
        c.vars.file = f;
        t.pwrite(t.open(f), 0, D);
        t.write(buf(c), A);
        c.vars.dmaPage = t.translate(buf(c));
        return `buffer at 0x${buf(c).toString(16)}: pfn ${dmaPage(c)}`;
      },
    },
    {
      narration: 'It starts an O_DIRECT read of the file into the buffer (asynchronous: the I/O is in flight).',
      action: (c) => {
        const t = task(c, 'parent');
        c.vars.req = t.preadv(t.open(c.vars.file as SimFile, { direct: true }), [{ base: buf(c), len: PAGE }], 0, { async: true });
        const p = c.k.page(dmaPage(c));
        return `preadv(O_DIRECT) submitted: pfn ${dmaPage(c)} has refcount ${p.refcount}, folio_maybe_dma_pinned() = ${p.maybeDmaPinned}`;
      },
      look: [
        { kind: 'frames', title: 'the buffer page', pfns: (c) => [dmaPage(c)] },
        { kind: 'device', title: 'the block device', device: (c) => c.k.blockDevice().name },
      ],
    },
    {
      narration: 'Meanwhile another thread calls system(): fork shares the buffer copy-on-write, or copies it for the child if it sees a pin.',
      action: (c) => {
        const child = task(c, 'parent').fork();
        c.tasks.set('child', child);
        const pfn = child.translate(buf(c));
        return pfn === dmaPage(c) ? `fork(): the child maps the same pfn ${pfn}, write-protected in both` : `fork(): the page is maybe-pinned, so the child gets a copy, pfn ${pfn}`;
      },
      look: [
        { kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 },
        { kind: 'ptes', title: 'child', task: 'child', addr: buf, pages: 1 },
      ],
    },
    {
      narration: "The parent writes 'B' to another variable on the same page (pinsim keeps one word per page).",
      action: (c) => {
        task(c, 'parent').write(buf(c), B);
        const now = task(c, 'parent').translate(buf(c));
        return now === dmaPage(c) ? 'the write lands in the page the read is filling' : `COW copy: the parent now maps pfn ${now}; the read still fills pfn ${dmaPage(c)}`;
      },
      look: [{ kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 }],
    },
    {
      narration: "The read completes: the device writes 'D' into the page it was given.",
      action: (c) => {
        c.k.settle();
        const req = c.vars.req as { done: boolean; res: number };
        return `read done: ${req.res} bytes; the parent reads ${word(task(c, 'parent').read(buf(c)))}, the child ${word(task(c, 'child').read(buf(c)))}`;
      },
      look: [
        { kind: 'ptes', title: 'parent', task: 'parent', addr: buf, pages: 1 },
        { kind: 'ptes', title: 'child', task: 'child', addr: buf, pages: 1 },
      ],
    },
  ],
  outcome: (c) => {
    const parentReads = task(c, 'parent').read(buf(c));
    const kept = parentReads === D;
    return {
      summary: kept ? "kept: the parent's buffer holds the file's 'D'" : `lost: the read's 'D' went to the child's page; the parent's buffer holds ${word(parentReads)}`,
      values: { kept, parentReads: word(parentReads), childReads: word(task(c, 'child').read(buf(c))), parentMapsDmaPage: task(c, 'parent').translate(buf(c)) === dmaPage(c) },
    };
  },
};
