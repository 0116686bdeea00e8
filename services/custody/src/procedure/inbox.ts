import { signPayload } from '@mpay/envelope';
import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';

export type InboxEventKind = 'payment-request' | 'receipt' | 'outcome' | 'alert' | 'refund-receipt';

/** What custody forwards to a customer's phones: signed by custody, so the phone can check the source (step 3). */
export interface ForwardContent {
  readonly event: InboxEventKind;
  readonly ims?: unknown;
  /** The FSP's certificate of the merchant's keys: it carries the merchant's name the phone shows. */
  readonly merchantCertificate?: string;
  /** The FSP's signed receipt (of the payment, or for `refund-receipt` of one of its refunds), as the FSP signed it. */
  readonly receipt?: string;
  readonly outcome?: string;
  readonly alert?: { readonly reason: string; readonly at: string };
}

/** Custody's signed forward (compact JWS): issuer custody, audience the customer, txn the payment or alert. */
export async function signForward(
  context: CustodyContext,
  partyId: string,
  transactionId: string,
  forward: ForwardContent,
): Promise<string> {
  return signPayload(
    { forward },
    {
      issuer: context.custody.id,
      audience: partyId,
      transactionId,
      expiresInSeconds: context.limits.forwardLifetimeSeconds,
    },
    context.custody.signing.privateJwk,
  );
}

/** Appends one event to the customer's inbox (every phone of the customer reads it) in the caller's transaction. */
export async function appendInboxEvent(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  event: {
    event: InboxEventKind;
    transactionId: string;
    paymentId?: string;
    forward: ForwardContent | string;
  },
): Promise<string> {
  const forward =
    typeof event.forward === 'string'
      ? event.forward
      : await signForward(context, partyId, event.transactionId, event.forward);
  await sql.query(
    'INSERT INTO inbox (party_id, event, payment_id, forward, created_at) VALUES ($1, $2, $3, $4, $5)',
    [partyId, event.event, event.paymentId ?? null, forward, context.clock().toISOString()],
  );
  context.notifyInbox(partyId);
  return forward;
}

export interface InboxEvent {
  readonly cursor: string;
  readonly event: InboxEventKind;
  readonly paymentId?: string;
  readonly forward: string;
}

/** One page of a customer's inbox after a cursor, oldest first. */
export async function inboxPage(
  context: CustodyContext,
  partyId: string,
  after: bigint,
): Promise<InboxEvent[]> {
  const { rows } = await context.database.query<{
    id: string;
    event: InboxEventKind;
    payment_id: string | null;
    forward: string;
  }>(
    `SELECT id::text AS id, event, payment_id, forward FROM inbox
     WHERE party_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [partyId, after.toString(), context.limits.inboxPageSize],
  );
  return rows.map((row) => ({
    cursor: row.id,
    event: row.event,
    ...(row.payment_id === null ? {} : { paymentId: row.payment_id }),
    forward: row.forward,
  }));
}
