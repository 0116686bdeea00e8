import { type Account, type LedgerLimits, type TransferDecision, validateTransfer } from '@mpay/ledger';
import { isCurrencyCode, isMpayError, MpayError, payAckOf } from '@mpay/protocol';
import { afterCommit, commitWithLastStatements, type Database, type Sql, together } from '@mpay/storage';
import { recordMerchantConfirmation } from '../macro/merchant-confirmation.ts';
import type { BankObservations } from '../metrics.ts';
import {
  decideOnReads,
  retryOnUniqueViolation,
  type TransferReads,
  writeTransfer,
} from '../store/create-transfer.ts';
import { selectTransfersById } from '../store/transfers.ts';
import { ensureSettlementAccount } from './accounts.ts';
import { interbankCreditId, settlementAccountId } from './ids.ts';
import {
  type FundsTransfer,
  fundsTransferHash,
  signAnswer,
  type VerifiedFundsTransfer,
  verifyFundsTransfer,
} from './messages.ts';
import { lockWithPayeeAccount } from './payee.ts';
import type { Interbank } from './peers.ts';

export interface ReceiveContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly clock: () => Date;
  readonly limits: LedgerLimits;
  /** Where credits decided are counted once committed (metrics.ts); none: not counted. */
  readonly observations?: BankObservations | undefined;
}

interface Decision {
  readonly outcome: 'credited' | 'refused';
  readonly code?: string | undefined;
}

/** A decision with the payee's account it credited (undefined when none was resolved). */
interface Credit extends Decision {
  readonly creditAccountId?: string | undefined;
}

/**
 * Records the message's nonce (MESSAGE_REPLAYED when it was seen) and returns
 * the decision already taken on this peer's transfer `id`, if any, in one
 * statement. Keyed by the debtor bank as well: one peer can never take
 * another peer's id. A macro payment's order delivered before its messages
 * carried the FT has the transfer's own hash (`legacyHash`): the same request.
 * A decision committed by a concurrent delivery after this statement's
 * snapshot is not seen here; its interbank_credits row then refuses this
 * transaction's (unique violation), and the retry answers with it.
 */
async function recordNonceAndFindDecision(
  sql: Sql,
  verified: VerifiedFundsTransfer,
  hash: string,
  legacyHash: string,
): Promise<Decision | undefined> {
  const { transfer } = verified;
  const { rows } = await sql.query<{
    nonce_recorded: number;
    request_hash: string | null;
    outcome: 'credited' | 'refused' | null;
    refusal_code: string | null;
  }>(
    `WITH nonce AS (
       INSERT INTO interbank_nonces (bank, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM nonce)::integer AS nonce_recorded, c.request_hash, c.outcome, c.refusal_code
     FROM (SELECT 1) AS one
       LEFT JOIN interbank_credits AS c ON c.debtor_bank = $4 AND c.id = $5`,
    [verified.peer.id, verified.nonce, verified.expiresAt.toISOString(), transfer.debtorBank, transfer.id],
  );
  const row = rows[0];
  if (row?.nonce_recorded !== 1) throw new MpayError('MESSAGE_REPLAYED');
  if (row.request_hash === null || row.outcome === null) return undefined;
  if (row.request_hash !== hash && row.request_hash !== legacyHash)
    throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  return { outcome: row.outcome, code: row.refusal_code ?? undefined };
}

