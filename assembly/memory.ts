// Page faults (mm/memory.c): handle_mm_fault() and its PTE-level cases, plus
// the two per-range entry points built on it: fault_range() (populate,
// touch) and cpu_access() (one user load or store).
import {
  PG_anon, PG_anon_exclusive, PG_private, GFP_ZERO, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_FALLBACK,
  FAULT_FLAG_WRITE, FAULT_FLAG_UNSHARE, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY, _PAGE_ACCESSED, _PAGE_SPECIAL,
  BACKING_ANON, BACKING_DAX, COW_COPIES, COW_REUSES, PAGE_MKWRITE, PGFAULT, MMU_NOTIFY_CLEAR, VM_FAULT_NOTIFY, VM_LOCKED,
  VM_FAULT_NO_CONTENTS,
} from './constants';
import { notify_gate } from './notify';
import { mlock_fault } from './mlock';
import { pg_flags, pg_mapcount, pg_data, scratch, stats, ZERO_PFN, pfn_to_page, page_is_shared_tail } from './mem';
import { alloc_pages } from './buddy';
import { page_folio, folio_make_anon, folio_get, folio_put_refs } from './folio';
import {
  mk_pte, mk_table_entry, pte_pfn, pt_walk, pt_set, pmd_is_leaf, leaf_subpage, pt_alloc, table_base, vpn_index, walk_cached,
  cached_level,
} from './pgtable';
import { pc_get_folio, folio_mark_dirty } from './pagecache';
import { do_huge_pmd_anonymous_page, do_huge_pmd_wp_page } from './huge_memory';
import { hugetlb_fault } from './hugetlb';
import { wp_can_reuse_anon } from './reuse';
import {
  alloc_gfp, vma_flags, vma_backing, vma_start, vma_end, vma_mapping, vma_file_pages, vma_dax_base, vma_anon_vma,
  vma_is_shared, vma_rw_bit, vma_thp, vma_writenotify, vma_is_hugetlb, vma_file_index, wp_bits,
} from './vma';
import { flags_at, pte_at, mapcount_at, set_mapcount_at } from './raw';

let last_fault = 0;

// VM_FAULT_* bits of the fault that stopped the last fault_range()/cpu_access().
export function fault_status(): i32 { return last_fault; }

// Mirrors handle_mm_fault(): returns 0 or VM_FAULT_* error bits. In a
// VM_LOCKED VMA the folio it maps is mlocked (assembly/mlock.ts).
export function handle_mm_fault(pgd: i32, vpn: f64, flags: i32): i32 {
  const locked = (vma_flags & VM_LOCKED) != 0;
  const old = locked ? entry_at(pgd, vpn) : 0;
  const r = do_handle_mm_fault(pgd, vpn, flags);
  // A fault stopped at a notifier gate runs again once the façade has
  // notified (the kernel notifies inline): it counts once, then.
  if ((r & VM_FAULT_NOTIFY) == 0) stats[PGFAULT] += 1.0;
  if (locked && r == 0) mlock_fault(old, entry_at(pgd, vpn));
  return r;
}

// The leaf entry mapping vpn, or 0.
function entry_at(pgd: i32, vpn: f64): u32 {
  const ei = walk_cached(pgd, vpn);
  return ei < 0 ? 0 : pte_at(ei);
}

function do_handle_mm_fault(pgd: i32, vpn: f64, flags: i32): i32 {
  if (vma_is_hugetlb()) return hugetlb_fault(pgd, vpn, flags);
  const write = (flags & FAULT_FLAG_WRITE) != 0;
  // Where a PTE table already covers vpn (faulting a range in), its PMD is
  // neither empty nor a huge leaf: straight to the PTE.
  let ei = walk_cached(pgd, vpn);
  if (ei < 0 || cached_level != 0) {
    const pmd_ei = pt_walk(pgd, vpn, 1, true);
    if (pmd_ei == -2) return VM_FAULT_OOM;
    const pmd = pte_at(pmd_ei);
    const haddr = Math.floor(vpn / 512.0) * 512.0;
    if (pmd == 0 && vma_thp() && vma_backing == BACKING_ANON && haddr >= vma_start && haddr + 512.0 <= vma_end) {
      const r = do_huge_pmd_anonymous_page(pmd_ei, haddr, write);
      if (r != VM_FAULT_FALLBACK) return r;
    } else if (pmd != 0 && pmd_is_leaf(pmd)) {
      const unshare = (flags & FAULT_FLAG_UNSHARE) != 0;
      if ((!write && !unshare) || (pmd & _PAGE_RW) != 0) {
        pt_set(pmd_ei, pmd | <u32>(_PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)));
        return 0;
      }
      const r = do_huge_pmd_wp_page(pmd_ei, haddr, unshare);
      if (r != VM_FAULT_FALLBACK) return r;
    }
    ei = pte_entry(pmd_ei, vpn);
    if (ei < 0) return VM_FAULT_OOM;
  }
  const e = pte_at(ei);
  if (e == 0) {
    return vma_backing == BACKING_ANON ? do_anonymous_page(ei, vpn, write) : do_fault(ei, vpn, write);
  }
  if ((write || (flags & FAULT_FLAG_UNSHARE) != 0) && (e & _PAGE_RW) == 0) {
    return do_wp_page(ei, vpn, (flags & FAULT_FLAG_UNSHARE) != 0);
  }
  pt_set(ei, e | <u32>(_PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)));
  return 0;
}

