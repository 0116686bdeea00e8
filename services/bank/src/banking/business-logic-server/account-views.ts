import { type Account, accountAvailable, accountBalance } from '@mpay/ledger';
import { MpayError } from '@mpay/protocol';
import { decodeStatementCursor, encodeStatementCursor } from '../../http/routes/statement-cursor.ts';
import { selectAccount } from '../../store/accounts.ts';
import { readStatement, type StatementEntry } from '../../store/statement.ts';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import {
  type BankingLineEvidence,
  bankingEvidenceOfTransfers,
} from '../transaction-log-server-client/receipts.ts';

/** Statement lines per page when the request names no page size (at most the limits' statementPageSizeMax). */
export const bankingStatementPageSizeDefault = 20;

/**
 * The account a request works on: ID_C's ACCID and no other (the
 * authentication server checked it is one the binding names). Its owner is
 * the customer, checked again here: an account nobody else's is answered
 * ACCOUNT_UNKNOWN, as an account that does not exist.
 */
function ownAccount(account: Account | undefined, opened: OpenedBankingRequest): Account {
  if (account === undefined || account.owner !== opened.partyId) throw new MpayError('ACCOUNT_UNKNOWN');
  return account;
}

/** balance → `{accountId, currency, balance, available}` of ID_C's account. */
export async function executeBalance(
  context: BankingContext,
  opened: OpenedBankingRequest,
): Promise<Readonly<Record<string, unknown>>> {
  const account = ownAccount(await selectAccount(context.database, opened.clientId.accountId), opened);
  return Object.freeze({
    accountId: account.id,
    currency: account.ledger,
    balance: accountBalance(account).toString(),
    available: accountAvailable(account).toString(),
  });
}

function lineJson(entry: StatementEntry, evidence: BankingLineEvidence | undefined) {
  const { transfer } = entry;
  return {
    transferId: transfer.id,
    direction: entry.direction,
    amount: transfer.amount.toString(),
    ...(transfer.reference === '' ? {} : { reference: transfer.reference }),
    at: transfer.createdAt.toISOString(),
    ...(evidence === undefined ? {} : { requestId: evidence.requestId }),
    ...(evidence?.receipt === undefined ? {} : { receipt: evidence.receipt }),
  };
}

function pageSizeOf(context: BankingContext, requested: number | undefined): number {
  const max = context.banking.limits.statementPageSizeMax;
  if (requested === undefined) return Math.min(bankingStatementPageSizeDefault, max);
  if (requested > max) throw new MpayError('REQUEST_INVALID', 'pageSize');
  return requested;
}

/**
 * Longest statement result, in JSON characters. The authentication server
 * signs the result (base64url: a third more) and keeps that answer in
 * banking_requests.answer, at most 262 144 characters; a line with a receipt
 * is some 3 to 5 KB, so a page of statementPageSizeMax banking lines would
 * not fit. A page that would be longer is read again with fewer lines (its
 * cursor says where the next page starts, as always).
 */
export const bankingStatementResultCharsMax = 150_000;

async function statementPage(
  context: BankingContext,
  opened: OpenedBankingRequest,
  pageSize: number,
  beforeSeq: bigint | undefined,
): Promise<Readonly<Record<string, unknown>>> {
  const page = await readStatement(context.database, opened.clientId.accountId, { pageSize, beforeSeq });
  const transfers = page.entries.map((entry) => entry.transfer);
  const evidence = await bankingEvidenceOfTransfers(context.database, opened.partyId, transfers);
  return Object.freeze({
    accountId: page.account.id,
    currency: page.account.ledger,
    balance: accountBalance(page.account).toString(),
    lines: page.entries.map((entry) => lineJson(entry, evidence.get(entry.transfer.id))),
    ...(page.nextBeforeSeq === undefined ? {} : { nextCursor: encodeStatementCursor(page.nextBeforeSeq) }),
  });
}

/**
 * statement {cursor?, pageSize?} → `{accountId, currency, balance, lines,
 * nextCursor?}`: the ledger statement of ID_C's account (store/statement.ts,
 * one snapshot, newest first; the same opaque cursor as GET
 * /accounts/:id/statement), at most pageSize lines (fewer when their
 * receipts would make the answer longer than bankingStatementResultCharsMax).
 * A line whose transfer a banking transaction of this customer made carries
 * its request id, and the log's receipt once the log has proved it.
 */
export async function executeStatement(
  context: BankingContext,
  opened: OpenedBankingRequest,
): Promise<Readonly<Record<string, unknown>>> {
  const { request } = opened;
  if (request.kind !== 'statement') throw new Error('assertion failed: a statement request');
  let pageSize = pageSizeOf(context, request.pageSize);
  const beforeSeq = request.cursor === undefined ? undefined : decodeStatementCursor(request.cursor);
  // ACCOUNT_UNKNOWN before reading anything of an account that is not the customer's.
  ownAccount(await selectAccount(context.database, opened.clientId.accountId), opened);
  for (;;) {
    const result = await statementPage(context, opened, pageSize, beforeSeq);
    const length = JSON.stringify(result).length;
    if (length <= bankingStatementResultCharsMax || pageSize === 1) return result;
    // Fewer lines in proportion, at least one fewer: ends after a few reads (pageSize ≤ 500).
    pageSize = Math.max(
      1,
      Math.min(pageSize - 1, Math.floor((pageSize * bankingStatementResultCharsMax) / length)),
    );
  }
}
