// get_user_pages / pin_user_pages, the per-page half (mm/gup.c): grabbing
// and releasing references and pins, the lockless fast walk, and the slow
// path's follow-and-fault loop over one VMA. Argument checks, the VMA loop,
// check_vma_flags() and the FOLL_LONGTERM retry loop live in the façade.
// Results go to the page-array arena (gup_pages), pfn per entry, -1 = NULL.
import {
  FOLL_WRITE, FOLL_GET, FOLL_PIN, FOLL_FORCE, FOLL_LONGTERM, FOLL_TOUCH, FOLL_DUMP, FOLL_NOFAULT, FOLL_REMOTE,
  FOLL_HWPOISON, GUP_PIN_COUNTING_BIAS, ENOMEM, EFAULT, EHWPOISON, PG_anon, PG_anon_exclusive, PG_hugetlb,
  PG_swapbacked, PG_referenced, PG_dirty, PG_head, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_SPECIAL,
  FAULT_FLAG_WRITE, FAULT_FLAG_UNSHARE, FAULT_FLAG_REMOTE, VM_FAULT_OOM, VM_FAULT_HWPOISON, VM_SHARED, VM_MAYSHARE,
  VM_MAYWRITE, VM_WRITE, MIGRATE_CMA, MIGRATE_ISOLATE, ZONE_MOVABLE, ZONE_DEVICE, NR_FOLL_PIN_ACQUIRED,
  NR_FOLL_PIN_RELEASED, GUP_WARN_REFCOUNT, GUP_WARN_UNPIN, BACKING_ANON, PG_ORDER_MASK, PG_ORDER_SHIFT, PG_tail,
  PG_table, VM_FAULT_NOTIFY, RULE_PIN_VMSTAT, RULE_ZERO_PAGE_PIN_COUNTED, RULE_LT_MIGRATE_MOVABLE, RULE_LT_MIGRATE_ISOLATE,
  RULE_GUP_FAST_LT_CMA_SHIFT, LT_CMA_ALL, LT_CMA_PIN, RULE_LT_WRITE_FILE_EFAULT, COW_COPIES, COW_REUSES, FOLL_COW, RULE_FOLL_COW,
  RULE_UNSHARE_ANON, RULE_UNSHARE_LT_NONANON, RULE_GUP_BREAKS_COW,
} from './constants';
import { kernel_rules, rule_field, flags_have_pincount } from './rules';
import { pg_flags, pg_refcount, pg_index, gup_pages, stats, ZERO_PFN, page_zonenum, nr_frames, pfn_to_page } from './mem';
import { page_folio, folio_has_pincount, folio_put_refs, folio_order } from './folio';
import {
  leaf_subpage, level_span, pte_pfn, walk_cached, walk_cache_hit, cached_level,
} from './pgtable';
import {
  flags_at, set_flags_at, refcount_at, set_refcount_at, head_at, pincount_at, set_pincount_at, pte_at, page_slot,
  set_page_slot, migratetype_at, folio_run, fill_run, mapping_at, grab_small_quads, follow_small_quads,
  put_small_pin_quads, put_small_pin_run_quads, first_bad_slot, page_slot_ok,
} from './raw';
import { is_huge_zero_pmd } from './huge_memory';
import { handle_mm_fault } from './memory';
import { folio_mark_dirty } from './pagecache';
import { vma_flags, vma_backing, vma_is_cow } from './vma';

// Pin counts of the current call, added to the vmstat counters once at its
// end (flush_pin_stats()) rather than once per page.
let pins_acquired = 0;
let pins_released = 0;

function flush_pin_stats(): void {
  if ((kernel_rules & RULE_PIN_VMSTAT) != 0) { // no such counters before 5.7 (1970dc6f5226)
    stats[NR_FOLL_PIN_ACQUIRED] += <f64>pins_acquired;
    stats[NR_FOLL_PIN_RELEASED] += <f64>pins_released;
  }
  pins_acquired = 0;
  pins_released = 0;
}

