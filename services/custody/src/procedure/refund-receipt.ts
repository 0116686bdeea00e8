import { keyResolverFromJwkSet, verifyPayload } from '@mpay/envelope';
import { MpayError, refundReceiptContentOf } from '@mpay/protocol';
import type { CustodyContext } from '../context.ts';
import { appendInboxEvent } from './inbox.ts';
import { openRedirectData } from './step2-receive.ts';

/** The FSP's redirect of a refund receipt: one refund of one payment, the receipt encrypted to custody. */
export interface RefundReceiptRedirect {
  readonly event: 'refund-receipt';
  readonly paymentId: string;
  readonly refundId: string;
  /** The FSP's JWE of its signed refund receipt to the customer's binding's encryption key, which is custody's. */
  readonly data: string;
}

/** Oldest FSP receipt accepted: its receipt lifetime at most (the envelope's maximum), as step 10 accepts. */
const fspReceiptAgeSecondsMax = 86_400;

/**
 * A refund receipt for a custody customer (money a merchant gave back for a
 * payment custody signed): decrypted with custody's key, verified as the
 * FSP's statement addressed to the customer of that payment with the payment
 * as its transaction, and checked to be the completed refund `refundId` of
 * that payment paid to that customer (else CUSTODY_SOURCE_INVALID). A payment
 * custody holds no message of is CUSTODY_MESSAGE_UNKNOWN. The receipt is then
 * forwarded to the customer's phones (their inbox, event `refund-receipt`,
 * signed by custody as its other forwards are); the phone verifies the FSP's
 * signature again itself. A second copy of the same refund (the FSP's outbox
 * retries) changes nothing: the first is kept and the answer is the same.
 */
export async function receiveRefundReceipt(
  context: CustodyContext,
  redirect: RefundReceiptRedirect,
): Promise<void> {
  const jws = await openRedirectData(context, redirect.data);
  const { paymentId, refundId } = redirect;
  const { rows } = await context.database.query<{ party_id: string }>(
    'SELECT party_id FROM messages WHERE payment_id = $1',
    [paymentId],
  );
  const partyId = rows[0]?.party_id;
  if (partyId === undefined) throw new MpayError('CUSTODY_MESSAGE_UNKNOWN');
  const verified = await verifyPayload(
    jws,
    keyResolverFromJwkSet(context.fsp.keys),
    { issuer: context.fsp.id, audience: partyId, transactionId: paymentId },
    { maxAgeSeconds: fspReceiptAgeSecondsMax, clockSkewSeconds: context.limits.clockSkewSeconds },
  ).catch(() => {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  });
  const receipt = refundReceiptContentOf(verified.payload, { paymentId, payee: partyId });
  // The redirect names the refund the receipt is of: a receipt of another refund is not this one's.
  if (receipt?.refundId !== refundId) throw new MpayError('CUSTODY_SOURCE_INVALID');
  const now = context.clock().toISOString();
  const kept = await context.database.transaction(async (sql) => {
    const inserted = await sql.query(
      `INSERT INTO refund_receipts (refund_id, payment_id, party_id, receipt, received_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (refund_id) DO NOTHING`,
      [refundId, paymentId, partyId, jws, now],
    );
    if (inserted.rowCount !== 1) {
      const { rows: stored } = await sql.query<{ receipt: string }>(
        'SELECT receipt FROM refund_receipts WHERE refund_id = $1',
        [refundId],
      );
      return { forwarded: false, receipt: stored[0]?.receipt };
    }
    await appendInboxEvent(context, sql, partyId, {
      event: 'refund-receipt',
      transactionId: paymentId,
      paymentId,
      forward: { event: 'refund-receipt', receipt: jws },
    });
    return { forwarded: true, receipt: jws };
  });
  if (kept.forwarded) {
    context.log.info({ paymentId, refundId, partyId }, 'refund receipt validated, sent to the devices');
  } else if (kept.receipt !== jws) {
    // The FSP signed two receipts of one refund (each verified): the phones keep the first one.
    context.log.warn(
      { paymentId, refundId, partyId },
      'a second, different refund receipt: the first is kept',
    );
  }
}