// The PTE for vpn under PMD entry pmd_ei, allocating the PTE table if the
// PMD is empty (pte_alloc()); -1 when that fails.
function pte_entry(pmd_ei: i32, vpn: f64): i32 {
  let pmd = pte_at(pmd_ei);
  if (pmd == 0) {
    const t = pt_alloc();
    if (t < 0) return -1;
    pmd = mk_table_entry(t);
    pt_set(pmd_ei, pmd);
  }
  return table_base(pte_pfn(pmd)) + vpn_index(vpn, 0);
}

// Mirrors do_anonymous_page(): reads map the shared zero page, writes a
// fresh zeroed page that is exclusive to this mm.
function do_anonymous_page(ei: i32, vpn: f64, write: bool): i32 {
  if (!write) {
    pt_set(ei, mk_pte(ZERO_PFN, _PAGE_PRESENT | _PAGE_SPECIAL));
    return 0;
  }
  const pfn = alloc_pages(0, alloc_gfp | GFP_ZERO);
  if (pfn < 0) return VM_FAULT_OOM;
  folio_make_anon(pfn, vma_anon_vma, vpn, PG_anon_exclusive);
  pg_mapcount[pfn_to_page(pfn)] = 1;
  pt_set(ei, mk_pte(pfn, _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | vma_rw_bit()));
  return 0;
}

// ->page_mkwrite(): the filesystem is told a clean page becomes writable and
// attaches its per-folio state (buffer heads); the folio is dirtied.
function page_mkwrite(head: i32): void {
  pg_flags[pfn_to_page(head)] |= PG_private;
  stats[PAGE_MKWRITE] += 1.0;
  folio_mark_dirty(head);
}

// Mirrors do_fault(): do_read_fault / do_cow_fault / do_shared_fault over
// the page cache, or the device page of an fsdax file.
function do_fault(ei: i32, vpn: f64, write: bool): i32 {
  const index = vma_file_index(vpn);
  if (index >= vma_file_pages) return VM_FAULT_SIGBUS;
  let pfn = -1;
  if (vma_backing == BACKING_DAX) pfn = vma_dax_base + <i32>index; // below the file's pages: its pmem extent
  else pfn = pc_get_folio(vma_mapping, index, vma_backing, 0, 0);
  if (pfn < 0) return VM_FAULT_OOM;
  if (write && !vma_is_shared()) return wp_page_copy(ei, vpn, pfn, false);
  const head = page_folio(pfn);
  let bits = _PAGE_PRESENT | _PAGE_ACCESSED;
  if (write) {
    if (vma_writenotify()) page_mkwrite(head);
    else folio_mark_dirty(head);
    bits |= _PAGE_RW | _PAGE_DIRTY;
  } else if (vma_is_shared() && !vma_writenotify()) {
    bits |= vma_rw_bit();
  }
  folio_get(head, 1);
  set_mapcount_at(pfn, mapcount_at(pfn) + 1);
  pt_set(ei, mk_pte(pfn, bits));
  return 0;
}