// The façade checks every argument; these checks keep a bad one from
// trapping the core (or the two builds from disagreeing) all the same: a
// live table page as pgd, whole pages of user space (PGD entries 0..255),
// and, when out >= 0, room in the page-array arena.
function gup_args_ok(pgd: i32, vpn: f64, nr: i32, out: i32): bool {
  if (pgd < 0 || pgd >= nr_frames || (flags_at(pgd) & PG_table) == 0) return false;
  if (!(vpn >= 0.0) || Math.floor(vpn) != vpn || nr < 0 || vpn + <f64>nr > level_span(3) * 256.0) return false;
  return out < 0 || out <= gup_pages.length - nr;
}

const FOLLOW_FAULT = -1000; // follow_page_mask() found nothing usable: fault it in
const FOLLOW_UNSHARE = -1001; // -EMLINK: a read-only pin must unshare first

// Mirrors try_grab_folio(): 0, or -ENOMEM when the refcount is not
// positive (the overflow guard; counted in GUP_WARN_REFCOUNT for the
// façade's WARN_ON_ONCE).
export function try_grab_folio(head: i32, refs: i32, flags: i32): i32 {
  if ((flags & (FOLL_GET | FOLL_PIN)) == 0) return 0;
  const rc = refcount_at(head);
  if (rc <= 0) {
    stats[GUP_WARN_REFCOUNT] += 1.0;
    return -ENOMEM;
  }
  if ((flags & FOLL_GET) != 0) {
    pg_refcount[pfn_to_page(head)] = (rc + refs) | 0;
    return 0;
  }
  if (head == ZERO_PFN && !zero_page_pin_counted()) return 0; // since 6.5 the zero page is never pin-counted
  if (folio_has_pincount(head)) {
    pg_refcount[pfn_to_page(head)] = (rc + refs) | 0;
    pg_index[pfn_to_page(head + 1)] += <f64>refs;
  } else {
    pg_refcount[pfn_to_page(head)] = (rc + refs * GUP_PIN_COUNTING_BIAS) | 0;
  }
  pins_acquired += refs;
  return 0;
}

// Before 6.5 (c8070b787519) a pin of the shared zero page counted like any
// other: GUP_PIN_COUNTING_BIAS on its refcount, one in vmstat.
function zero_page_pin_counted(): bool { return (kernel_rules & RULE_ZERO_PAGE_PIN_COUNTED) != 0; }

// Mirrors gup_put_folio(): release refs references of the kind flags says.
export function gup_put_folio(head: i32, refs: i32, flags: i32): void {
  let put = refs;
  if ((flags & FOLL_PIN) != 0) {
    if (head == ZERO_PFN && !zero_page_pin_counted()) return;
    pins_released += refs;
    if (folio_has_pincount(head)) pg_index[pfn_to_page(head + 1)] -= <f64>refs;
    else put = refs * GUP_PIN_COUNTING_BIAS;
  }
  folio_put_refs(head, put);
}

// Mirrors folio_is_longterm_pinnable() of the era: CMA pages always move
// (since 5.1); ZONE_MOVABLE only from 5.13 and MIGRATE_ISOLATE pageblocks
// from 5.19 (kernel_rules), pinned in place before. The zero page stays.
export function folio_is_longterm_pinnable(head: i32): bool {
  const mt = migratetype_at(head);
  if (mt == MIGRATE_CMA) return false;
  if (mt == MIGRATE_ISOLATE && (kernel_rules & RULE_LT_MIGRATE_ISOLATE) != 0) return false;
  if (head == ZERO_PFN) return true;
  const zone = page_zonenum(head);
  if (zone == ZONE_DEVICE) return false;
  return zone != ZONE_MOVABLE || (kernel_rules & RULE_LT_MIGRATE_MOVABLE) == 0;
}

