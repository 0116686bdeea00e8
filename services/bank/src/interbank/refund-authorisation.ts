import { type KeyBinding, verifyKeyBinding, verifyPayload } from '@mpay/envelope';
import { createAmount, isMpayError, merchantRefundContent, signedContentMatches } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { selectKeyBindingByKid } from '../key-depository/store.ts';
import type { ConsentContext } from './authorisation.ts';
import { OrderRefusal } from './refusal.ts';

/** What the merchant's signature must name: the refund as the FSP ordered it. */
export interface RefundToAuthorise {
  readonly id: string;
  readonly originalOrderId: string;
  readonly payerId: string;
  readonly payeeId: string;
  readonly amount: bigint;
  readonly currency: string;
  /** The merchant's compact JWS over merchantRefundContent. */
  readonly authorisation: string;
}

export interface VerifiedRefundAuthorisation {
  readonly serial: string;
  readonly binding: KeyBinding;
}

function reasonOf(error: unknown): string {
  return isMpayError(error)
    ? `${error.code}${error.detail === undefined ? '' : ` ${error.detail}`}`
    : 'error';
}

function refuse(reason: string): OrderRefusal {
  return new OrderRefusal('REFUND_AUTHORISATION_INVALID', reason);
}

/**
 * The binding of the signing key (by the signature's kid, which says nothing
 * until the signature verifies under the key found here), as this bank
 * issued it: its own signature, active now, not revoked. The row stays
 * locked until the refund order commits, so a revocation cannot commit in
 * between (as for a customer's payment order).
 */
async function bindingOf(
  sql: Sql,
  context: ConsentContext,
  kid: string,
  now: Date,
): Promise<VerifiedRefundAuthorisation> {
  const record = await selectKeyBindingByKid(sql, kid, true);
  if (record === undefined) throw refuse(`key ${kid} is not bound at this bank`);
  try {
    const binding = await verifyKeyBinding(record.binding, (bankKid) => context.bank.resolveKey(bankKid), {
      isRevoked: () => record.revocation !== undefined,
      issuer: context.bank.id,
      clockSkewSeconds: 0,
      now: () => now.getTime(),
    });
    return { serial: record.serial, binding };
  } catch (error) {
    throw refuse(`binding ${record.serial}: ${reasonOf(error)}`);
  }
}

/**
 * The rule everything serves, for the merchant's account: no refund debits
 * it unless the merchant's own signature over that exact refund verifies
 * here, under a key this bank bound to the merchant. Checks: the signature
 * under the key of an active binding of this bank's depository (found by the
 * signature's kid), issued by the merchant, addressed to the FSP that orders
 * (`orderedBy`), for this refund id, short-lived and not expired now; the
 * binding's subject is the merchant; the signed content is exactly
 * merchantRefundContent of the order (refund, payment, merchant, customer,
 * amount and currency). Which account the binding must name is known only
 * once the original credit is found: the caller checks `binding.accounts`.
 * Any failure is REFUND_AUTHORISATION_INVALID (an OrderRefusal whose reason
 * goes to the bank's log, never to the FSP).
 */
export async function verifyMerchantRefundAuthorisation(
  sql: Sql,
  context: ConsentContext,
  order: RefundToAuthorise,
  orderedBy: string,
  now: Date,
): Promise<VerifiedRefundAuthorisation> {
  let bound: VerifiedRefundAuthorisation | undefined;
  let payload: Readonly<Record<string, unknown>>;
  try {
    ({ payload } = await verifyPayload(
      order.authorisation,
      async (kid) => {
        bound = await bindingOf(sql, context, kid, now);
        return bound.binding.signingJwk;
      },
      { audience: orderedBy, issuer: order.payerId, transactionId: order.id },
      {
        maxAgeSeconds: context.limits.customerAuthorisationLifetimeSecondsMax,
        clockSkewSeconds: context.limits.customerAuthorisationClockSkewSeconds,
        now: () => now.getTime(),
      },
    ));
  } catch (error) {
    if (error instanceof OrderRefusal) throw error;
    throw refuse(
      `signature${bound === undefined ? '' : ` under binding ${bound.serial}`}: ${reasonOf(error)}`,
    );
  }
  if (bound === undefined) throw new Error('assertion failed: a verified signature has its binding');
  if (bound.binding.subject !== order.payerId) throw refuse(`binding ${bound.serial} is of another party`);
  let expected: ReturnType<typeof merchantRefundContent>;
  try {
    expected = merchantRefundContent({
      refundId: order.id,
      paymentId: order.originalOrderId,
      merchantId: order.payerId,
      customerId: order.payeeId,
      amount: createAmount(order.currency, order.amount),
    });
  } catch (error) {
    throw refuse(`order: ${reasonOf(error)}`);
  }
  if (!signedContentMatches(payload, expected)) throw refuse('signed content differs from the order');
  return bound;
}
