import { signPayload } from '@mpay/envelope';
import { assert } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { type BankingTransactionKind, insertBankingTransaction } from './store.ts';

/**
 * How long the bank's signed record of a banking transaction verifies: the
 * longest lifetime signPayload allows (packages/envelope maxAgeSecondsLimit,
 * 86 400 s). The record is evidence for far longer than that; what keeps it
 * so is the log, not its exp: the log's receipt proves the record existed,
 * under a checkpoint cosigned by the witness, and whoever checks it later
 * verifies the signature against the bank's published key and reads iat
 * rather than rejecting it for an exp long past.
 */
export const bankingRecordLifetimeSeconds = 86_400;

/** What a banking transaction did, as the bank records it. */
export interface BankingTransactionFacts {
  readonly kind: BankingTransactionKind;
  /** The ledger transfer (= payment order id) it made, when it moved money. */
  readonly transferId?: string | undefined;
  /** JSON facts of the transaction (amounts as decimal text of minor units); never requestId, kind, partyId, clientId. */
  readonly facts: Readonly<Record<string, unknown>>;
}

/** The bank's record of a banking transaction: what it signed and stored. */
export interface RecordedBankingTransaction {
  readonly id: string;
  /** The bank's JWS over `{ bankingTransaction }` (iss bank, aud party, txn request id). */
  readonly record: string;
  /** [the device's JWS, the bank's record], as stored and logged. */
  readonly messages: readonly string[];
}

const reservedFacts = ['requestId', 'kind', 'partyId', 'clientId'] as const;

/**
 * Records one banking transaction in the transaction of its effect (the
 * debit, the revocation, the renewal), so that it commits with it or not at
 * all: the bank signs `{ bankingTransaction: { requestId, kind, partyId,
 * clientId, ...facts } }` (iss the bank, aud the customer, txn the request
 * id) and stores one banking_transactions row whose messages are the
 * device's signed request as received and that record. The worker submits it
 * to the third-party log (submit.ts): together the two signatures are the
 * non-repudiation evidence of seed 003 §4.2, the customer's consent and the
 * bank's account of what it did with it.
 */
export async function recordBankingTransaction(
  sql: Sql,
  context: BankingContext,
  opened: OpenedBankingRequest,
  transaction: BankingTransactionFacts,
  now: Date,
): Promise<RecordedBankingTransaction> {
  for (const name of reservedFacts) {
    assert(!Object.hasOwn(transaction.facts, name), `a banking transaction's facts do not set ${name}`);
  }
  assert(opened.request.kind === transaction.kind, 'a banking transaction is of its request’s kind');
  const bankingTransaction = {
    requestId: opened.requestId,
    kind: transaction.kind,
    partyId: opened.partyId,
    clientId: { ...opened.clientId },
    ...transaction.facts,
  };
  const record = await signPayload(
    { bankingTransaction },
    {
      issuer: context.bank.id,
      audience: opened.partyId,
      transactionId: opened.requestId,
      expiresInSeconds: bankingRecordLifetimeSeconds,
      now: () => now.getTime(),
    },
    context.bank.signingKey,
  );
  const messages = Object.freeze([opened.jws, record]);
  await insertBankingTransaction(
    sql,
    {
      id: opened.requestId,
      partyId: opened.partyId,
      kind: transaction.kind,
      transferId: transaction.transferId ?? null,
      messages,
    },
    now,
  );
  return { id: opened.requestId, record, messages };
}