// Whether GUP-fast may take a long-term reference on this folio, by era
// (RULE_GUP_FAST_LT_CMA_SHIFT): before 5.7 the fast walk refused devmap
// pages only, so a mapped CMA page was pinned where it was; 5.7-6.2 refused
// unpinnable folios for FOLL_PIN only (get_user_pages_fast() with
// FOLL_LONGTERM still took them in place); since then every caller.
function gup_fast_longterm_ok(head: i32, pin: bool): bool {
  const who = rule_field(RULE_GUP_FAST_LT_CMA_SHIFT);
  if (who == LT_CMA_ALL || (pin && who == LT_CMA_PIN)) return folio_is_longterm_pinnable(head);
  return page_zonenum(head) != ZONE_DEVICE;
}

// Mirrors gup_must_unshare(): a read-only pin of a page the pinner does not
// own exclusively must unshare it first. Without a VMA (GUP-fast), a
// long-term pin of a non-anon page always must (the fast path falls back).
// The anon half exists since 5.19 (a7f226604170), the non-anon one since
// 6.2 (84209e87c696); before, a R/O pin takes the mapped page as it is.
// Reached only for read-only entries, so the hot path never reads the rules.
function gup_must_unshare(flags: i32, pfn: i32, head: i32, have_vma: bool): bool {
  if ((flags & (FOLL_PIN | FOLL_WRITE)) != FOLL_PIN) return false;
  if ((flags_at(head) & PG_anon) == 0) {
    if ((flags & FOLL_LONGTERM) == 0 || (kernel_rules & RULE_UNSHARE_LT_NONANON) == 0) return false;
    return have_vma ? vma_is_cow() : true;
  }
  if ((kernel_rules & RULE_UNSHARE_ANON) == 0) return false;
  const page = (flags_at(head) & PG_hugetlb) != 0 ? head : pfn;
  return (flags_at(page) & PG_anon_exclusive) == 0;
}

// Mirrors can_follow_write_pte(): a FOLL_FORCE write may use a read-only
// PTE of an exclusive anon page in a private mapping the VMA may write.
// Before 6.0 (5535be309971) it was FOLL_COW instead: the slow path broke
// COW with a write fault in this call, and the PTE is dirty, whatever page
// it maps now (the hole CVE-2022-2590 used).
function can_follow_write(e: u32, pfn: i32, head: i32, flags: i32): bool {
  if ((e & _PAGE_RW) != 0) return true;
  if ((kernel_rules & RULE_FOLL_COW) != 0) return (flags & FOLL_COW) != 0 && (e & _PAGE_DIRTY) != 0;
  if ((flags & FOLL_FORCE) == 0) return false;
  if ((vma_flags & (VM_SHARED | VM_MAYSHARE)) != 0 || (vma_flags & VM_MAYWRITE) == 0) return false;
  if ((vma_flags & VM_WRITE) != 0) return false; // a write fault will make it writable
  return (flags_at(head) & PG_anon) != 0 && (flags_at(pfn) & PG_anon_exclusive) != 0;
}

// Mirrors follow_page_mask() -> follow_page_pte() / follow_huge_pmd():
// the pfn at vpn with its reference taken, FOLLOW_FAULT, FOLLOW_UNSHARE,
// or -errno.
function follow_page(pgd: i32, vpn: f64, flags: i32): i32 {
  const ei = walk_cached(pgd, vpn);
  const e = ei < 0 ? <u32>0 : pte_at(ei);
  // no_page_table(): a core dump does not fault in anonymous holes.
  if (e == 0) return (flags & FOLL_DUMP) != 0 && vma_backing == BACKING_ANON ? -EFAULT : FOLLOW_FAULT;
  const pfn = leaf_subpage(e, vpn, cached_level);
  const head = page_folio(pfn);
  if ((flags & FOLL_WRITE) != 0 && !can_follow_write(e, pfn, head, flags)) return FOLLOW_FAULT;
  if ((e & _PAGE_SPECIAL) != 0 && (flags & FOLL_DUMP) != 0) return -EFAULT; // zero pages are holes in a core dump
  if ((e & _PAGE_RW) == 0 && gup_must_unshare(flags, pfn, head, true)) return FOLLOW_UNSHARE;
  const r = try_grab_folio(head, 1, flags);
  if (r < 0) return r;
  if ((flags & FOLL_TOUCH) != 0 && head != ZERO_PFN) {
    if ((flags & FOLL_WRITE) != 0 && (e & _PAGE_DIRTY) == 0 && (flags_at(head) & PG_dirty) == 0) folio_mark_dirty(head);
    pg_flags[pfn_to_page(head)] |= PG_referenced; // folio_mark_accessed()
  }
  return pfn;
}

