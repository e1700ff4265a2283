// The per-CPU LRU-add batch (mm/swap.c), one CPU in pinsim, when the
// lruBatchRef switch is on: folio_add_lru() takes a reference and parks a
// new small folio in the batch without PG_lru; lru_add_drain() sets PG_lru
// on each and drops the batch's references (freeing a folio unmapped
// meanwhile). Off (the default), folios go on the LRU at once.
import { PAGEVEC_SIZE, PG_lru, RULE_LRU_BATCH_REF } from './constants';
import { pg_flags, pfn_to_page } from './mem';
import { new_i32 } from './alloc';
import { kernel_rules } from './rules';
import { folio_get, folio_put_refs } from './folio';
import { flags_at } from './raw';

const batch = new_i32(PAGEVEC_SIZE);
let batch_n = 0;

// folio_add_lru() for a folio of `order` becoming anon or page cache:
// returns the PG_lru bit the folio gets now (0 while it waits in the batch).
export function folio_add_lru(head: i32, order: i32): i32 {
  if ((kernel_rules & RULE_LRU_BATCH_REF) == 0) return PG_lru;
  if (order > 0) {
    // A large folio never waits: the batch is moved to the LRU with it.
    lru_add_drain();
    return PG_lru;
  }
  folio_get(head, 1);
  batch[batch_n++] = head;
  // folio_batch_add() says when no space is left: the 15th folio drains all.
  if (batch_n == PAGEVEC_SIZE) lru_add_drain();
  return 0;
}

// lru_add_drain(): every batched folio goes on the LRU, and the batch's
// reference is dropped (the last one frees it).
export function lru_add_drain(): void {
  const n = batch_n;
  batch_n = 0;
  for (let i = 0; i < n; i++) {
    const head = batch[i];
    pg_flags[pfn_to_page(head)] = flags_at(head) | PG_lru;
    folio_put_refs(head, 1);
  }
}

// How many folios wait in the batch.
export function lru_batch_count(): i32 { return batch_n; }

// Whether folio head waits in the batch (folio_putback_lru() must not put
// it on the LRU before the drain does).
export function in_lru_batch(head: i32): bool {
  for (let i = 0; i < batch_n; i++) if (batch[i] == head) return true;
  return false;
}