// Mirrors do_wp_page(): a write (or, for unshare, a read-only pin) hits a
// present PTE without write permission.
function do_wp_page(ei: i32, vpn: f64, unshare: bool): i32 {
  const e = pte_at(ei);
  const pfn = pte_pfn(e);
  if ((e & _PAGE_SPECIAL) != 0) return wp_page_copy(ei, vpn, pfn, unshare);
  const head = page_folio(pfn);
  if ((flags_at(head) & PG_anon) != 0) {
    // Reuse by the era's predicate (assembly/reuse.ts); a reuse marks the
    // page exclusive in every era (state the 5.19+ rules read).
    if (wp_can_reuse_anon(head, pfn)) {
      pg_flags[pfn_to_page(pfn)] |= PG_anon_exclusive;
      pt_set(ei, e | <u32>wp_bits(unshare));
      stats[COW_REUSES] += 1.0;
      return 0;
    }
    return wp_page_copy(ei, vpn, pfn, unshare);
  }
  if (!vma_is_shared()) return wp_page_copy(ei, vpn, pfn, unshare);
  if (unshare) return 0; // FAULT_FLAG_UNSHARE outside COW mappings acts as a read fault
  // wp_page_shared(): notify the filesystem, then reuse the page writable.
  if (vma_writenotify()) page_mkwrite(head);
  else folio_mark_dirty(head);
  pt_set(ei, e | <u32>wp_bits(false));
  return 0;
}

// Mirrors wp_page_copy(): a new exclusive anon page with the old contents
// (zero for the zero page) replaces the old mapping, if there was one. An
// unshare copy is mapped read-only and clean.
function wp_page_copy(ei: i32, vpn: f64, old: i32, unshare: bool): i32 {
  // do_cow_fault() (no PTE yet) fires nothing; replacing a PTE fires CLEAR.
  if (pte_at(ei) != 0 && !notify_gate(MMU_NOTIFY_CLEAR, vpn, 1.0)) return VM_FAULT_NOTIFY;
  const fresh = alloc_pages(0, alloc_gfp);
  if (fresh < 0) return VM_FAULT_OOM;
  pg_data[pfn_to_page(fresh)] = old == ZERO_PFN ? 0 : pg_data[pfn_to_page(old)];
  folio_make_anon(fresh, vma_anon_vma, vpn, PG_anon_exclusive);
  pg_mapcount[pfn_to_page(fresh)] = 1;
  const e = pte_at(ei);
  if (e != 0 && (e & _PAGE_SPECIAL) == 0) {
    set_mapcount_at(old, mapcount_at(old) - 1);
    folio_put_refs(page_folio(old), 1);
  }
  pt_set(ei, mk_pte(fresh, _PAGE_PRESENT | wp_bits(unshare)));
  stats[COW_COPIES] += 1.0;
  return 0;
}

// Does the mapping at vpn already allow this access? Returns the leaf entry
// index or -1 when a fault is needed.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function access_ok_leaf(pgd: i32, vpn: f64, write: bool): i32 {
  const ei = walk_cached(pgd, vpn);
  if (ei < 0) return -1;
  const e = pte_at(ei);
  if ((e & _PAGE_PRESENT) == 0 || (write && (e & _PAGE_RW) == 0)) return -1;
  return ei;
}

// Faults in [vpn, vpn + nr) for reading or writing, as a user touching each
// page would (populate, MADV_POPULATE_*, touch). Returns the number of pages
// done; when less than nr, last_fault holds the VM_FAULT_* bits.
export function fault_range(pgd: i32, vpn: f64, nr: i32, flags: i32): i32 {
  const write = (flags & FAULT_FLAG_WRITE) != 0;
  for (let i = 0; i < nr; i++) {
    const r = fault_one(pgd, vpn + <f64>i, flags, write);
    if (r != 0) {
      last_fault = r;
      return i;
    }
  }
  last_fault = 0;
  return nr;
}

// Access one page, faulting as needed; marks the entry young (and dirty).
// A fault that succeeds leaves an entry that allows the access.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
function fault_one(pgd: i32, vpn: f64, flags: i32, write: bool): i32 {
  const ei = access_ok_leaf(pgd, vpn, write);
  if (ei < 0) return handle_mm_fault(pgd, vpn, flags);
  pt_set(ei, pte_at(ei) | <u32>(_PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)));
  return 0;
}

// One user load (write == false; the word lands in scratch[0]) or store of
// `word` at vpn. Returns 0 or the VM_FAULT_* bits that stopped it.
export function cpu_access(pgd: i32, vpn: f64, write: bool, word: u32): i32 {
  const r = fault_one(pgd, vpn, write ? FAULT_FLAG_WRITE : 0, write);
  last_fault = r;
  if (r != 0) return r;
  const ei = walk_cached(pgd, vpn);
  const pfn = leaf_subpage(pte_at(ei), vpn, cached_level);
  if (write && page_is_shared_tail(pfn)) return last_fault = VM_FAULT_NO_CONTENTS;
  if (write) pg_data[pfn_to_page(pfn)] = word;
  else scratch[0] = pfn == ZERO_PFN ? 0 : pg_data[pfn_to_page(pfn)];
  return 0;
}

