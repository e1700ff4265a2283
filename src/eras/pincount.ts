// How the era counts pins on a folio, for the façade's views and checks
// (the core decides the same with flags_have_pincount(), assembly/rules.ts).
import * as C from '../../assembly/constants';
import type { KernelRules } from './timeline';

const MIN_ORDER = { none: Infinity, 'order>=2': 2, 'order>=1': 1 } as const;

// folio_has_pincount() of a head with these flags: exact _pincount, else
// the refcount carries GUP_PIN_COUNTING_BIAS per pin.
export function hasPincount(kr: KernelRules, headFlags: number): boolean {
  return (headFlags & C.PG_head) !== 0 && (headFlags & C.PG_ORDER_MASK) >>> C.PG_ORDER_SHIFT >= MIN_ORDER[kr.exactPincount];
}

// What one pin adds to a folio without _pincount: 1 in 5.6, where a pin
// is a plain reference.
export function pinBias(kr: KernelRules): number { return kr.pinBias === 1 ? 1 : C.GUP_PIN_COUNTING_BIAS; }

// The reference kind a pin_user_pages*() call takes in this era: FOLL_GET
// in 5.6 (a pin is a plain reference down to the core), else FOLL_PIN.
export function pinKind(kr: KernelRules): number { return kr.pinBias === 1 ? C.FOLL_GET : C.FOLL_PIN; }
