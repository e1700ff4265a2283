// What the façade needs from the core to call MMU interval notifiers
// before page-table entries change (mm/mmu_notifier.c). Changes made by the
// façade's own range operations are announced by the façade; the few made
// deep inside a per-page loop (a COW copy, a THP split during a fault) stop
// the loop at a gate instead, when the mm has subscriptions: the façade
// fires the event, acknowledges it and calls again.
import { PG_hugetlb } from './constants';
import { pte_pfn, pt_walk, walk_level, pmd_is_leaf, level_span } from './pgtable';
import { flags_at, pte_at } from './raw';

let notify_on = false; // mm_has_notifiers() of the mm of the current call
let acked_event = -1;
let acked_start = 0.0;
let pending_event = -1;
let pending_start = 0.0;
let pending_nr = 0.0;

// Set with each set_vma() by the façade: does the mm have interval
// notifiers? Nothing is pending after it.
export function set_mm_notify(on: bool): void {
  notify_on = on;
  pending_event = -1;
}

// May the caller change [vpn, vpn + nr) now (event `event`)? False: it must
// stop with VM_FAULT_NOTIFY, the change recorded as pending.
export function notify_gate(event: i32, vpn: f64, nr: f64): bool {
  if (!notify_on) return true;
  const acked = acked_event == event && acked_start == vpn;
  acked_event = -1; // an acknowledgement is good for the next gate only
  if (acked) return true;
  pending_event = event;
  pending_start = vpn;
  pending_nr = nr;
  return false;
}

// The event of the change a short call stopped before, or -1.
export function notify_pending_event(): i32 { return pending_event; }
export function notify_pending_start(): f64 { return pending_start; }
export function notify_pending_nr(): f64 { return pending_nr; }

// The façade has called the notifiers for the change (event, vpn) it read
// as pending (callbacks may have made other calls since): let it through.
export function notify_ack(event: i32, vpn: f64): void {
  acked_event = event;
  acked_start = vpn;
  pending_event = -1;
}

// The first vpn of [vpn, vpn + nr) under a populated PUD entry (a table or
// a leaf), or -1: change_pud_range() starts its PROTECTION_VMA range there.
export function first_populated_pud(pgd: i32, vpn: f64, nr: f64): f64 {
  const span = level_span(2);
  const end = vpn + nr;
  for (let a = vpn; a < end; a = (Math.floor(a / span) + 1.0) * span) {
    const ei = pt_walk(pgd, a, 2, false);
    if (ei >= 0 && pte_at(ei) != 0) return a;
  }
  return -1.0;
}

// The first vpn of the THP (not hugetlb) PMD leaf mapping vpn, or -1.
export function thp_leaf_at(pgd: i32, vpn: f64): f64 {
  const ei = pt_walk(pgd, vpn, 1, false);
  if (ei < 0 || walk_level != 1) return -1.0;
  const e = pte_at(ei);
  if (e == 0 || !pmd_is_leaf(e) || (flags_at(pte_pfn(e)) & PG_hugetlb) != 0) return -1.0;
  return Math.floor(vpn / 512.0) * 512.0;
}
