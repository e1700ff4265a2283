// What the fuzz's checks may expect of a machine, read off its kernel
// era's rules (k.kr, src/eras/): the one place where a check depends on the
// preset. Everything else the fuzz checks (the contents model, the cores
// agreeing, the teardown) holds in every era.
import type { KernelRules } from '../src/index';

export interface EraChecks {
  pinApi: boolean; // pin_*/unpin_* exist; else they fail with ENOSYS (5.5)
  pinsCounted: boolean; // a FOLL_PIN pin is a pin (bias or _pincount); else a plain +1 reference (5.5, 5.6)
  vmstat: boolean; // nr_foll_pin_acquired/_released count pins (5.7+)
  zeroPinned: boolean; // a pin of the shared zero page counts like any other (≤ 6.4)
  pincountOrder: number; // the smallest folio order with an exact _pincount (Infinity: none)
  pinLeaks: boolean; // a failed long-term pin may leave pins behind (6.1–6.11, §3.I I8)
  oops: boolean; // a kernel BUG this era had can be reached (ext4 writeback ≤ 5.17, fork of page cache 5.9–5.18)
}

export function eraChecks(kr: KernelRules): EraChecks {
  const pinsCounted = kr.pinApi && kr.pinBias !== 1;
  return {
    pinApi: kr.pinApi,
    pinsCounted,
    vmstat: pinsCounted && kr.pinVmstat,
    zeroPinned: kr.zeroPagePinCounted,
    pincountOrder: kr.exactPincount === 'order>=1' ? 1 : kr.exactPincount === 'order>=2' ? 2 : Infinity,
    pinLeaks: kr.longtermMigrationFailure === 'error-leak',
    oops: kr.ext4DirtyWithoutBuffers === 'bug' || kr.forkCopyPinned === 'pte+thp' || kr.forkCopyPinned === 'pte+thp+hugetlb',
  };
}

// What a halted machine says after a modelled kernel BUG (k.bug(): the
// BUG line, then where and that it halted), not after a core failure of pinsim's.
export const OOPS = /(kernel BUG at \S+!) \(.*the machine has halted\)$/;
