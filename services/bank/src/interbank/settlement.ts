import { createHash } from 'node:crypto';
import { validateTransfer } from '@mpay/ledger';
import { canonicalize, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import { lockAccounts } from '../store/accounts.ts';
import { createTransferInTransaction } from '../store/create-transfer.ts';
import { ensureReserveAccount } from './accounts.ts';
import { derivedId, settlementAccountId } from './ids.ts';
import { type InFlight, selectInFlight } from './orders-store.ts';
import type { Interbank } from './peers.ts';

/** What this bank and one peer owe each other in one currency, from this bank's books. */
export interface SettlementPosition {
  readonly peer: string;
  readonly currency: string;
  /** Posted: positive when this bank owes the peer, negative when the peer owes this bank. */
  readonly net: bigint;
  /** Holds towards the peer not yet posted (interbank payments being delivered). */
  readonly pending: bigint;
  /** Payment orders to the peer still being delivered. */
  readonly inFlight: { readonly count: number; readonly amount: bigint; readonly overdue: number };
}

interface BalanceRow {
  owner: string;
  ledger: string;
  net: string;
  pending: string;
}

/** Positions and orders in flight from one snapshot (REPEATABLE READ), so the two agree with each other. */
export function settlementPositions(
  database: Database,
  interbank: Interbank,
  now: Date,
): Promise<SettlementPosition[]> {
  return database.transaction(async (sql) => {
    await sql.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    return positionsIn(sql, interbank, now);
  });
}

/** An order still unanswered this long after its deadline needs an operator. */
const overdueAfterDeadlineMs = 5 * 60_000;

async function positionsIn(sql: Sql, interbank: Interbank, now: Date): Promise<SettlementPosition[]> {
  const { rows } = await sql.query<BalanceRow>(
    `SELECT owner, ledger, (credits_posted - debits_posted)::text AS net,
       (credits_pending - debits_pending)::text AS pending
     FROM accounts WHERE kind = 'settlement' ORDER BY owner, ledger`,
  );
  const inFlight = await selectInFlight(sql, new Date(now.getTime() - overdueAfterDeadlineMs));
  const find = (peer: string, ledger: string): InFlight | undefined =>
    inFlight.find((entry) => entry.creditorBank === peer && entry.ledger === ledger);
  return rows
    .filter((row) => interbank.peers.some((peer) => peer.id === row.owner))
    .map((row) => ({
      peer: row.owner,
      currency: row.ledger,
      net: BigInt(row.net),
      pending: BigInt(row.pending),
      inFlight: {
        count: find(row.owner, row.ledger)?.count ?? 0,
        amount: find(row.owner, row.ledger)?.amount ?? 0n,
        overdue: find(row.owner, row.ledger)?.overdue ?? 0,
      },
    }));
}

/** A settlement run's booking at one bank: `amount` > 0 pays the peer, < 0 is paid by the peer. */
export interface SettlementInput {
  readonly id: string;
  readonly peer: string;
  readonly currency: string;
  readonly amount: bigint;
}

export interface SettlementContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly limits: BankLimits;
}

function hashOf(input: SettlementInput): string {
  return createHash('sha256')
    .update(canonicalize({ ...input, amount: input.amount.toString() }))
    .digest('hex');
}

/**
 * Books a settlement run (paid through the central bank, outside this ledger):
 * the settlement account of the peer against this bank's reserve account. The
 * run id is the idempotency key; the same id with other fields is refused.
 */
export async function bookSettlement(
  context: SettlementContext,
  input: SettlementInput,
  now: Date,
): Promise<{ transferId: string; created: boolean }> {
  const { self } = context.interbank;
  const peer = context.interbank.peer(input.peer).id;
  if (input.amount === 0n) throw new MpayError('AMOUNT_INVALID');
  const hash = hashOf(input);
  const transferId = derivedId('settlement', input.id, self);
  return context.database.transaction(async (sql) => {
    const { rows } = await sql.query<{ request_hash: string }>(
      'SELECT request_hash FROM settlements WHERE id = $1',
      [input.id],
    );
    if (rows[0] !== undefined) {
      if (rows[0].request_hash !== hash) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
      return { transferId, created: false };
    }
    const reserve = await ensureReserveAccount(sql, self, input.currency, now);
    const settlement = settlementAccountId(self, peer, input.currency);
    const pays = input.amount > 0n;
    // Never settle more than is owed, in the direction it is owed: a second run for the same position is refused.
    const { debit, credit } = await lockAccounts(
      sql,
      pays ? settlement : reserve,
      pays ? reserve : settlement,
    );
    const position = pays ? debit : credit;
    const net = position.creditsPosted - position.debitsPosted;
    if (pays ? input.amount > net : -input.amount > -net) throw new MpayError('SETTLEMENT_EXCEEDS_POSITION');
    const request = validateTransfer(
      {
        kind: 'posted',
        id: transferId,
        debitAccountId: pays ? settlement : reserve,
        creditAccountId: pays ? reserve : settlement,
        amount: pays ? input.amount : -input.amount,
        ledger: input.currency,
        reference: `settlement ${input.id} with ${peer}`,
      },
      context.limits,
    );
    await createTransferInTransaction(sql, request, now);
    await sql.query(
      `INSERT INTO settlements (id, request_hash, peer, ledger, amount, transfer_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [input.id, hash, peer, input.currency, input.amount, transferId, now.toISOString()],
    );
    return { transferId, created: true };
  });
}
