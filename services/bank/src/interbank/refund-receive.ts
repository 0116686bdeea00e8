import { validateTransfer } from '@mpay/ledger';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { lockAccounts } from '../store/accounts.ts';
import { createTransferInTransaction, retryOnUniqueViolation } from '../store/create-transfer.ts';
import { ensureSettlementAccount } from './accounts.ts';
import { selectOrder } from './orders-store.ts';
import type { ReceiveContext } from './receive.ts';
import { refundCreditId } from './refund-ids.ts';
import {
  type RefundTransfer,
  refundTransferHash,
  signRefundAnswer,
  type VerifiedRefundTransfer,
  verifyRefundTransfer,
} from './refund-messages.ts';

interface Decision {
  readonly outcome: 'credited' | 'refused';
  readonly code?: string | undefined;
}

interface Credit extends Decision {
  readonly creditAccountId?: string | undefined;
}

async function recordNonce(sql: Sql, verified: VerifiedRefundTransfer): Promise<void> {
  const inserted = await sql.query(
    'INSERT INTO interbank_nonces (bank, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [verified.peer.id, verified.nonce, verified.expiresAt.toISOString()],
  );
  if (inserted.rowCount !== 1) throw new MpayError('MESSAGE_REPLAYED');
}

async function existingDecision(
  sql: Sql,
  transfer: RefundTransfer,
  hash: string,
): Promise<Decision | undefined> {
  const { rows } = await sql.query<{
    request_hash: string;
    outcome: 'credited' | 'refused';
    refusal_code: string | null;
  }>('SELECT request_hash, outcome, refusal_code FROM refund_credits WHERE debtor_bank = $1 AND id = $2', [
    transfer.debtorBank,
    transfer.id,
  ]);
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.request_hash !== hash) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  return { outcome: row.outcome, code: row.refusal_code ?? undefined };
}

async function creditedSoFar(sql: Sql, debtorBank: string, originalOrderId: string): Promise<bigint> {
  const { rows } = await sql.query<{ amount: string }>(
    `SELECT COALESCE(sum(amount), 0)::text AS amount FROM refund_credits
     WHERE debtor_bank = $1 AND original_order_id = $2 AND outcome = 'credited'`,
    [debtorBank, originalOrderId],
  );
  return BigInt(rows[0]?.amount ?? '0');
}

/** At most `length` UTF-16 units, never splitting a surrogate pair. */
function truncate(text: string, length: number): string {
  const cut = text.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Credits the customer from the merchant's bank's settlement account, or says
 * why not. The original order must be one this bank placed and completed
 * towards that very bank, paying that merchant, by that customer, in that
 * currency (locked for the rest of the transaction); the account credited is
 * the one this bank debited for it, whatever the message says; all refunds
 * credited for it stay within its amount. As for any credit from the peer,
 * the net debit cap applies.
 */
async function credit(
  context: ReceiveContext,
  sql: Sql,
  transfer: RefundTransfer,
  now: Date,
): Promise<Credit> {
  if (now.getTime() > Date.parse(transfer.deadline))
    return { outcome: 'refused', code: 'FUNDS_TRANSFER_EXPIRED' };
  const order = await selectOrder(sql, transfer.originalOrderId, true);
  if (
    order === undefined ||
    order.state !== 'completed' ||
    order.creditorBank !== transfer.debtorBank ||
    order.payeeId !== transfer.payerId ||
    order.payerId !== transfer.payeeId ||
    order.ledger !== transfer.currency
  ) {
    return { outcome: 'refused', code: 'REFUND_ORIGINAL_UNKNOWN' };
  }
  const amount = BigInt(transfer.amount);
  if ((await creditedSoFar(sql, transfer.debtorBank, order.id)) + amount > order.amount) {
    return { outcome: 'refused', code: 'REFUND_EXCEEDS_ORIGINAL', creditAccountId: order.debitAccountId };
  }
  const creditAccountId = order.debitAccountId;
  const settlement = await ensureSettlementAccount(
    sql,
    context.interbank,
    transfer.debtorBank,
    transfer.currency,
    now,
  );
  const locked = await lockAccounts(sql, settlement, creditAccountId);
  const { debit } = locked;
  const cap = context.interbank.peer(transfer.debtorBank).netDebitCap;
  const owed = debit.debitsPosted + debit.debitsPending - debit.creditsPosted - debit.creditsPending;
  if (cap !== undefined && owed + amount > cap)
    return { outcome: 'refused', code: 'LIMIT_EXCEEDED', creditAccountId };
  try {
    const request = validateTransfer(
      {
        kind: 'posted',
        id: refundCreditId(transfer.debtorBank, transfer.id),
        debitAccountId: settlement,
        creditAccountId,
        amount,
        ledger: transfer.currency,
        reference: truncate(`refund from ${transfer.debtorBank}: ${transfer.reference}`, 128),
      },
      context.limits,
    );
    await createTransferInTransaction(sql, request, now, { locked });
    return { outcome: 'credited', creditAccountId };
  } catch (error) {
    // Ledger answers that are a decision on the message (signed and kept), not a failure to retry.
    if (isMpayError(error) && error.category === 'refused')
      return { outcome: 'refused', code: error.code, creditAccountId };
    throw error;
  }
}

async function decide(
  context: ReceiveContext,
  verified: VerifiedRefundTransfer,
  jws: string,
): Promise<Decision> {
  const { transfer } = verified;
  const hash = refundTransferHash(transfer);
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    await recordNonce(sql, verified);
    const existing = await existingDecision(sql, transfer, hash);
    if (existing !== undefined) return existing;
    const { creditAccountId, ...decision } = await credit(context, sql, transfer, now);
    await sql.query(
      `INSERT INTO refund_credits (id, debtor_bank, original_order_id, transfer_id, request_hash, outcome,
         refusal_code, payee_id, credit_account_id, amount, ledger, message, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        transfer.id,
        transfer.debtorBank,
        transfer.originalOrderId,
        refundCreditId(transfer.debtorBank, transfer.id),
        hash,
        decision.outcome,
        decision.code ?? null,
        transfer.payeeId,
        creditAccountId ?? null,
        transfer.amount,
        transfer.currency,
        jws,
        now.toISOString(),
      ],
    );
    return decision;
  });
}

/**
 * The customer's bank's side of a refund (macro steps 8–10 the other way):
 * verify the refund-transfer message (known peer, signature, audience,
 * freshness, unseen nonce), then in one transaction decide once per refund
 * id — credit the customer of the original order or refuse — and answer with
 * the decision signed. The same message again (the merchant's bank retrying)
 * gets the same decision; a replayed message (same nonce) is refused with
 * MESSAGE_REPLAYED; neither moves money.
 */
export async function receiveRefundTransfer(context: ReceiveContext, jws: unknown): Promise<string> {
  if (typeof jws !== 'string') throw new MpayError('REQUEST_INVALID', 'message');
  const verified = await verifyRefundTransfer(context.interbank, jws);
  const decision = await retryOnUniqueViolation(() => decide(context, verified, jws));
  return signRefundAnswer(context.interbank, verified.peer.id, { id: verified.transfer.id, ...decision });
}
