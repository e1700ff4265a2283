// The rule record as the one i32 the core reads (assembly/rules.ts).
import * as C from '../../assembly/constants';
import type { KernelRules } from './timeline';

const PINCOUNT = { none: C.PINCOUNT_NONE, 'order>=2': C.PINCOUNT_ORDER2, 'order>=1': C.PINCOUNT_ORDER1 } as const;
const REUSE = { mapcount: C.REUSE_MAPCOUNT, refcount: C.REUSE_REFCOUNT, exclusive: C.REUSE_EXCLUSIVE } as const;
const FORK = {
  none: C.FORK_COPY_NONE, 'pte+thp': C.FORK_COPY_PTE_THP, 'pte+thp+hugetlb': C.FORK_COPY_PTE_THP_HUGETLB, anon: C.FORK_COPY_ANON,
} as const;
const LT_CMA = { none: C.LT_CMA_NONE, pin: C.LT_CMA_PIN, all: C.LT_CMA_ALL } as const;

const flag = (on: boolean, bit: number): number => (on ? bit : 0);

export function coreRuleBits(r: KernelRules): number {
  return (PINCOUNT[r.exactPincount] << C.RULE_EXACT_PINCOUNT_SHIFT)
    | flag(r.pinVmstat, C.RULE_PIN_VMSTAT)
    | flag(r.zeroPagePinCounted, C.RULE_ZERO_PAGE_PIN_COUNTED)
    | (REUSE[r.cowReuse] << C.RULE_COW_REUSE_SHIFT)
    | (REUSE[r.thpCowReuse] << C.RULE_THP_COW_REUSE_SHIFT)
    | flag(r.thpSplitCow, C.RULE_THP_SPLIT_COW)
    | flag(r.hugetlbCowReuse === 'exclusive', C.RULE_HUGETLB_REUSE_EXCLUSIVE)
    | flag(r.hugeZeroThp, C.RULE_HUGE_ZERO_THP)
    | flag(r.gupBreaksCow, C.RULE_GUP_BREAKS_COW)
    | flag(r.roPinUnshareAnon, C.RULE_UNSHARE_ANON)
    | flag(r.roLongtermUnshareNonAnon, C.RULE_UNSHARE_LT_NONANON)
    | (FORK[r.forkCopyPinned] << C.RULE_FORK_COPY_SHIFT)
    | (LT_CMA[r.gupFastLongtermCma] << C.RULE_GUP_FAST_LT_CMA_SHIFT)
    | flag(r.longtermMigratesMovable, C.RULE_LT_MIGRATE_MOVABLE)
    | flag(r.longtermMigratesIsolate, C.RULE_LT_MIGRATE_ISOLATE)
    | flag(r.longtermWriteFile === 'efault', C.RULE_LT_WRITE_FILE_EFAULT)
    | flag(r.forceWriteRoPrivate === 'foll-cow', C.RULE_FOLL_COW)
    | flag(r.reclaimKeepsPinnedPrivate, C.RULE_RECLAIM_KEEPS_PINNED_PRIVATE)
    | flag(r.lruBatchRef, C.RULE_LRU_BATCH_REF)
    | flag(r.longtermDrainsByRefcount, C.RULE_LT_DRAIN_BY_REFCOUNT)
    | flag(r.wpDrainsLocalLru, C.RULE_WP_DRAINS_LOCAL_LRU);
}
