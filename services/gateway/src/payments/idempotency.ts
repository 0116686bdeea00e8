import { createHash } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/** An Idempotency-Key claimed inside the transaction that does the work (scope: the verified caller). */
export interface IdempotencyClaim {
  readonly scope: string;
  readonly key: string;
  readonly requestHash: string;
}

export interface StoredAnswer {
  readonly statusCode: number;
  readonly body: unknown;
}

export function requestHashOf(method: string, path: string, body: string): string {
  return createHash('sha256').update(`${method} ${path}\n${body}`).digest('hex');
}

/**
 * Claims the key in the caller's transaction. Returns the stored answer when
 * the same request was already answered (IDEMPOTENCY_KEY_REUSED for another
 * request under the same key), undefined when this transaction now owns the
 * key. The claim, the work and the stored answer commit together, so a crash
 * never leaves a key "in progress": a concurrent twin waits on the key's row
 * and then reads the committed answer.
 */
export async function claimIdempotencyKey(
  sql: Sql,
  claim: IdempotencyClaim,
  now: Date,
): Promise<StoredAnswer | undefined> {
  const inserted = await sql.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [claim.scope, claim.key, claim.requestHash, now.toISOString()],
  );
  if (inserted.rowCount === 1) return undefined;
  const { rows } = await sql.query<{
    request_hash: string;
    status_code: number | null;
    response_body: string | null;
  }>('SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2', [
    claim.scope,
    claim.key,
  ]);
  const row = rows[0];
  if (row === undefined || row.status_code === null || row.response_body === null) {
    // Only possible with a row written by the pre-transactional code; it is released by age.
    throw new MpayError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
  }
  if (row.request_hash !== claim.requestHash) throw new MpayError('IDEMPOTENCY_KEY_REUSED');
  return { statusCode: row.status_code, body: JSON.parse(row.response_body) as unknown };
}

export async function storeIdempotentAnswer(
  sql: Sql,
  claim: IdempotencyClaim,
  answer: StoredAnswer,
): Promise<void> {
  // The check is the statement's own (a division by zero when no row was claimed): a COMMIT sent with
  // it (the payment request's) then does not run.
  const { rows } = await sql
    .query<{ stored: number }>(
      `WITH updated AS (
         UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE scope = $1 AND key = $2
         RETURNING 1)
       SELECT 1 / (SELECT count(*)::integer FROM updated) AS stored`,
      [claim.scope, claim.key, answer.statusCode, JSON.stringify(answer.body)],
    )
    .catch((error: unknown) => {
      if ((error as { code?: unknown }).code === '22012')
        throw new Error('assertion failed: the idempotency key was claimed in this transaction', {
          cause: error,
        });
      throw error;
    });
  if (rows[0]?.stored !== 1)
    throw new Error('assertion failed: the idempotency key was claimed in this transaction');
}

/** Forgets answered keys after `keptSeconds`: clients retry within minutes, not days. */
export async function forgetIdempotencyKeys(sql: Sql, now: Date, keptSeconds: number): Promise<number> {
  const deleted = await sql.query('DELETE FROM idempotency_keys WHERE created_at < $1', [
    new Date(now.getTime() - keptSeconds * 1000).toISOString(),
  ]);
  return deleted.rowCount;
}