// The slow path over [vpn, vpn + nr) of the current VMA (__get_user_pages()
// after check_vma_flags()): follow each page, faulting it in (or unsharing
// it) until it can be taken. Results go to gup_pages[out..] (out < 0: no
// array, populate only). Returns the number taken, or -errno if none.
export function gup_slow(pgd: i32, vpn: f64, nr: i32, flags: i32, out: i32): i32 {
  if (!gup_args_ok(pgd, vpn, nr, out)) return -EFAULT;
  const r = gup_slow_pages(pgd, vpn, nr, flags, out);
  flush_pin_stats();
  return r;
}

function gup_slow_pages(pgd: i32, vpn: f64, nr: i32, flags: i32, out: i32): i32 {
  let quads_at = 0; // as in gup_fast_pte_range()
  for (let i = 0; i < nr; i++) {
    if (i >= quads_at && out >= 0) {
      const ei = walk_cached(pgd, vpn + <f64>i);
      if (ei >= 0 && cached_level == 0) {
        const room = 512 - (ei & 1023);
        const q = follow_small_quads(ei, room < nr - i ? room : nr - i, flags, out + i);
        if ((flags & FOLL_PIN) != 0) pins_acquired += q;
        i += q;
        if (i >= nr) break;
      }
      quads_at = i + 4;
    }
    const v = vpn + <f64>i;
    let pf = flags; // foll_flags: per page, FOLL_COW may join
    let pfn = follow_page(pgd, v, pf);
    for (let tries = 0; pfn == FOLLOW_FAULT || pfn == FOLLOW_UNSHARE; tries++) {
      if ((flags & FOLL_NOFAULT) != 0 || tries == 3) return i > 0 ? i : -EFAULT;
      let ff = pfn == FOLLOW_UNSHARE ? FAULT_FLAG_UNSHARE : (flags & FOLL_WRITE) != 0 ? FAULT_FLAG_WRITE : 0;
      if ((flags & FOLL_REMOTE) != 0) ff |= FAULT_FLAG_REMOTE;
      const broke = stats[COW_COPIES] + stats[COW_REUSES];
      const r = handle_mm_fault(pgd, v, ff); // faultin_page()
      pf |= foll_cow(ff, broke);
      if ((r & VM_FAULT_NOTIFY) != 0) return i; // the façade notifies and calls again
      if (r != 0) {
        let err = -EFAULT; // VM_FAULT_SIGBUS / SIGSEGV
        if ((r & VM_FAULT_OOM) != 0) err = -ENOMEM;
        else if ((r & VM_FAULT_HWPOISON) != 0 && (flags & FOLL_HWPOISON) != 0) err = -EHWPOISON;
        return i > 0 ? i : err;
      }
      pfn = follow_page(pgd, v, pf);
    }
    if (pfn < 0) return i > 0 ? i : pfn;
    // __get_user_pages()'s page_increm: the rest of a huge leaf, up to nr,
    // is taken with one more grab of its folio rather than page by page.
    let extra = 0;
    if (cached_level > 0) {
      const span = level_span(cached_level);
      const rest = <i32>(Math.floor(v / span) * span + span - v) - 1;
      extra = rest < nr - i - 1 ? rest : nr - i - 1;
      if (extra > 0 && try_grab_folio(page_folio(pfn), extra, flags) < 0) {
        gup_put_folio(page_folio(pfn), 1, flags); // the kernel fails hard here
        return i > 0 ? i : -EFAULT;
      }
    }
    if (out >= 0) {
      gup_pages[out + i] = pfn;
      fill_run(out + i + 1, pfn + 1, extra);
    }
    i += extra;
  }
  return nr;
}

