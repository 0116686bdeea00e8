import { type Transfer, validateTransfer } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import {
  type CorrectedSoFar,
  type Correction,
  type CorrectionKind,
  type CorrectionRequest,
  checkCorrectable,
  compareCorrection,
  correctionAmount,
  correctionMovement,
} from '../corrections/correction.ts';
import type { BankLimits } from '../limits.ts';
import { lockAccounts } from './accounts.ts';
import { createTransferInTransaction, retryOnUniqueViolation } from './create-transfer.ts';
import { type TransferRow, transferColumns, transferFromRow } from './rows.ts';
import { selectTransfer } from './transfers.ts';

export interface CorrectionOutcome extends Correction {
  /** false when this correction already existed (an idempotent retry). */
  readonly created: boolean;
}

export interface CorrectionsOf {
  readonly original: Transfer;
  /** The sum of the corrections so far; original amount − corrected is what can still be refunded. */
  readonly corrected: bigint;
  readonly corrections: readonly Correction[];
}

interface CorrectionRow extends TransferRow {
  correction_kind: CorrectionKind;
  correction_original_id: string;
}

async function selectStoredCorrection(sql: Sql, transferId: string) {
  const { rows } = await sql.query<{ kind: CorrectionKind; original_id: string }>(
    'SELECT kind, original_id::text AS original_id FROM corrections WHERE transfer_id = $1',
    [transferId],
  );
  return rows[0] === undefined ? undefined : { kind: rows[0].kind, originalId: rows[0].original_id };
}

async function selectCorrectedSoFar(sql: Sql, originalId: string): Promise<CorrectedSoFar> {
  const { rows } = await sql.query<{ count: string; amount: string }>(
    `SELECT count(*)::text AS count, COALESCE(sum(t.amount), 0)::text AS amount
     FROM corrections AS c JOIN transfers AS t ON t.id = c.transfer_id WHERE c.original_id = $1`,
    [originalId],
  );
  return { count: Number(rows[0]?.count ?? '0'), amount: BigInt(rows[0]?.amount ?? '0') };
}

/**
 * One correction in the caller's transaction. The original's two accounts
 * are locked first (in id order, as create-transfer.ts does, so the locks it
 * takes again are already held): every correction of one original, and every
 * retry of one correction id, runs one at a time, so the sum read here is
 * the sum the new transfer adds to.
 */
export async function correctInTransaction(
  sql: Sql,
  request: CorrectionRequest,
  now: Date,
  limits: BankLimits,
): Promise<CorrectionOutcome> {
  const original = await selectTransfer(sql, request.originalId);
  if (original === undefined) throw new MpayError('TRANSFER_UNKNOWN');
  checkCorrectable(original);
  await lockAccounts(sql, original.debitAccountId, original.creditAccountId);
  const existing = await selectTransfer(sql, request.id);
  if (existing !== undefined) {
    const stored = await selectStoredCorrection(sql, request.id);
    return { ...compareCorrection(existing, stored, request), created: false };
  }
  const corrected = await selectCorrectedSoFar(sql, original.id);
  const amount = correctionAmount(original, corrected, request, limits.correctionsPerTransferMax);
  const transferRequest = validateTransfer(
    { id: request.id, kind: 'posted', ...correctionMovement(original, amount), reference: request.reference },
    limits,
  );
  const outcome = await createTransferInTransaction(sql, transferRequest, now);
  // Another path wrote a plain transfer with this id and these very fields: it corrects nothing.
  if (!outcome.created) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', 'kind');
  await sql.query(
    'INSERT INTO corrections (transfer_id, original_id, kind, created_at) VALUES ($1, $2, $3, $4)',
    [request.id, original.id, request.kind, now.toISOString()],
  );
  return { kind: request.kind, originalId: original.id, transfer: outcome.transfer, created: true };
}

/**
 * Refunds or reverses a posted transfer with a new posted transfer in the
 * opposite direction, and records the link in the same transaction. The
 * correcting transfer's id is the idempotency key. A unique violation means a
 * concurrent request with the same id won: one more attempt answers as a retry.
 */
export async function createCorrection(
  database: Database,
  request: CorrectionRequest,
  now: Date,
  limits: BankLimits,
): Promise<CorrectionOutcome> {
  return retryOnUniqueViolation(() =>
    database.transaction((sql) => correctInTransaction(sql, request, now, limits)),
  );
}

/** A transfer and its corrections in commit order (at most `limits.correctionsPerTransferMax`). */
export async function selectCorrectionsOf(
  sql: Sql,
  originalId: string,
  limits: BankLimits,
): Promise<CorrectionsOf> {
  const original = await selectTransfer(sql, originalId);
  if (original === undefined) throw new MpayError('TRANSFER_UNKNOWN');
  const { rows } = await sql.query<CorrectionRow>(
    `SELECT ${transferColumns}, correction_kind, correction_original_id FROM (
       SELECT t.*, c.kind AS correction_kind, c.original_id::text AS correction_original_id
       FROM corrections AS c JOIN transfers AS t ON t.id = c.transfer_id WHERE c.original_id = $1
     ) AS corrected ORDER BY seq LIMIT $2`,
    [originalId, limits.correctionsPerTransferMax],
  );
  const corrections = rows.map((row) => ({
    kind: row.correction_kind,
    originalId: row.correction_original_id,
    transfer: transferFromRow(row),
  }));
  const corrected = corrections.reduce((sum, correction) => sum + correction.transfer.amount, 0n);
  assert(corrected <= original.amount, 'corrections stay within the original');
  return { original, corrected, corrections };
}
