import type { Sql } from '@mpay/storage';
import { type DeliveredRow, observeDeliveredAfterCommit, type PaymentObservations } from './statistics.ts';

/** Cancellations waiting for their statement, at most; beyond, a cancellation is dropped (its push goes out). */
export const receiptCancellationsWaitingMax = 10_000;

/**
 * The receipt pushes to cancel because the confirmation's answer carried the
 * receipt (confirm.ts's receiptAnswerDelivered), written together: those that
 * arrive while one statement is on its way go in the next, so that under load
 * many payments share one statement, and alone one waits for nothing. A
 * cancellation lost with the process, dropped beyond
 * receiptCancellationsWaitingMax, or whose statement failed only lets the push
 * go out after its grace: a receipt the device already holds, which it takes
 * twice without harm.
 */
export class ReceiptPushCancellations {
  readonly #write: (paymentIds: readonly string[]) => Promise<void>;
  readonly #onFailed: (error: unknown, cancellations: number) => void;
  readonly #batchMax: number;
  #waiting: string[] = [];
  #running: Promise<void> | undefined;
  /** Dropped since the start because too many waited (metrics: mpay_gateway_receipt_cancellations_dropped_total). */
  dropped = 0;

  /** Cancellations waiting for their statement now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  constructor(options: {
    readonly write: (paymentIds: readonly string[]) => Promise<void>;
    readonly onFailed: (error: unknown, cancellations: number) => void;
    readonly batchMax: number;
  }) {
    this.#write = options.write;
    this.#onFailed = options.onFailed;
    this.#batchMax = options.batchMax;
  }

  cancel(paymentId: string): void {
    if (this.#waiting.length >= receiptCancellationsWaitingMax) {
      this.dropped += 1;
      return;
    }
    this.#waiting.push(paymentId);
    this.#running ??= this.#drain();
  }

  /** Resolves once every cancellation asked so far was written (or failed). */
  async drained(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #drain(): Promise<void> {
    // Nothing before `#running` holds this drain: a write that throws at once would otherwise end it
    // before `cancel` stores it, and leave a settled promise there that no later cancellation replaces.
    await Promise.resolve();
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, this.#batchMax);
        try {
          await this.#write(batch);
        } catch (error) {
          this.#onFailed(error, batch.length);
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}

/**
 * The statement: the receipt pushes of `paymentIds` still waiting, marked
 * delivered at `now` (the receipt reached the device in the confirmation's
 * answer), and counted so for the metrics with `observations`.
 */
export async function cancelReceiptPushes(
  sql: Sql,
  paymentIds: readonly string[],
  now: Date,
  observations?: PaymentObservations,
): Promise<void> {
  const { rows } = await sql.query<DeliveredRow>(
    `UPDATE outbox SET delivered_at = $2
     WHERE payment_id = ANY($1::text[]) AND kind = 'device_push' AND payload = $3
       AND delivered_at IS NULL AND abandoned_at IS NULL
     RETURNING kind, created_at`,
    [paymentIds, now.toISOString(), JSON.stringify({ event: 'receipt' })],
  );
  observeDeliveredAfterCommit(sql, observations, rows, now);
}
