// The lab's frame map (lab/frame-map.ts): the state of a range of frames,
// summarised per pixel, so that a 64 GiB machine (16M frames) is redrawn
// in one pass over struct pages without the façade reading each one. Runs
// are taken a buddy block or a folio at a time: a free block or a THP costs
// one step however many pixels it covers.
import {
  PG_buddy, PG_tail, PG_head, PG_table, PG_hugetlb, PG_mlocked, PG_anon, PG_ORDER_MASK, PG_ORDER_SHIFT,
  FRAME_FREE, FRAME_OTHER, FRAME_FILE, FRAME_ANON, FRAME_TABLE, FRAME_MLOCKED, FRAME_PINNED, FRAME_FILL_SHIFT,
  FRAME_SUMMARY_MAX, EINVAL,
} from './constants';
import { scratch, nr_frames } from './mem';
import { flags_at, head_at, refcount_at, mapping_at } from './raw';
import { folio_maybe_dma_pinned } from './folio';

let run_end = 0; // classify()'s second result: the end of the block or folio holding pfn

// The state of frame pfn; sets run_end to the first frame past the free
// block or folio it belongs to (pfn + 1 inside a free block's tail).
function classify(pfn: i32): i32 {
  const f = flags_at(pfn);
  if ((f & PG_buddy) != 0) {
    run_end = pfn + (1 << ((f & PG_ORDER_MASK) >>> PG_ORDER_SHIFT));
    return FRAME_FREE;
  }
  const head = (f & PG_tail) != 0 ? head_at(pfn) : pfn;
  const hf = flags_at(head);
  run_end = (hf & PG_head) != 0 ? head + (1 << ((hf & PG_ORDER_MASK) >>> PG_ORDER_SHIFT)) : pfn + 1;
  if ((f & PG_table) != 0) return FRAME_TABLE;
  if (refcount_at(head) == 0) {
    // A free hugetlb folio waits in its pool with no reference; an idle
    // fsdax block belongs to its file; anything else is a free block's tail
    // or device memory never handed out.
    if ((hf & PG_hugetlb) != 0) return FRAME_OTHER;
    return mapping_at(head) != 0 ? FRAME_FILE : FRAME_FREE;
  }
  if (folio_maybe_dma_pinned(head)) return FRAME_PINNED;
  if ((hf & PG_mlocked) != 0) return FRAME_MLOCKED;
  if ((hf & PG_anon) != 0) return FRAME_ANON;
  if ((hf & PG_hugetlb) == 0 && mapping_at(head) != 0) return FRAME_FILE;
  return FRAME_OTHER;
}

// Summarises frames [start, start + per_pixel * pixels) (clipped to the
// machine) into one byte per pixel, four to a scratch word, little-endian:
// the highest FRAME_* state among the pixel's frames, and in the high
// nibble its frames in use out of 15 (rounded up: one used frame shows).
// Returns the pixels written, or -EINVAL.
export function frame_summary(start: i32, per_pixel: i32, pixels: i32): i32 {
  if (start < 0 || start >= nr_frames || per_pixel < 1 || pixels < 1 || pixels > FRAME_SUMMARY_MAX) return -EINVAL;
  let pfn = start;
  let s = FRAME_FREE;
  let rend = start; // the run classified last ends here (runs cross pixels)
  let word: u32 = 0;
  for (let px = 0; px < pixels; px++) {
    const left = nr_frames - pfn;
    const n = left < per_pixel ? left : per_pixel;
    const end = pfn + n;
    let best = FRAME_FREE;
    let used = 0;
    while (pfn < end) {
      if (pfn >= rend) {
        s = classify(pfn);
        rend = run_end;
      }
      const stop = rend < end ? rend : end;
      if (s != FRAME_FREE) {
        used += stop - pfn;
        if (s > best) best = s;
      }
      pfn = stop;
    }
    // Integer arithmetic while used * 15 fits an i32 (pixels of up to 2^27 frames).
    const fill = used == 0 ? 0 : used == n ? 15
      : n < 134217728 ? ((used * 15 + n - 1) / n) | 0 : <i32>Math.ceil(<f64>used * 15.0 / <f64>n);
    word |= <u32>(best | (fill << FRAME_FILL_SHIFT)) << <u32>((px & 3) << 3);
    if ((px & 3) == 3 || px == pixels - 1) {
      scratch[px >>> 2] = word;
      word = 0;
    }
  }
  return pixels;
}
