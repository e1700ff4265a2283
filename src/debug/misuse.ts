// The explanations tracking adds to a release that finds no reference of
// its kind on record: the kernel's arithmetic on the folio, and the
// provenance of the references involved. The WARNs and bad_page() reports
// of the release itself are the machine's, as without tracking.
import * as C from '../../assembly/constants';
import { compoundHead } from '../inspect/page';
import type { Tracker } from './provenance';
import { hasPincount, pinBias } from '../eras/pincount';

const BIAS = C.GUP_PIN_COUNTING_BIAS;
const SCAN_PAGES = 1 << 16; // VMA pages searched for the mappings of a bad page

// What gup_put_folio() does to the folio of pfn for one unpin.
function unpinArithmetic(tr: Tracker, pfn: number): string {
  const v = tr.k.v;
  const head = compoundHead(v, pfn);
  const rc = v.refcount[v.page(head)];
  if (hasPincount(tr.k.kr, v.flags[v.page(head)])) {
    const pc = v.index[v.page(head + 1)];
    return `_pincount ${pc} - 1 = ${pc - 1}${pc < 1 ? ' (underflow)' : ''}, _refcount ${rc} - 1 = ${rc - 1}`;
  }
  if (pinBias(tr.k.kr) === 1) return `_refcount ${rc} - 1 = ${rc - 1}${rc < 1 ? ' (underflow)' : ''} (in ${tr.k.kernel} an unpin is put_page())`;
  return `_refcount ${rc} - GUP_PIN_COUNTING_BIAS = ${rc - BIAS}${rc < BIAS ? ' (underflow)' : ''}`;
}

// An unpin batch (entries of one folio) dropping more pins than the folio
// holds, some of them on record: the core refuses it whole.
export function explainBatch(tr: Tracker, api: string, pfn: number, refs: number, pins: number): void {
  const rec = tr.find(pfn, 'FOLL_PIN')!;
  tr.k.printk(`pinsim: ${api}() of pfn ${pfn}: drops ${refs} pins of a folio that holds ${pins} (the newest on record from ${rec[0].describe()}): the unpin would underflow`);
}

// An unpin of pfn with no FOLL_PIN pin on record.
export function explainUnpin(tr: Tracker, api: string, pfn: number): void {
  const what = `pinsim: ${api}() of pfn ${pfn}`;
  const arith = unpinArithmetic(tr, pfn);
  const get = tr.find(pfn, 'FOLL_GET');
  const old = get ? null : tr.releasedHolding(pfn, 'FOLL_PIN');
  if (get) {
    tr.k.printk(`${what}: taken with FOLL_GET by ${get[0].describe()}, not pinned: the unpin takes ${arith}`);
  } else if (old) {
    tr.k.printk(`${what}: double unpin: its pin from ${old.describe()} was released by ${old.released!.api} at t=${old.released!.time}ns: the unpin takes ${arith}`);
  } else {
    tr.k.printk(`${what}: no pin on record: the unpin takes ${arith}`);
  }
}

// A put_page() of pfn with no FOLL_GET reference on record. Returns what
// to report after the put (the bad_page() it may cause), or null.
export function explainPut(tr: Tracker, pfn: number): (() => void) | null {
  const k = tr.k;
  const head = compoundHead(k.v, pfn);
  const pin = tr.find(pfn, 'FOLL_PIN');
  if (pin) {
    const rc = k.v.refcount[k.v.page(head)];
    k.printk(`pinsim: put_page() of pfn ${pfn}: no FOLL_GET reference on record, but pinned by ${pin[0].describe()}: _refcount ${rc} - 1 = ${rc - 1} takes a reference the pin or a mapping owns`);
    return null;
  }
  const old = tr.releasedHolding(pfn, 'FOLL_GET');
  const bads = k.v.stats[C.NR_BAD_PAGES];
  return () => {
    if (k.v.stats[C.NR_BAD_PAGES] === bads && !old) return;
    const was = old ? `its FOLL_GET reference from ${old.describe()} was already put by ${old.released!.api} at t=${old.released!.time}ns` : 'no FOLL_GET reference on record';
    k.printk(`pinsim: put_page() of pfn ${pfn}: extra put: ${was}`);
    for (const m of mappers(tr, pfn)) k.printk(`pinsim: pfn ${pfn} is still mapped by ${m}`);
  };
}

// "pid 3 (a.out) at 0x7f0000001000": the PTEs that map pfn, found by
// translating the tasks' VMAs (the first SCAN_PAGES pages of them).
function mappers(tr: Tracker, pfn: number): string[] {
  const out: string[] = [];
  let budget = SCAN_PAGES;
  for (const t of tr.k.tasks) {
    for (const vma of t.mm.vmas) {
      for (let a = vma.start; a < vma.end && budget > 0; a += C.PAGE_SIZE, budget--) {
        if (t.translate(a) === pfn) out.push(`pid ${t.pid} (${t.name}) at 0x${a.toString(16)}`);
      }
    }
  }
  return out;
}