// faultin_page() before 6.0: a write fault that broke COW (VM_FAULT_WRITE,
// read here as "reused or copied a page": broke is the COW counters before
// the fault) in a VMA without VM_WRITE lets the follow accept the read-only
// dirty PTE it left (maybe_mkwrite() did not make it writable): FOLL_COW.
function foll_cow(ff: i32, broke: f64): i32 {
  if ((kernel_rules & RULE_FOLL_COW) == 0 || (ff & FAULT_FLAG_WRITE) == 0 || (vma_flags & VM_WRITE) != 0) return 0;
  return stats[COW_COPIES] + stats[COW_REUSES] != broke ? FOLL_COW : 0;
}

// Mirrors try_grab_folio_fast(): take refs on folio `head` (flags f), or
// return false. (The kernel takes the references before testing long-term
// pinnability and drops them on failure; with no concurrency here the test
// comes first and the refcount is written once.) Inlined: a call per page
// costs the 4 KiB loop a third of its time in Wasm.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function try_grab_folio_fast(head: i32, f: i32, refs: i32, flags: i32): bool {
  const pin = (flags & FOLL_PIN) != 0;
  if (pin && head == ZERO_PFN && !zero_page_pin_counted()) return true;
  const rc = refcount_at(head);
  if (rc <= 0) return false; // being freed, or overflowed: let the slow path decide
  if ((flags & FOLL_LONGTERM) != 0 && !gup_fast_longterm_ok(head, pin)) return false;
  if (!pin) {
    set_refcount_at(head, (rc + refs) | 0);
    return true;
  }
  if (flags_have_pincount(f)) {
    set_refcount_at(head, (rc + refs) | 0);
    set_pincount_at(head, pincount_at(head) + <f64>refs);
  } else {
    set_refcount_at(head, (rc + refs * GUP_PIN_COUNTING_BIAS) | 0);
  }
  return true; // the caller counts the pins (NR_FOLL_PIN_ACQUIRED)
}

// Mirrors gup_fast_folio_allowed(): PIN|LONGTERM|WRITE refuses file-backed
// folios other than shmem; hugetlb and anon folios pass.
function gup_fast_folio_allowed(head: i32, f: i32, flags: i32): bool {
  if ((flags & (FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE)) != (FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE)) return true;
  if ((kernel_rules & RULE_LT_WRITE_FILE_EFAULT) == 0) return true; // before 6.5: any file folio
  if ((f & (PG_hugetlb | PG_anon)) != 0) return true;
  if (mapping_at(head) == 0) return false; // truncated
  return (f & PG_swapbacked) != 0; // shmem
}

// The lockless walk: pins a prefix of [vpn, vpn + nr) into gup_pages[out..]
// and returns its length. Every refusal stops the walk; a refusal after the
// grab puts the refs back (both pin counters move).
export function gup_fast(pgd: i32, vpn: f64, nr: i32, flags: i32, out: i32): i32 {
  // 5.8 (17839856fd58): with no VMA to tell a COW mapping, the lockless
  // walk takes writable entries only, reads included; the slow path breaks
  // COW for the rest.
  if ((kernel_rules & RULE_GUP_BREAKS_COW) != 0) flags |= FOLL_WRITE;
  // One page under the table or leaf the last walk remembered: the
  // single-page DMA drivers do most (gup_test -n 1), without the range
  // machinery. The remembered walk vouches for pgd and the range.
  if (nr == 1 && page_slot_ok(out) && Math.floor(vpn) == vpn) {
    const ei = walk_cache_hit(pgd, vpn);
    if (ei >= 0) {
      if ((flags & FOLL_LONGTERM) == 0 && gup_fast_one(ei, vpn, flags, out)) return 1;
      return gup_fast_remembered(ei, vpn, flags, out);
    }
  }
  return gup_fast_range(pgd, vpn, nr, flags, out);
}

