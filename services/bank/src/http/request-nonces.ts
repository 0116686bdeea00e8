import type { Database } from '@mpay/storage';
import type { UseNonce } from './authenticate.ts';

/** Kept past a token's expiry: the largest clock skew a verifier allows (the interbank nonces' too). */
export const requestNonceGraceSeconds = 300;

/**
 * Single-use request tokens: each verified token's nonce is inserted for its
 * caller; a second insert of the same pair finds the row and the token is
 * refused. Rows live until the token could no longer verify anyway.
 */
export function useRequestNonce(database: Database): UseNonce {
  return async (callerId, nonce, expiresAtSeconds) => {
    const inserted = await database.query(
      `INSERT INTO request_nonces (caller, nonce, expires_at) VALUES ($1, $2, to_timestamp($3))
       ON CONFLICT DO NOTHING`,
      [callerId, nonce, expiresAtSeconds],
    );
    return inserted.rowCount === 1;
  };
}

/** Forgets the nonces of tokens that can no longer verify (past expiry and the grace). */
export async function sweepRequestNonces(database: Database, now: Date): Promise<number> {
  const deleted = await database.query('DELETE FROM request_nonces WHERE expires_at < $1', [
    new Date(now.getTime() - requestNonceGraceSeconds * 1000).toISOString(),
  ]);
  return deleted.rowCount;
}
