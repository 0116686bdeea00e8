import { keyResolverFromJwkSet, verifyPayload } from '@mpay/envelope';
import { type CustodyMessageState, isMpayError, MpayError, stepCustodyMessage } from '@mpay/protocol';
import { afterCommit } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { appendInboxEvent } from './inbox.ts';

/**
 * Step 10 at custody (and the other outcomes): the FSP's signed receipt or
 * outcome for a message custody holds, verified as the FSP's, addressed to
 * the customer, for this payment; the message moves on by the step table and
 * the receipt goes to the customer's phones. A second copy (the FSP pushes it
 * and also answers step 6 with it) changes nothing.
 */
export async function applyFspAnswer(
  context: CustodyContext,
  paymentId: string,
  kind: 'receipt' | 'outcome',
  jws: string,
): Promise<void> {
  const { rows } = await context.database.query<{ party_id: string }>(
    'SELECT party_id FROM messages WHERE payment_id = $1',
    [paymentId],
  );
  const partyId = rows[0]?.party_id;
  if (partyId === undefined) throw new MpayError('CUSTODY_MESSAGE_UNKNOWN');
  await verifyPayload(
    jws,
    keyResolverFromJwkSet(context.fsp.keys),
    { issuer: context.fsp.id, audience: partyId, transactionId: paymentId },
    { maxAgeSeconds: 86_400, clockSkewSeconds: context.limits.clockSkewSeconds },
  ).catch(() => {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  });
  await context.database.transaction(async (sql) => {
    const { rows: locked } = await sql.query<{ state: CustodyMessageState }>(
      'SELECT state FROM messages WHERE payment_id = $1 FOR UPDATE',
      [paymentId],
    );
    const state = locked[0]?.state;
    if (state === undefined) return;
    let transition: ReturnType<typeof stepCustodyMessage>;
    try {
      transition = stepCustodyMessage(state, kind === 'receipt' ? 'fsp_receipt' : 'fsp_outcome');
    } catch (error) {
      if (isMpayError(error, 'PAYMENT_STATE_INVALID')) return;
      throw error;
    }
    const now = context.clock().toISOString();
    await sql.query(
      `UPDATE messages SET state = $2, receipt = CASE WHEN $3 THEN $4 ELSE receipt END, updated_at = $5
       WHERE payment_id = $1`,
      [paymentId, transition.to, kind === 'receipt', jws, now],
    );
    const { observations } = context;
    if (observations !== undefined) afterCommit(sql, () => observations.messageEntered(transition.to));
    await appendInboxEvent(context, sql, partyId, {
      event: kind,
      transactionId: paymentId,
      paymentId,
      forward: kind === 'receipt' ? { event: 'receipt', receipt: jws } : { event: 'outcome', outcome: jws },
    });
  });
}
