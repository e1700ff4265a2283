// The kernel era's rules, as the per-page code reads them (bits in
// constants.ts, set once after boot from src/eras/core-bits.ts). The
// default is 'latest', so a core nobody configured behaves as today's kernel.
import {
  PINCOUNT_ORDER1, RULE_EXACT_PINCOUNT_SHIFT, RULE_PIN_VMSTAT, REUSE_EXCLUSIVE,
  RULE_COW_REUSE_SHIFT, RULE_THP_COW_REUSE_SHIFT, RULE_THP_SPLIT_COW, RULE_HUGETLB_REUSE_EXCLUSIVE, RULE_HUGE_ZERO_THP,
  RULE_UNSHARE_ANON, RULE_UNSHARE_LT_NONANON, FORK_COPY_ANON, RULE_FORK_COPY_SHIFT, LT_CMA_ALL, RULE_GUP_FAST_LT_CMA_SHIFT,
  RULE_LT_MIGRATE_MOVABLE, RULE_LT_MIGRATE_ISOLATE, RULE_LT_WRITE_FILE_EFAULT, RULE_FIELD_MASK,
} from './constants';

export const RULES_LATEST = (PINCOUNT_ORDER1 << RULE_EXACT_PINCOUNT_SHIFT) | RULE_PIN_VMSTAT | (REUSE_EXCLUSIVE << RULE_COW_REUSE_SHIFT)
  | (REUSE_EXCLUSIVE << RULE_THP_COW_REUSE_SHIFT) | RULE_THP_SPLIT_COW | RULE_HUGETLB_REUSE_EXCLUSIVE | RULE_HUGE_ZERO_THP
  | RULE_UNSHARE_ANON | RULE_UNSHARE_LT_NONANON | (FORK_COPY_ANON << RULE_FORK_COPY_SHIFT) | (LT_CMA_ALL << RULE_GUP_FAST_LT_CMA_SHIFT)
  | RULE_LT_MIGRATE_MOVABLE | RULE_LT_MIGRATE_ISOLATE | RULE_LT_WRITE_FILE_EFAULT;

export let kernel_rules: i32 = RULES_LATEST;

export function set_kernel_rules(r: i32): void { kernel_rules = r; }

// A 2-bit field of kernel_rules.
export function rule_field(shift: i32): i32 { return (kernel_rules >> shift) & RULE_FIELD_MASK; }
