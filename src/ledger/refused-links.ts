/**
 * Receipts the log refused for their chain link (CHAIN_BROKEN), remembered so that the ones a
 * writer goes on chaining after them need no confirmation of their own.
 *
 * A chain-link refusal depends on reads (the chain's head), so the integrator quarantines it
 * only once fresh reads still refuse it some seconds later (integrator.ts, confirmRefusals). A
 * writer whose chain broke goes on from its own last receipt, so every receipt after the first
 * refused one fails its link too, and each new batch of them waited out the confirmation again:
 * one broken chain slowed the whole ledger to a batch per confirmation. A receipt whose `prev`
 * is a refused receipt cannot link whatever the reads say: a refused receipt is no leaf, and a
 * chain's head always is one. Nor can a copy of a refused receipt that is not ahead of its
 * chain's head: anyone who may publish on the receipts subjects can store such copies, and each
 * one held the whole ledger back a confirmation (integrate.ts, `unlinkable`).
 */

/** Refused receipts remembered, at most: the oldest are forgotten first (their followers then wait once more). */
export const MAX_REFUSED_LINKS = 4096;

export class RefusedLinks {
  private readonly ids = new Set<string>();

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Receipts a committed batch quarantined for their chain link. */
  refused(ids: Iterable<string>): void {
    for (const id of ids) {
      this.ids.delete(id);
      this.ids.add(id);
      if (this.ids.size > MAX_REFUSED_LINKS) this.ids.delete(this.ids.values().next().value!);
    }
  }

  /** Forget them all (another ledger wrote meanwhile: one may be a leaf now). */
  clear(): void {
    this.ids.clear();
  }

  /** Receipts a committed batch made leaves (one refused before may be stored again and link now). */
  integrated(ids: Iterable<string>): void {
    for (const id of ids) this.ids.delete(id);
  }
}