// The usual one page without FOLL_LONGTERM, in one piece: no call to
// gup_fast_pte() or gup_fast_leaf() (which cost the one-page call the
// spills of its arguments and a third of its instructions in the core). A
// present, writable, not special entry (so no unshare, and without
// FOLL_LONGTERM gup_fast_folio_allowed() passes) mapping a folio with
// references. Anything else returns false having changed nothing, and
// gup_fast_remembered() takes the page.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function gup_fast_one(ei: i32, vpn: f64, flags: i32, out: i32): bool {
  const e = pte_at(ei);
  if ((e & (_PAGE_PRESENT | _PAGE_RW | _PAGE_SPECIAL)) != (_PAGE_PRESENT | _PAGE_RW)) return false;
  const pfn = leaf_subpage(e, vpn, cached_level);
  const head = head_at(pfn);
  const f = flags_at(head);
  if (!try_grab_folio_fast(head, f, 1, flags)) return false;
  if ((f & PG_referenced) == 0) set_flags_at(head, f | PG_referenced);
  set_page_slot(out, pfn);
  // One pin: counted at once, not batched by flush_pin_stats().
  if ((flags & FOLL_PIN) != 0 && (kernel_rules & RULE_PIN_VMSTAT) != 0) stats[NR_FOLL_PIN_ACQUIRED] += 1.0;
  return true;
}

// One page under the remembered walk, whatever the case.
function gup_fast_remembered(ei: i32, vpn: f64, flags: i32, out: i32): i32 {
  const done = cached_level == 0 ? (gup_fast_pte(pte_at(ei), flags, out) ? 1 : 0)
    : gup_fast_leaf(ei, vpn, cached_level, 1, flags, out);
  flush_pin_stats();
  return done;
}

// Every other call: one PTE table or huge leaf per step.
function gup_fast_range(pgd: i32, vpn: f64, nr: i32, flags: i32, out: i32): i32 {
  if (out < 0 || !gup_args_ok(pgd, vpn, nr, out)) return 0;
  let i = 0;
  while (i < nr) {
    const v = vpn + <f64>i;
    // The remembered walk: one-page calls over a range share their tables.
    const ei = walk_cached(pgd, v);
    if (ei < 0) break;
    const level = cached_level;
    // The pages this step covers: the rest of the PTE table, or of the leaf.
    const left = level == 0 ? 512 - (ei & 1023)
      : <i32>(Math.floor(v / level_span(level)) * level_span(level) + level_span(level) - v);
    const want = left < nr - i ? left : nr - i;
    const done = level == 0 ? gup_fast_pte_range(ei, want, flags, out + i) : gup_fast_leaf(ei, v, level, want, flags, out + i);
    i += done;
    if (done < want) break;
  }
  flush_pin_stats();
  return i;
}

// Mirrors gup_fast_pte_range(): n PTEs from entry ei, all in one table;
// returns how many were taken before a refusal.
function gup_fast_pte_range(ei: i32, n: i32, flags: i32, out: i32): i32 {
  const pin = (flags & FOLL_PIN) != 0 ? 1 : 0;
  let j = 0;
  let quads_at = 0; // where to try the batched common case again
  for (; j < n; j++) {
    if (j >= quads_at) {
      // Runs of small anon pages, four at a time where the build can (Wasm
      // SIMD, assembly/raw.ts); after a run, four pages one by one.
      const q = grab_small_quads(ei + j, n - j, flags, out + j);
      pins_acquired += pin * q;
      j += q;
      quads_at = j + 4;
      if (j >= n) break;
    }
    if (!gup_fast_pte(pte_at(ei + j), flags, out + j)) break;
  }
  return j;
}

// gup_fast_pte_range()'s step for one PTE e: takes its page into
// gup_pages[out] and counts the pin, or refuses (false) with nothing held.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function gup_fast_pte(e: u32, flags: i32, out: i32): bool {
  // none, protnone, not permitted, or pte_special() (the zero page goes slow)
  if ((e & _PAGE_PRESENT) == 0 || ((flags & FOLL_WRITE) != 0 && (e & _PAGE_RW) == 0) || (e & _PAGE_SPECIAL) != 0) return false;
  const pfn = pte_pfn(e);
  const head = head_at(pfn);
  const f = flags_at(head);
  if (!try_grab_folio_fast(head, f, 1, flags)) return false;
  if (!gup_fast_folio_allowed(head, f, flags) || ((e & _PAGE_RW) == 0 && gup_must_unshare(flags, pfn, head, false))) {
    gup_put_folio(head, 1, flags); // its pin counts as acquired and released
    if ((flags & FOLL_PIN) != 0) pins_acquired++;
    return false;
  }
  if ((f & PG_referenced) == 0) set_flags_at(head, f | PG_referenced);
  set_page_slot(out, pfn);
  if ((flags & FOLL_PIN) != 0) pins_acquired++; // the zero page, never pin-counted, is special: it stopped the walk
  return true;
}

