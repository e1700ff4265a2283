// hugetlb faults (mm/hugetlb.c): 2 MiB folios mapped by PMD leaves, 1 GiB
// folios by PUD leaves, taken from the boot-time pool. There is no
// reservation accounting: a fault that finds the pool empty gets SIGBUS, as
// a MAP_NORESERVE mapping does in Linux.
import {
  PG_anon_exclusive, GFP_ZERO, VM_FAULT_OOM, VM_FAULT_SIGBUS, _PAGE_PRESENT, _PAGE_RW, _PAGE_DIRTY,
  _PAGE_ACCESSED, FAULT_FLAG_WRITE, FAULT_FLAG_UNSHARE, COW_COPIES, COW_REUSES, HPAGE_PUD_ORDER, PG_uptodate,
  BACKING_ANON, MMU_NOTIFY_CLEAR, VM_FAULT_NOTIFY,
} from './constants';
import { notify_gate } from './notify';
import { pg_flags, pg_data, stats, pfn_to_page, memmap_pages } from './mem';
import {
  alloc_hugetlb_folio, folio_make_anon, folio_set_exclusive, folio_add_entire_mapcount, folio_get, folio_put_refs,
} from './folio';
import { mk_pte, pte_pfn, pt_walk, pt_set, level_span, walk_level } from './pgtable';
import { pc_lookup, pc_add_folio, folio_mark_dirty } from './pagecache';
import {
  vma_is_shared, vma_rw_bit, vma_huge_order, vma_mapping, vma_backing, vma_file_index, vma_file_pages,
  vma_anon_vma, wp_bits,
} from './vma';
import { pte_at } from './raw';
import { hugetlb_can_reuse } from './reuse';

function leaf_level(order: i32): i32 { return order == HPAGE_PUD_ORDER ? 2 : 1; }

// Copies a huge folio's contents into a fresh pool folio (copy_user_large_folio()).
export function hugetlb_copy(head: i32, order: i32): i32 {
  const fresh = alloc_hugetlb_folio(order, 0);
  if (fresh < 0) return -1;
  const nr = memmap_pages(head, 1 << order); // a sparse folio's shared tails: one word
  for (let i = 0; i < nr; i++) pg_data[pfn_to_page(fresh + i)] = pg_data[pfn_to_page(head + i)];
  return fresh;
}

// Mirrors hugetlb_fault() -> hugetlb_no_page() / hugetlb_wp().
export function hugetlb_fault(pgd: i32, vpn: f64, flags: i32): i32 {
  const order = vma_huge_order();
  const level = leaf_level(order);
  const ei = pt_walk(pgd, vpn, level, true);
  if (ei == -2) return VM_FAULT_OOM;
  if (walk_level != level) return VM_FAULT_SIGBUS; // a leaf of another size: cannot happen in a hugetlb VMA
  const span = level_span(level);
  const haddr = Math.floor(vpn / span) * span;
  const write = (flags & FAULT_FLAG_WRITE) != 0;
  const e = pte_at(ei);
  if (e == 0) return hugetlb_no_page(ei, haddr, order, write);
  const unshare = (flags & FAULT_FLAG_UNSHARE) != 0;
  if ((write || unshare) && (e & _PAGE_RW) == 0) return hugetlb_wp(ei, haddr, order, unshare);
  pt_set(ei, e | <u32>(_PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)));
  return 0;
}

// Mirrors hugetlb_no_page(): a file-backed VMA (shared or private) faults
// only within i_size; a shared one maps the file's folio, creating it if
// need be; a private one maps the file's folio read-only if it is cached
// (a write copies it at once, hugetlb_wp()), else a fresh zeroed anon folio.
function hugetlb_no_page(ei: i32, haddr: f64, order: i32, write: bool): i32 {
  const index = vma_file_index(haddr);
  const has_file = vma_backing != BACKING_ANON;
  if (has_file && index >= vma_file_pages) return VM_FAULT_SIGBUS;
  let head = has_file ? pc_lookup(vma_mapping, index) : -1;
  let bits = _PAGE_PRESENT | _PAGE_ACCESSED;
  if (vma_is_shared()) {
    if (head < 0) {
      head = alloc_hugetlb_folio(order, GFP_ZERO);
      if (head < 0) return VM_FAULT_SIGBUS;
      pg_flags[pfn_to_page(head)] |= PG_uptodate;
      pc_add_folio(head, vma_mapping, index, vma_backing);
    } else {
      folio_get(head, 1);
    }
    bits |= vma_rw_bit();
    if (write) folio_mark_dirty(head);
  } else if (head >= 0) {
    folio_get(head, 1);
    folio_add_entire_mapcount(head, 1);
    pt_set(ei, mk_pte(head, bits));
    return write ? hugetlb_wp(ei, haddr, order, false) : 0;
  } else {
    head = alloc_hugetlb_folio(order, GFP_ZERO);
    if (head < 0) return VM_FAULT_SIGBUS;
    folio_make_anon(head, vma_anon_vma, haddr, PG_anon_exclusive);
    if (write) bits |= vma_rw_bit();
  }
  if (write) bits |= _PAGE_DIRTY;
  folio_add_entire_mapcount(head, 1);
  pt_set(ei, mk_pte(head, bits));
  return 0;
}

function hugetlb_wp(ei: i32, haddr: f64, order: i32, unshare: bool): i32 {
  const e = pte_at(ei);
  const head = pte_pfn(e);
  if (vma_is_shared()) {
    if (unshare) return 0;
    folio_mark_dirty(head);
    pt_set(ei, e | <u32>wp_bits(false));
    return 0;
  }
  // hugetlb_wp() decides by the mapcount, not the refcount (assembly/reuse.ts):
  // vmsplice's reference can still see later writes, the hugetlb leak left
  // unfixed upstream.
  if (hugetlb_can_reuse(head)) {
    folio_set_exclusive(head, true);
    pt_set(ei, e | <u32>wp_bits(unshare));
    stats[COW_REUSES] += 1.0;
    return 0;
  }
  if (!notify_gate(MMU_NOTIFY_CLEAR, haddr, level_span(leaf_level(order)))) return VM_FAULT_NOTIFY;
  const fresh = hugetlb_copy(head, order);
  if (fresh < 0) return VM_FAULT_SIGBUS;
  folio_make_anon(fresh, vma_anon_vma, haddr, PG_anon_exclusive);
  folio_add_entire_mapcount(fresh, 1);
  folio_add_entire_mapcount(head, -1);
  folio_put_refs(head, 1);
  pt_set(ei, mk_pte(fresh, _PAGE_PRESENT | wp_bits(unshare)));
  stats[COW_COPIES] += 1.0;
  return 0;
}
