import { sha256 } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';

/** The table each service's migrations create for POST idempotency. */
export const idempotencyTableSql = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status_code integer,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
)`;

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !idempotencyKeyPattern.test(header)) {
    throw new MpayError('IDEMPOTENCY_KEY_INVALID');
  }
  return header;
}

/**
 * Runs `handle` at most once per (scope, key). The same key with the same
 * request hash returns the stored response; with a different hash it fails with
 * IDEMPOTENCY_KEY_REUSED; while the first is running, IDEMPOTENCY_REQUEST_IN_PROGRESS.
 * Errors that are not final (a bank that was unreachable) release the key.
 */
export async function runIdempotent(
  database: Database,
  request: { scope: string; key: string; requestHash: string },
  handle: () => Promise<StoredResponse>,
): Promise<StoredResponse> {
  const claimed = await database.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [request.scope, request.key, request.requestHash],
  );
  if (claimed.rowCount === 0) return replay(database, request);
  let response: StoredResponse;
  try {
    response = await handle();
  } catch (error) {
    if (!(error instanceof MpayError) || isRetryable(error)) {
      await database.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2', [
        request.scope,
        request.key,
      ]);
      throw error;
    }
    response = { statusCode: -1, body: error.toJSON() };
  }
  await database.query(
    'UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE scope = $1 AND key = $2',
    [request.scope, request.key, response.statusCode, JSON.stringify(response.body)],
  );
  if (response.statusCode === -1) throw restoreError(response.body);
  return response;
}

/** An answer that may differ on a retry (the catalogue's category) releases the key instead of being stored. */
function isRetryable(error: MpayError): boolean {
  return error.category === 'retryable';
}

function restoreError(body: unknown): MpayError {
  const { code, detail } = body as { code: ConstructorParameters<typeof MpayError>[0]; detail?: string };
  return new MpayError(code, detail);
}

async function replay(
  database: Database,
  request: { scope: string; key: string; requestHash: string },
): Promise<StoredResponse> {
  const { rows } = await database.query<{
    request_hash: string;
    status_code: number | null;
    response_body: string | null;
  }>('SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2', [
    request.scope,
    request.key,
  ]);
  const row = rows[0];
  if (row === undefined) throw new MpayError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
  if (row.request_hash !== request.requestHash) throw new MpayError('IDEMPOTENCY_KEY_REUSED');
  if (row.status_code === null || row.response_body === null)
    throw new MpayError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
  const body: unknown = JSON.parse(row.response_body);
  if (row.status_code === -1) throw restoreError(body);
  return { statusCode: row.status_code, body };
}

const textEncoder = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  return Buffer.from(await sha256(textEncoder.encode(text))).toString('hex');
}

/**
 * Forgets answered keys after `keptSeconds` (clients retry within minutes, not
 * days) and releases keys whose request never finished (a crash) after
 * `inProgressSeconds`, so that the table cannot grow without bound.
 */
export async function forgetIdempotencyKeys(
  database: Database,
  ages: { keptSeconds: number; inProgressSeconds: number },
): Promise<number> {
  const deleted = await database.query(
    `DELETE FROM idempotency_keys
     WHERE created_at < now() - make_interval(secs => $1)
        OR (status_code IS NULL AND created_at < now() - make_interval(secs => $2))`,
    [ages.keptSeconds, ages.inProgressSeconds],
  );
  return deleted.rowCount;
}
