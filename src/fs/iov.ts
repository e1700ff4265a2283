// An iovec array seen as one stream of bytes, and the file pages a
// transfer covers (the word model of src/fs/read_write.ts).
import { PAGE_SIZE as PAGE } from '../../assembly/constants';

export interface IoVec {
  base: number; // user address
  len: number; // bytes
}

// The user address of byte `s` of the iovec stream (s < its total).
export function iovAddr(segs: IoVec[], s: number): number {
  let at = s;
  for (const seg of segs) {
    if (at < seg.len) return seg.base + at;
    at -= seg.len;
  }
  throw new RangeError(`byte ${s} is past the iovecs`);
}

// The file pages a transfer of [pos, end) covers, in order, each with
// the stream byte its word goes with.
export function* transferPages(pos: number, end: number): Generator<[index: number, s: number]> {
  if (pos >= end) return;
  for (let i = Math.floor(pos / PAGE); i * PAGE < end; i++) yield [i, Math.max(pos, i * PAGE) - pos];
}
