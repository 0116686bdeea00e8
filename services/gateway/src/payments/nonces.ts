import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/**
 * Records the nonce of a verified message; a second message with the same
 * issuer and nonce is a replay. Kept until the message would have expired.
 */
export async function recordNonce(
  sql: Sql,
  issuer: string,
  nonce: string,
  expiresAtSeconds: number,
): Promise<void> {
  if (!(await insertNonce(sql, issuer, nonce, expiresAtSeconds))) throw new MpayError('MESSAGE_REPLAYED');
}

/**
 * `recordNonce` for a caller that decides later whether a replay matters:
 * true when the nonce is new, false when it was recorded before.
 */
export async function insertNonce(
  sql: Sql,
  issuer: string,
  nonce: string,
  expiresAtSeconds: number,
): Promise<boolean> {
  const inserted = await sql.query(
    'INSERT INTO seen_nonces (issuer, nonce, expires_at) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING',
    [issuer, nonce, expiresAtSeconds],
  );
  return inserted.rowCount === 1;
}

export async function forgetExpiredNonces(sql: Sql, now: Date, graceSeconds: number): Promise<number> {
  const deleted = await sql.query('DELETE FROM seen_nonces WHERE expires_at < $1', [
    new Date(now.getTime() - graceSeconds * 1000).toISOString(),
  ]);
  return deleted.rowCount;
}
