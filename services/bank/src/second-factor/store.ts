import type { Sql } from '@mpay/storage';

export type SecondFactorState = 'active' | 'blocked';

/** A party's second factor as stored (table second_factors): the secret sealed, never in clear. */
export interface SecondFactorRecord {
  readonly partyId: string;
  readonly sealedSecret: string;
  readonly state: SecondFactorState;
  readonly failedAttempts: number;
  /** The newest time step a code was accepted for; null before the first. */
  readonly lastUsedStep: number | null;
  /** The key binding whose enrolment received the secret. */
  readonly provisionedTo: string;
}

interface SecondFactorRow {
  party_id: string;
  sealed_secret: string;
  state: SecondFactorState;
  failed_attempts: number;
  last_used_step: string | number | null;
  provisioned_to: string;
}

function recordFromRow(row: SecondFactorRow): SecondFactorRecord {
  return Object.freeze({
    partyId: row.party_id,
    sealedSecret: row.sealed_secret,
    state: row.state,
    failedAttempts: row.failed_attempts,
    lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
    provisionedTo: row.provisioned_to,
  });
}

/**
 * The party's second factor. `lock` holds its row until the transaction
 * ends: every check of a code takes it, so two orders presenting the same
 * code are decided one after the other, and failures are counted on a value
 * no concurrent check has read.
 */
export async function selectSecondFactor(
  sql: Sql,
  partyId: string,
  lock = false,
): Promise<SecondFactorRecord | undefined> {
  const { rows } = await sql.query<SecondFactorRow>(
    `SELECT party_id, sealed_secret, state, failed_attempts, last_used_step, provisioned_to
     FROM second_factors WHERE party_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [partyId],
  );
  return rows[0] === undefined ? undefined : recordFromRow(rows[0]);
}

/** Stores the party's first secret; false (nothing written) when the party has one already. */
export async function insertSecondFactor(
  sql: Sql,
  record: { partyId: string; sealedSecret: string; provisionedTo: string },
  now: Date,
): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO second_factors (party_id, sealed_secret, state, failed_attempts, provisioned_to, created_at,
       updated_at)
     VALUES ($1, $2, 'active', 0, $3, $4, $4)
     ON CONFLICT (party_id) DO NOTHING`,
    [record.partyId, record.sealedSecret, record.provisionedTo, now.toISOString()],
  );
  return inserted.rowCount === 1;
}

/** Counts one wrong code of an active second factor (its row locked); at `attemptsMax` in a row it is blocked. */
export async function countSecondFactorFailure(
  sql: Sql,
  partyId: string,
  attemptsMax: number,
  now: Date,
): Promise<{ failedAttempts: number; state: SecondFactorState }> {
  const { rows } = await sql.query<{ failed_attempts: number; state: SecondFactorState }>(
    `UPDATE second_factors
     SET failed_attempts = failed_attempts + 1,
       state = CASE WHEN failed_attempts + 1 >= $2 THEN 'blocked' ELSE state END,
       updated_at = $3
     WHERE party_id = $1 AND state = 'active'
     RETURNING failed_attempts, state`,
    [partyId, attemptsMax, now.toISOString()],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('assertion failed: an active second factor is locked');
  return { failedAttempts: row.failed_attempts, state: row.state };
}

/**
 * Spends time step `step` of the party on order `orderId`: the step becomes
 * the newest used (no code of it or an earlier step passes again), the count
 * of wrong codes in a row starts again, and the use is recorded once (the
 * primary key refuses a second use of the step).
 */
export async function spendSecondFactorStep(
  sql: Sql,
  partyId: string,
  step: number,
  orderId: string,
  now: Date,
): Promise<void> {
  const updated = await sql.query(
    `UPDATE second_factors SET last_used_step = $2, failed_attempts = 0, updated_at = $3
     WHERE party_id = $1 AND state = 'active' AND (last_used_step IS NULL OR last_used_step < $2)`,
    [partyId, step, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: a fresh step of an active second factor');
  await sql.query(
    `INSERT INTO second_factor_uses (party_id, time_step, order_id, used_at) VALUES ($1, $2, $3, $4)`,
    [partyId, step, orderId, now.toISOString()],
  );
}

/** Whether a code was accepted for order `orderId` of the party (that order was placed). */
export async function isSecondFactorSpentOn(sql: Sql, partyId: string, orderId: string): Promise<boolean> {
  const { rows } = await sql.query('SELECT 1 FROM second_factor_uses WHERE party_id = $1 AND order_id = $2', [
    partyId,
    orderId,
  ]);
  return rows.length > 0;
}

/** The operator resets a party's second factor (blocked, or the authenticator lost): the next enrolment provisions a new one. */
export async function deleteSecondFactor(sql: Sql, partyId: string): Promise<boolean> {
  const deleted = await sql.query('DELETE FROM second_factors WHERE party_id = $1', [partyId]);
  return deleted.rowCount === 1;
}