// Mirrors gup_fast_pmd_leaf() / gup_fast_pud_leaf(): refs pages of one huge
// leaf, taken with one grab (record_subpages()). 0 if refused.
function gup_fast_leaf(ei: i32, v: f64, level: i32, refs: i32, flags: i32, out: i32): i32 {
  const e = pte_at(ei);
  if ((e & _PAGE_PRESENT) == 0 || ((flags & FOLL_WRITE) != 0 && (e & _PAGE_RW) == 0)) return 0;
  if ((e & _PAGE_SPECIAL) != 0 && !(level == 1 && is_huge_zero_pmd(e))) return 0;
  const pfn = leaf_subpage(e, v, level);
  const head = head_at(pfn);
  const f = flags_at(head);
  if (!try_grab_folio_fast(head, f, refs, flags)) return 0;
  if ((flags & FOLL_PIN) != 0) pins_acquired += refs;
  if (!gup_fast_folio_allowed(head, f, flags) || ((e & _PAGE_RW) == 0 && gup_must_unshare(flags, head, head, false))) {
    gup_put_folio(head, refs, flags);
    return 0;
  }
  if ((f & PG_referenced) == 0) set_flags_at(head, f | PG_referenced);
  if (refs == 1) set_page_slot(out, pfn); // the one-page call
  else fill_run(out, pfn, refs);
  return refs;
}

// Drops the pins (or, without FOLL_PIN, references) held by entries
// [off, off + n) of the arena, one batch per run of pages of one folio
// (gup_folio_next()), dirtying each not-yet-dirty folio first when asked
// (unpin_user_pages_dirty_lock()). NULL entries are skipped. A batch on a
// folio that holds no pin (or reference) is refused and counted in
// GUP_WARN_UNPIN rather than corrupting its counts. Returns -1, or, having
// changed nothing, the index of the first entry that is no page of this
// machine (the arena is the caller's to write).
export function unpin_pages(off: i32, n: i32, make_dirty: bool, flags: i32): i32 {
  if (off < 0 || n < 0 || off > gup_pages.length - n) return 0; // not the arena: refused whole
  const bad = first_bad_slot(off, n);
  if (bad >= 0) return bad;
  let i = 0;
  let quads_at = 0; // as in gup_fast_pte_range()
  const quads = (flags & FOLL_PIN) != 0 && !make_dirty;
  while (i < n) {
    if (quads && i >= quads_at) {
      const q = put_small_pin_quads(off + i, n - i);
      pins_released += q;
      i += q;
      quads_at = i + 4;
      if (i >= n) break;
    }
    const pfn = page_slot(off + i);
    if (pfn < 0) {
      i++;
      continue;
    }
    // compound_head(), reading a small page's flags once.
    let head = pfn;
    let f = flags_at(pfn);
    if ((f & PG_tail) != 0) {
      head = head_at(pfn);
      f = flags_at(head);
    }
    if ((f & PG_head) == 0 && put_small_pin(head, flags, i + 1 < n ? page_slot(off + i + 1) : -1, make_dirty)) {
      i++;
      continue;
    }
    // gup_folio_next(): the run of entries that are pages of the same folio.
    const folio_end = head + ((f & PG_head) != 0 ? 1 << ((f & PG_ORDER_MASK) >>> PG_ORDER_SHIFT) : 1);
    const batch = 1 + folio_run(off + i + 1, n - i - 1, head, folio_end);
    put_batch(head, f, batch, make_dirty, flags);
    i += batch;
  }
  flush_pin_stats();
  return -1;
}

