import { errorCategoryOf, isErrorCode, isMpayError } from '@mpay/protocol';

/**
 * A money order (a transfer, a bill payment) as the customer entered it and
 * the page signs it, and the request id it goes with. The bank carries out a
 * money request once per request id (the order's id), records its outcome
 * with its effect, and answers a later try with that id and the same fields
 * (signed again) that recorded outcome; a try with other fields under that id
 * is BANKING_REQUEST_REPLAYED (so is a try after the session that made it
 * ended: then the page looks for the order on the statement). So the page
 * draws one id per order entered and sends every try of that order with it. Another order (the
 * customer changed the payee, the amount or a reference) is another id. Pure:
 * the section's hook (order.ts) keeps the open order in IndexedDB.
 */

/** The order's fields as signed; `amount` is minor units as a decimal string (IndexedDB-able as is). */
export type OrderDraft =
  | {
      readonly kind: 'transfer';
      readonly payeeId: string;
      readonly amount: string;
      readonly currency: string;
      readonly reference: string;
    }
  | {
      readonly kind: 'bill_payment';
      readonly billerId: string;
      readonly customerReference: string;
      readonly amount: string;
      readonly currency: string;
    };

export type OrderKind = OrderDraft['kind'];

/**
 * An order sent at least once whose outcome the page does not know, with the
 * request id every further try of it carries. `received`: the bank said it
 * has this request id already (BANKING_REQUEST_REPLAYED).
 */
export interface OpenOrder<D extends OrderDraft = OrderDraft> {
  readonly requestId: string;
  readonly draft: D;
  readonly state: 'sent' | 'received';
}

/** Whether two drafts are the same order: every signed field equal. */
export function sameDraft(one: OrderDraft, other: OrderDraft): boolean {
  if (one.kind !== other.kind) return false;
  const keys = Object.keys(one) as (keyof OrderDraft)[];
  return (
    keys.length === Object.keys(other).length &&
    keys.every((key) => (one as Record<string, unknown>)[key] === (other as Record<string, unknown>)[key])
  );
}

/** The request id for a try of `draft`: the open order's when it is the same order, else a fresh one. */
export function requestIdFor(draft: OrderDraft, open: OpenOrder | undefined, fresh = false): string {
  return open !== undefined && !fresh && sameDraft(open.draft, draft) ? open.requestId : crypto.randomUUID();
}

/**
 * What a failed try says about the order:
 * - `received`: the bank has this request id already (BANKING_REQUEST_REPLAYED):
 *   an earlier try reached it; it was carried out then, or refused then;
 * - `refused`: the bank decided (the catalogue's `refused` category: funds,
 *   limits, the payee, the biller) and nothing moved: the next try is a new order;
 * - `unverified`: the bank answered, but its answer did not verify
 *   (BANK_ANSWER_INVALID, CRYPTO_VERIFICATION_FAILED): it may have been carried out;
 * - `unknown`: anything else: no answer (a timeout, SERVICE_UNAVAILABLE,
 *   BANK_UNAVAILABLE, a lost connection), or a refusal that does not say
 *   whether the request was claimed. Trying again with the same id is safe.
 */
export type TryOutcome = 'received' | 'refused' | 'unverified' | 'unknown';

export function outcomeOfFailure(error: unknown): TryOutcome {
  if (isMpayError(error, 'BANKING_REQUEST_REPLAYED')) return 'received';
  if (isMpayError(error, 'BANK_ANSWER_INVALID') || isMpayError(error, 'CRYPTO_VERIFICATION_FAILED'))
    return 'unverified';
  if (isMpayError(error) && isErrorCode(error.code) && errorCategoryOf(error.code) === 'refused')
    return 'refused';
  return 'unknown';
}
