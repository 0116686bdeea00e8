import {
  accountAvailable,
  accountBalance,
  pendingExpiresAt,
  pendingStateOf,
  type Transfer,
} from '@mpay/ledger';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import {
  type Direction,
  readStatement,
  type StatementEntry,
  type StatementPage,
} from '../../store/statement.ts';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { type IdParams, idParamsSchema, type StatementQuery, statementQuerySchema } from '../schemas.ts';
import { decodeStatementCursor, encodeStatementCursor } from './statement-cursor.ts';

function movementJson(transfer: Transfer, accountId: string) {
  const direction: Direction = transfer.creditAccountId === accountId ? 'credit' : 'debit';
  return {
    id: transfer.id,
    kind: transfer.kind,
    direction,
    amount: transfer.amount.toString(),
    counterpartyAccountId: direction === 'credit' ? transfer.debitAccountId : transfer.creditAccountId,
    reference: transfer.reference,
    createdAt: transfer.createdAt.toISOString(),
  };
}

function entryJson(entry: StatementEntry, accountId: string) {
  return {
    ...movementJson(entry.transfer, accountId),
    ...(entry.transfer.pendingId === undefined ? {} : { pendingId: entry.transfer.pendingId }),
    ...(entry.correction === undefined ? {} : { correction: entry.correction }),
    balanceAfter: entry.balanceAfter.toString(),
  };
}

function holdJson(hold: Transfer, accountId: string, now: Date) {
  return {
    ...movementJson(hold, accountId),
    expiresAt: pendingExpiresAt(hold).toISOString(),
    status: pendingStateOf(hold, undefined, now),
  };
}

function statementJson(page: StatementPage, now: Date) {
  const { account } = page;
  return {
    accountId: account.id,
    currency: account.ledger,
    order: 'newest_first',
    balance: accountBalance(account).toString(),
    available: accountAvailable(account).toString(),
    entries: page.entries.map((entry) => entryJson(entry, account.id)),
    ...(page.openHolds === undefined
      ? {}
      : {
          openHolds: page.openHolds.holds.map((hold) => holdJson(hold, account.id, now)),
          openHoldsTruncated: page.openHolds.truncated,
        }),
    nextCursor: page.nextBeforeSeq === undefined ? null : encodeStatementCursor(page.nextBeforeSeq),
  };
}

/**
 * GET /accounts/:id/statement?limit=N&cursor=C — what a banking app shows:
 *
 * - `entries`: the booked movements (posted transfers and posts of holds),
 *   newest first, in commit order, each with `direction`, the counterparty and
 *   `balanceAfter`, the posted balance right after it; refunds and reversals
 *   name the transfer they correct. Holds and their voids do not move the
 *   posted balance and are not entries; a post of a hold is, for the amount posted.
 * - `openHolds` (first page only, at most `limit`): holds not yet posted or
 *   voided, newest first, with `expiresAt` and `status` (`pending`, or
 *   `expired` until the expiry sweep releases it); they are what separates
 *   `available` from `balance`.
 * - `nextCursor`: pass it as `cursor` for the next, older page; null on the
 *   last. Pages do not shift when new movements arrive. `limit` is 1..200
 *   (`statementPageSizeMax`), 50 by default.
 *
 * Every page is read in one snapshot and its balances are computed from the
 * database, whatever the cursor says.
 */
export function registerStatementRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get<{ Params: IdParams; Querystring: StatementQuery }>(
    '/accounts/:id/statement',
    {
      schema: {
        ...bankDocs['GET /accounts/:id/statement'],
        params: idParamsSchema,
        querystring: statementQuerySchema,
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const pageSize = limit === undefined ? context.limits.statementPageSizeDefault : Number(limit);
      if (pageSize > context.limits.statementPageSizeMax) throw new MpayError('REQUEST_INVALID', 'limit');
      const beforeSeq = cursor === undefined ? undefined : decodeStatementCursor(cursor);
      const page = await readStatement(context.database, request.params.id, { pageSize, beforeSeq });
      return statementJson(page, context.clock());
    },
  );
}
