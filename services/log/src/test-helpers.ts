import { type GeneratedKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { generateNoteKey } from '@mpay/merkle';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { LogWitness } from './integrate/cosign.ts';
import type { LogLimits } from './limits.ts';
import { migrateLog } from './migrations.ts';
import { createLogService, type LogService } from './service.ts';

export const testOrigin = 'log.mpay.example/transactions';

export interface Answer {
  readonly status: number;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

export interface TestLog {
  readonly url: string;
  readonly service: LogService;
  readonly database: Database;
  readonly verifierKey: string;
  readonly submitter: GeneratedKeyPair;
  get(path: string): Promise<Answer>;
  /** POSTs JSON to `path` (default /entries) signed by `key` as `issuer` (default: the configured submitter 'gateway'). */
  submit(
    body: unknown,
    options?: { key?: GeneratedKeyPair; issuer?: string; headers?: Record<string, string>; path?: string },
  ): Promise<Answer>;
  close(): Promise<void>;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') === true;
  return { status: response.status, text, body: json ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A migrated log on loopback port 0 with one submitter, 'gateway'. A given key makes a second log of the same origin. */
export async function startTestLog(
  options: {
    noteKey?: { signerKey: string; verifierKey: string };
    limits?: Partial<LogLimits>;
    witnesses?: readonly LogWitness[];
    /** An existing (migrated) log database to start on instead of a new one; the caller closes it. */
    database?: Database;
    /** The bearer token GET /metrics takes (none: /metrics refuses everyone). */
    metricsToken?: string;
  } = {},
): Promise<TestLog> {
  const noteKey = options.noteKey ?? (await generateNoteKey(testOrigin));
  const submitter = await generateSigningKeyPair();
  const database = options.database ?? (await openTestDatabase('log'));
  if (options.database === undefined) await migrateLog(database);
  const service = await createLogService({
    database,
    signerKey: noteKey.signerKey,
    submitters: [{ id: 'gateway', signingJwk: submitter.publicJwk }],
    witnesses: options.witnesses,
    limits: options.limits,
    metricsToken: options.metricsToken,
  });
  const url = await service.listen(0);
  return {
    url,
    service,
    database,
    verifierKey: noteKey.verifierKey,
    submitter,
    get: async (path) => answerOf(await fetch(`${url}${path}`)),
    submit: async (body, { key = submitter, issuer = 'gateway', headers = {}, path = '/entries' } = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const authorization = await signRequest(
        { method: 'POST', path, body: text },
        { issuer, audience: testOrigin, key: key.privateJwk },
      );
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization, ...headers },
        body: text,
      });
      return answerOf(response);
    },
    close: async () => {
      await service.close();
      if (options.database === undefined) await database.close();
    },
  };
}

/** A submission body for a message: its SHA-256 in base64. */
export async function entryFor(message: string, transactionId = 'txn-1', kind = 'payment.completed') {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(message)));
  return {
    hash: Buffer.from(digest).toString('base64'),
    kind,
    transactionId,
    metadata: { amount: '1250', currency: 'EUR' },
  };
}