/** At most `length` UTF-16 units, never splitting a surrogate pair. */
function truncate(text: string, length: number): string {
  const cut = text.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * The net debit cap (as at a clearing house): what the peer owes this bank,
 * posted and held, may not exceed the cap after this credit. Read on the
 * settlement account as `decide` locked it (both accounts in id order, as the
 * transfer path locks them), so concurrent credits from one peer are checked
 * one after the other.
 */
function beyondNetDebitCap(
  settlement: Account,
  credit: {
    readonly amount: bigint;
    /** The peer's net debit cap; none: no cap. */
    readonly cap: bigint | undefined;
  },
): boolean {
  if (credit.cap === undefined) return false;
  const owed =
    settlement.debitsPosted + settlement.debitsPending - settlement.creditsPosted - settlement.creditsPending;
  return owed + credit.amount > credit.cap;
}

/**
 * What a credit's decision reads, in the decision's first round trip: the
 * debtor bank's settlement account (created on its first credit), the
 * payee's account with both locked in id order (`lockWithPayeeAccount`), and
 * the credit's transfer id in the ledger, read under those locks.
 */
interface CreditReads {
  readonly settlement: string;
  readonly payeeAccountId: string | undefined;
  readonly reads: TransferReads;
}

function readForCredit(
  context: ReceiveContext,
  sql: Sql,
  transfer: FundsTransfer,
  now: Date,
): Promise<CreditReads> {
  const settlement = settlementAccountId(context.interbank.self, transfer.debtorBank, transfer.currency);
  // A currency this bank keeps no accounts in (a peer of another version): no payee account can be in
  // it, and no settlement account is opened for it; `credit` refuses it (PAYEE_UNKNOWN), signed.
  if (!isCurrencyCode(transfer.currency))
    return Promise.resolve({
      settlement,
      payeeAccountId: undefined,
      reads: { locked: [], found: new Map() },
    });
  // Known to exist: no statement. Else created (or found) before the lock, in the same round trip.
  const ensured = ensureSettlementAccount(
    sql,
    context.interbank,
    transfer.debtorBank,
    transfer.currency,
    now,
  );
  const locked = lockWithPayeeAccount(sql, settlement, transfer.payeeId, transfer.currency);
  const found = selectTransfersById(sql, [interbankCreditId(transfer.debtorBank, transfer.id)]);
  return together([ensured, locked, found]).then(([, { payeeAccountId, locked: rows }, transfers]) => ({
    settlement,
    payeeAccountId,
    reads: { locked: rows, found: transfers },
  }));
}

/**
 * Decides whether to credit the payee from the debtor bank's settlement
 * account, or says why not; writes nothing (the credit's write, `ledger`,
 * leaves with the decision's record). The credit account is the one this
 * bank's records bind to the payee id (only a customer's or merchant's:
 * never the bank's own accounts), as `readForCredit` read and locked it in
 * this transaction; a payee with none in the currency is refused with
 * PAYEE_UNKNOWN.
 */
function credit(
  context: ReceiveContext,
  transfer: FundsTransfer,
  read: CreditReads,
  now: Date,
): Credit & { readonly ledger?: TransferDecision } {
  if (now.getTime() > Date.parse(transfer.deadline))
    return { outcome: 'refused', code: 'FUNDS_TRANSFER_EXPIRED' };
  const creditAccountId = read.payeeAccountId;
  if (creditAccountId === undefined) return { outcome: 'refused', code: 'PAYEE_UNKNOWN' };
  const { settlement, reads } = read;
  const settlementAccount = reads.locked.find((account) => account.id === settlement);
  if (settlementAccount === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  const peer = context.interbank.peer(transfer.debtorBank);
  const id = interbankCreditId(transfer.debtorBank, transfer.id);
  if (beyondNetDebitCap(settlementAccount, { amount: BigInt(transfer.amount), cap: peer.netDebitCap }))
    return { outcome: 'refused', code: 'LIMIT_EXCEEDED', creditAccountId };
  try {
    const request = validateTransfer(
      {
        kind: 'posted',
        id,
        debitAccountId: settlement,
        creditAccountId,
        amount: BigInt(transfer.amount),
        ledger: transfer.currency,
        reference: truncate(`from ${transfer.debtorBank}: ${transfer.reference}`, 128),
      },
      context.limits,
    );
    return { outcome: 'credited', creditAccountId, ledger: decideOnReads(request, now, reads) };
  } catch (error) {
    // Ledger answers that are a decision on the message (signed and kept), not a failure to retry.
    if (isMpayError(error) && error.category === 'refused') {
      return { outcome: 'refused', code: error.code, creditAccountId };
    }
    throw error;
  }
}

async function decide(
  context: ReceiveContext,
  verified: VerifiedFundsTransfer,
  jws: string,
): Promise<Decision> {
  const { transfer, macro } = verified;
  const hash = fundsTransferHash(transfer, macro);
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    // One round trip: the nonce with any decision taken before, then what a credit reads (read and
    // locked for nothing when a decision exists, or the transfer is refused before the ledger).
    const [existing, read] = await together([
      recordNonceAndFindDecision(sql, verified, hash, fundsTransferHash(transfer)),
      readForCredit(context, sql, transfer, now),
    ]);
    if (existing !== undefined) return existing;
    const { creditAccountId, ledger, ...decision } = credit(context, transfer, read, now);
    const confirmsToMerchant = macro !== undefined && decision.outcome === 'credited';
    // The credit's write and the decision's record leave together (the credit's first, as before).
    const credited = ledger === undefined ? Promise.resolve() : writeTransfer(sql, ledger);
    const recorded = sql.query(
      `INSERT INTO interbank_credits (id, debtor_bank, transfer_id, request_hash, outcome, refusal_code,
         payee_id, credit_account_id, amount, ledger, message, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        transfer.id,
        transfer.debtorBank,
        interbankCreditId(transfer.debtorBank, transfer.id),
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
    // The decision is the transaction's last write (one round trip less), unless a macro payment's follows.
    if (!confirmsToMerchant) commitWithLastStatements(sql, ledger?.created === true ? 2 : 1);
    await together([credited, recorded]);
    const { observations } = context;
    if (observations !== undefined) afterCommit(sql, () => observations.creditDecided(decision.outcome));
    // Step 9 of a macro payment: Pay_Confirm owed to the merchant, recorded with the credit.
    if (confirmsToMerchant) await recordMerchantConfirmation(sql, transfer, macro, now);
    return decision;
  });
}

/**
 * The merchant bank's side of an interbank payment: verify the funds-transfer
 * message (known peer, signature, audience, freshness, unseen nonce), then in
 * one transaction decide once per message id — credit the payee or refuse —
 * and answer with the decision signed. A later message with the same id and
 * fields (the client bank retrying) gets the same decision; a replayed
 * message (same nonce) is refused with MESSAGE_REPLAYED; neither moves money.
 * A macro payment's FT (seed 002 step 8) is checked to ask for exactly the
 * transfer; once credited, Pay_Confirm is owed to the merchant (step 9) and
 * the answer carries Pay_Ack (step 10), made from that FT.
 */
export async function receiveFundsTransfer(context: ReceiveContext, jws: unknown): Promise<string> {
  if (typeof jws !== 'string') throw new MpayError('REQUEST_INVALID', 'message');
  const verified = await verifyFundsTransfer(context.interbank, jws);
  const decision = await retryOnUniqueViolation(() => decide(context, verified, jws));
  const { macro } = verified;
  return signAnswer(
    context.interbank,
    verified.peer.id,
    { id: verified.transfer.id, ...decision },
    'fundsTransferAnswer',
    macro !== undefined && decision.outcome === 'credited'
      ? (expiresAt) => payAckOf(macro, expiresAt)
      : undefined,
  );
}