// The common case of unpin_user_pages(), done inline: one pin of a small
// folio that stays referenced, its batch of one (the next entry is another
// folio). Returns false to leave anything else to put_batch().
function put_small_pin(head: i32, flags: i32, next: i32, make_dirty: bool): bool {
  if ((flags & FOLL_PIN) == 0 || head == ZERO_PFN || next == head) return false;
  const rc = refcount_at(head);
  const left = rc - GUP_PIN_COUNTING_BIAS;
  if (left <= 0 || rc < 0) return false; // not pinned, or the last reference: the general path
  if (make_dirty) folio_mark_dirty(head); // set_page_dirty_lock(), as put_batch() does
  set_refcount_at(head, left);
  pins_released++;
  return true;
}

// unpin_user_page_range_dirty_lock() (flags FOLL_PIN) or put_page() (0):
// pfn .. pfn + n - 1, folio by folio.
export function unpin_range(pfn: i32, n: i32, make_dirty: bool, flags: i32): void {
  if (pfn < 0 || n < 0 || pfn > nr_frames - n) return; // no frames of this machine
  let i = 0;
  let quads_at = 0; // as in unpin_pages()
  const quads = (flags & FOLL_PIN) != 0;
  while (i < n) {
    if (quads && i >= quads_at) {
      const q = put_small_pin_run_quads(pfn + i, n - i, make_dirty);
      pins_released += q;
      i += q;
      quads_at = i + 4;
      if (i >= n) break;
    }
    const head = page_folio(pfn + i);
    if (head == pfn + i && (flags_at(head) & PG_head) == 0 && put_small_pin(head, flags, -1, make_dirty)) {
      i++; // a small page holding a pin and a reference besides it
      continue;
    }
    const end_of_folio = head + (1 << folio_order(head)) - (pfn + i);
    let batch = end_of_folio < n - i ? end_of_folio : n - i;
    if (batch < 1) batch = 1; // never stuck, whatever the head says
    put_batch(head, flags_at(head), batch, make_dirty, flags);
    i += batch;
  }
  flush_pin_stats();
}

function put_batch(head: i32, f: i32, refs: i32, make_dirty: bool, flags: i32): void {
  const pin = (flags & FOLL_PIN) != 0;
  const zero = head == ZERO_PFN;
  // Since 6.5 pinning the zero page counts nothing, so unpinning drops nothing.
  const uncounted = pin && zero && !zero_page_pin_counted();
  const rc = refcount_at(head);
  if (!uncounted && !holds_refs(head, f, rc, refs, flags)) {
    stats[GUP_WARN_UNPIN] += 1.0;
    return;
  }
  if (make_dirty && !zero && (f & PG_dirty) == 0) folio_mark_dirty(head); // set_page_dirty_lock()
  if (uncounted) return;
  // gup_put_folio(), with the folio's fields read once.
  let put = refs;
  if (pin) {
    pins_released += refs;
    if (flags_have_pincount(f)) set_pincount_at(head, pincount_at(head) - <f64>refs);
    else put = refs * GUP_PIN_COUNTING_BIAS;
  }
  const left = (rc - put) | 0;
  if (left == 0) folio_put_refs(head, put); // the last reference: free it
  else set_refcount_at(head, left);
}

// Does the folio hold all refs about to be dropped? A large folio counts
// its pins in _pincount; a small one holds refs * GUP_PIN_COUNTING_BIAS of
// its refcount, read as unsigned as folio_maybe_dma_pinned() reads it (a
// count that wrapped past 2^31 under many pins still holds them). Plain
// references need refcount >= refs (a free frame holds none).
function holds_refs(head: i32, f: i32, rc: i32, refs: i32, flags: i32): bool {
  if ((flags & FOLL_PIN) == 0) return rc >= refs;
  if (flags_have_pincount(f)) return pincount_at(head) >= <f64>refs;
  const held = rc < 0 ? <f64>rc + 4294967296.0 : <f64>rc;
  return held >= <f64>refs * <f64>GUP_PIN_COUNTING_BIAS;
}
