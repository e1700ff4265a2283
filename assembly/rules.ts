// The kernel era's rules, as the per-page code reads them (bits in
// constants.ts, set once after boot from src/eras/core-bits.ts). The
// default is 'latest', so a core nobody configured behaves as today's kernel.
import {
  PINCOUNT_ORDER1, RULE_EXACT_PINCOUNT_SHIFT, RULE_PIN_VMSTAT, REUSE_EXCLUSIVE,
  RULE_COW_REUSE_SHIFT, RULE_THP_COW_REUSE_SHIFT, RULE_THP_SPLIT_COW, RULE_HUGETLB_REUSE_EXCLUSIVE, RULE_HUGE_ZERO_THP,
  RULE_UNSHARE_ANON, RULE_UNSHARE_LT_NONANON, FORK_COPY_ANON, RULE_FORK_COPY_SHIFT, LT_CMA_ALL, RULE_GUP_FAST_LT_CMA_SHIFT,
  RULE_LT_MIGRATE_MOVABLE, RULE_LT_MIGRATE_ISOLATE, RULE_LT_WRITE_FILE_EFAULT, RULE_FIELD_MASK, RULE_RECLAIM_KEEPS_PINNED_PRIVATE,
  PINCOUNT_ORDER2, PG_head, PG_ORDER_MASK, PG_ORDER_SHIFT, RULE_LT_DRAIN_BY_REFCOUNT,
  RULE_WP_DRAINS_LOCAL_LRU,
} from './constants';

export const RULES_LATEST = (PINCOUNT_ORDER1 << RULE_EXACT_PINCOUNT_SHIFT) | RULE_PIN_VMSTAT | (REUSE_EXCLUSIVE << RULE_COW_REUSE_SHIFT)
  | (REUSE_EXCLUSIVE << RULE_THP_COW_REUSE_SHIFT) | RULE_THP_SPLIT_COW | RULE_HUGETLB_REUSE_EXCLUSIVE | RULE_HUGE_ZERO_THP
  | RULE_UNSHARE_ANON | RULE_UNSHARE_LT_NONANON | (FORK_COPY_ANON << RULE_FORK_COPY_SHIFT) | (LT_CMA_ALL << RULE_GUP_FAST_LT_CMA_SHIFT)
  | RULE_LT_MIGRATE_MOVABLE | RULE_LT_MIGRATE_ISOLATE | RULE_LT_WRITE_FILE_EFAULT
  | RULE_RECLAIM_KEEPS_PINNED_PRIVATE | RULE_LT_DRAIN_BY_REFCOUNT | RULE_WP_DRAINS_LOCAL_LRU;

export let kernel_rules: i32 = RULES_LATEST;

export function set_kernel_rules(r: i32): void { kernel_rules = r; }

// A 2-bit field of kernel_rules.
export function rule_field(shift: i32): i32 { return (kernel_rules >> shift) & RULE_FIELD_MASK; }

// folio_has_pincount() of the folio whose head has flags f, by era: every
// large folio since 5.18 (5232c63f46fd, _pincount in page[1]); from 5.7 only
// order >= 2 (hpage_pinned_refcount lived in page[2]: an order-1 page
// counts pins with the bias, like a small one); before 5.7 none. A small
// page fails the first test, so hot loops pay one AND.
// @ts-ignore: decorator (AssemblyScript's; scripts/build.mjs drops it for the TS build)
@inline
export function flags_have_pincount(f: i32): bool {
  if ((f & PG_head) == 0) return false;
  const k = rule_field(RULE_EXACT_PINCOUNT_SHIFT);
  const order = (f & PG_ORDER_MASK) >>> PG_ORDER_SHIFT;
  return k == PINCOUNT_ORDER1 ? order >= 1 : k == PINCOUNT_ORDER2 && order >= 2;
}
