// The odirect family: preadv/pwritev, buffered or O_DIRECT, of the fuzz's
// files with random alignment, from and into any VMA of a task; async
// requests complete within the op (k.settle()), sometimes after a
// writeback in between (Jan Kara's window). The contents model follows
// every page that moved: a buffered copy goes page by page (a later page
// sees an earlier one's copy), a direct transfer moves what disk and
// memory held at submission.
import * as C from '../assembly/constants';
import type { Task, SimFile } from '../src/index';
import { transferPages, iovAddr } from '../src/fs/iov';
import { fail, type Machine } from './machine';
import { fileFrame } from './model';
import type { Op } from './ops';

const PAGE = C.PAGE_SIZE;
const SECTOR = 512;

type DioOp = Extract<Op, { op: 'dio' }>;

// The iovecs: `blocks` sectors from base (plus one stray byte when odd),
// cut into `segs` contiguous pieces.
function iovOf(base: number, blocks: number, segs: number, odd: boolean): { base: number; len: number }[] {
  const total = blocks * SECTOR + (odd ? 1 : 0);
  const piece = Math.max(SECTOR, Math.floor(blocks / segs) * SECTOR);
  const iov = [];
  for (let at = 0; at < total; at += piece) iov.push({ base: base + at, len: Math.min(piece, total - at) });
  return iov;
}

export function runDio(m: Machine, t: Task, o: DioOp): unknown {
  const k = m.k;
  const f = m.files[o.file];
  const base = m.addr(t, o.vma, o.off) + o.sub * SECTOR + (o.odd ? 1 : 0);
  const iov = iovOf(base, o.blocks, o.segs, o.odd && o.sub % 2 === 0);
  const pos = o.pos * PAGE + o.posSub * SECTOR + (o.odd && o.sub % 2 === 1 ? 3 : 0);
  const fd = o.direct ? t.open(f, { direct: true }) : 3 + o.file;
  try {
    // The words a direct transfer moves are those at submission.
    const snapshot = o.direct && f.fs === 'ext4' ? plan(m, t, f, iov, pos, o.write) : null;
    let res: number | null;
    // Completions other families left pending (an io_uring request) are
    // theirs to settle: with any, the request runs synchronously.
    const others = k.pending().length;
    if (o.async && others === 0) {
      const r = o.write ? t.pwritev(fd, iov, pos, { async: true }) : t.preadv(fd, iov, pos, { async: true });
      if (o.wbMid) k.writeback();
      k.settle();
      if (!r.done) fail(`dio: request not done after settle: ${JSON.stringify(r)}`);
      res = r.res;
    } else {
      res = o.write ? t.pwritev(fd, iov, pos) : t.preadv(fd, iov, pos);
    }
    if (k.pending().length !== others) fail(`dio: ${k.pending().length - others} completions of its own still pending`);
    follow(m, t, f, iov, pos, res!, o.write, snapshot);
    return res;
  } finally {
    if (o.direct) t.close(fd);
  }
}

// For each file page the transfer covers: [file index, user address, word moved].
type Move = [number, number, number | null | undefined];

function plan(m: Machine, t: Task, f: SimFile, iov: { base: number; len: number }[], pos: number, write: boolean): Move[] {
  const total = iov.reduce((n, s) => n + s.len, 0);
  return [...transferPages(pos, pos + total)].map(([i, s]): Move => {
    const u = iovAddr(iov, s);
    return [i, u, write ? userWord(m, t, u) : diskWord(m, f, i)];
  });
}

// What the model says t reads at u: its word, null where it does not know,
// undefined where it expects a fault (no data can move through there).
function userWord(m: Machine, t: Task, u: number): number | null | undefined {
  const want = m.model.expect(t, u, false);
  return want && 'code' in want ? undefined : want && want.value;
}

// Tells the model what moved: the pages below the bytes transferred.
function follow(m: Machine, t: Task, f: SimFile, iov: { base: number; len: number }[], pos: number, res: number,
  write: boolean, snapshot: Move[] | null): void {
  for (const [i, s] of transferPages(pos, pos + res)) {
    const u = iovAddr(iov, s);
    const known = snapshot?.find(([j]) => j === i);
    if (write) {
      const w = known ? known[2] : userWord(m, t, u);
      if (w === undefined) fail(`dio moved data from 0x${u.toString(16)}, where the model expects a fault`);
      m.model.pwrote(f, i, w ?? fileWord(m, f, i));
    } else {
      if (userWord(m, t, u) === undefined) fail(`dio moved data into 0x${u.toString(16)}, where the model expects a fault`);
      m.model.wrote(t, u, known ? known[2]! : m.model.word(f, i));
    }
  }
}

// What a direct read of page i gets: the disk after the flush (a dirty
// cached page's word), which a DMA into a clean cached page never reached.
function diskWord(m: Machine, f: SimFile, i: number): number {
  const v = m.k.v;
  const pfn = fileFrame(m.k, f, i);
  return pfn >= 0 && v.flags[v.head[pfn]] & C.PG_dirty ? v.data[pfn] : f.store.get(i) ?? 0;
}

// The file's word as the machine holds it (where the model lost track of its source).
function fileWord(m: Machine, f: SimFile, i: number): number {
  const pfn = fileFrame(m.k, f, i);
  return pfn >= 0 ? m.k.v.data[pfn] : f.store.get(i) ?? 0;
}
