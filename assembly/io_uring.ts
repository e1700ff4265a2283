// The per-page parts of io_uring buffer registration (io_uring/rsrc.c),
// over a buffer's pinned pages in the page-array arena (gup_pages[off..]):
// the folio-coalescing test and rewrite (io_check_coalesce_buffer(),
// io_coalesce_buffer()) and the scan io_buffer_account_pin() charges from.
import { PG_head, PG_tail, SCRATCH_WORDS } from './constants';
import { gup_pages, scratch } from './mem';
import { page_folio, folio_order } from './folio';
import { flags_at } from './raw';

let nr_pages_head = 0; // pages of the first folio the buffer covers
let nr_pages_mid = 0; // pages per folio after the first (the folio size)
let nr_folios = 0;
let first_idx = 0; // index of the buffer's first page in its folio
let small_pages = 0; // io_acct_scan(): non-compound entries seen
let acct_pairs = 0; // io_acct_scan(): (head, order) pairs written

// Mirrors io_check_coalesce_buffer() over gup_pages[off, off + n): the
// folio order when every page sits in a folio of one size, contiguously,
// the folios are whole except the first and last, and there is more than
// one page per folio; else -1 (the buffer stays page by page).
export function io_check_coalesce(off: i32, n: i32): i32 {
  let folio = page_folio(gup_pages[off]);
  const order = folio_order(folio);
  nr_pages_mid = 1 << order;
  first_idx = gup_pages[off] - folio;
  let count = 1;
  nr_folios = 1;
  for (let i = 1; i < n; i++) {
    const p = gup_pages[off + i];
    if (page_folio(p) == folio && p == gup_pages[off + i - 1] + 1) {
      count++;
      continue;
    }
    if (nr_folios == 1) {
      if (gup_pages[off + i - 1] - folio != nr_pages_mid - 1) return -1;
      nr_pages_head = count;
    } else if (count != nr_pages_mid) {
      return -1;
    }
    folio = page_folio(p);
    if (folio_order(folio) != order || p != folio) return -1;
    count = 1;
    nr_folios++;
  }
  if (nr_folios == 1) nr_pages_head = count;
  return nr_pages_mid == 1 ? -1 : order;
}

// io_coalesce_buffer() after a successful io_check_coalesce() of the same
// entries: rewrites them as one head page per folio in [0, nr_folios) and
// the pages whose pins the folio no longer needs in [nr_folios, n) (the
// façade unpins those). Returns nr_folios. Pages inside a folio are
// contiguous, so each folio's dropped pages follow from its head.
export function io_coalesce(off: i32, n: i32): i32 {
  const first = gup_pages[off];
  for (let i = 0; i < nr_folios; i++) {
    const at = i == 0 ? 0 : nr_pages_head + (i - 1) * nr_pages_mid;
    gup_pages[off + i] = page_folio(gup_pages[off + at]);
  }
  let w = off + nr_folios;
  let left = n;
  for (let i = 0; i < nr_folios; i++) {
    let run = i == 0 ? nr_pages_head : nr_pages_mid;
    if (run > left) run = left;
    const start = i == 0 ? first : gup_pages[off + i];
    for (let j = 1; j < run; j++) gup_pages[w++] = start + j;
    left -= run;
  }
  return nr_folios;
}

// The index of the buffer's first page in its folio (after io_check_coalesce()).
export function io_first_idx(): i32 { return first_idx; }

// The scan behind io_buffer_account_pin() over gup_pages[off + from, off + n):
// counts non-compound entries (io_acct_small()) and writes the compound
// heads as (head, order) pairs to scratch, skipping a head equal to the
// one before it (`last`, carried across the registration call). Stops
// when scratch is full; returns the index it stopped at (n when done).
export function io_acct_scan(off: i32, n: i32, from: i32, last: i32): i32 {
  small_pages = 0;
  let w = 0;
  let i = from;
  for (; i < n && w + 2 <= SCRATCH_WORDS; i++) {
    const p = gup_pages[off + i];
    if ((flags_at(p) & (PG_head | PG_tail)) == 0) {
      small_pages++;
      continue;
    }
    const head = page_folio(p);
    if (head == last) continue;
    last = head;
    scratch[w++] = <u32>head;
    scratch[w++] = <u32>folio_order(head);
  }
  acct_pairs = w >> 1;
  return i;
}

export function io_acct_small(): i32 { return small_pages; }
export function io_acct_pairs(): i32 { return acct_pairs; }
