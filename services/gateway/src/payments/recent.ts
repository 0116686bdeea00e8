import type { Payment } from './store.ts';

/**
 * Payment requests this instance committed a moment ago, by id, as their
 * step left them: the customer's confirmation, which follows within about a
 * second when the device holds the key, is checked against that payment
 * without reading it back and parsing its message again. What the check
 * relies on is checked again under the row's lock (store.ts's lockPayment:
 * the version, the parties' names and banks), so an entry that another step
 * or instance made stale costs a read there, never a wrong answer.
 * First in, first out, at most `entriesMax`; an entry is forgotten once a
 * confirmation of its payment verified (a second one reads the payment as it
 * stands).
 */
export class RecentPayments {
  readonly #entries = new Map<string, Payment>();
  readonly #entriesMax: number;

  constructor(entriesMax: number) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1)
      throw new Error('recent payments: entriesMax must be a positive integer');
    this.#entriesMax = entriesMax;
  }

  /** After the commit that wrote it: the payment as that step left it. */
  remember(payment: Payment): void {
    this.#entries.delete(payment.id);
    this.#entries.set(payment.id, payment);
    if (this.#entries.size > this.#entriesMax) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  /** The payment remembered under `id`; undefined when none is (the caller reads it). */
  get(id: string): Payment | undefined {
    return this.#entries.get(id);
  }

  /**
   * Once a confirmation of the payment verified: its next one reads the
   * payment as it stands. (A confirmation that does not verify, anyone's,
   * leaves the entry for the customer's own.)
   */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }
}
