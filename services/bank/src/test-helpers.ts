import { randomUUID } from 'node:crypto';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { VerifyRequest } from './http/authenticate.ts';
import type { InterbankOptions } from './interbank/peers.ts';
import type { BankLimits } from './limits.ts';
import { migrateBank } from './migrations.ts';
import { type BankService, createBankService } from './service.ts';

/**
 * Test-only authentication: a shared bearer token, the caller named by the
 * x-test-caller header. Deliberately not exported from index.ts; production
 * plugs in JWS verification.
 */
export const testBearerToken = 'test-token-not-for-production';

export function testBearerVerifier(token: string = testBearerToken): VerifyRequest {
  return async ({ headers }) => {
    if (headers.authorization !== `Bearer ${token}`) throw new Error('wrong bearer token');
    const caller = headers['x-test-caller'];
    return { callerId: typeof caller === 'string' ? caller : 'test-caller' };
  };
}

export interface HttpAnswer {
  readonly status: number;
  /** The JSON object answered ({} for an empty body); tests inspect it with toMatchObject. */
  readonly body: Record<string, unknown>;
}

/** The error code of an mpay error answer, or undefined for a success. */
export function errorCodeOf(answer: HttpAnswer): string | undefined {
  return (answer.body.error as { code?: string } | undefined)?.code;
}

export interface TestBank {
  readonly url: string;
  readonly service: BankService;
  readonly database: Database;
  /** Moves the service clock forward. */
  advanceSeconds(seconds: number): void;
  now(): Date;
  call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpAnswer>;
  /** Opens an account and returns its id. */
  openAccount(kind: 'customer' | 'merchant' | 'funding' | 'settlement', currency?: string): Promise<string>;
  /** Moves `amount` from a funding account of the currency into `accountId`. */
  fund(accountId: string, amount: bigint, currency?: string): Promise<void>;
  close(): Promise<void>;
}

function ownerOf(kind: 'customer' | 'merchant' | 'funding' | 'settlement', bank: string): string {
  if (kind === 'customer') return `ann.smith@person.${bank}`;
  if (kind === 'merchant') return `merkur.trade@merchant.${bank}`;
  return kind === 'funding' ? bank : bank === 'ybank' ? 'xbank' : 'ybank';
}

/** A migrated test database, a bank service 'xbank' listening on 127.0.0.1 port 0, and small HTTP helpers. */
export async function startTestBank(
  options: {
    limits?: Partial<BankLimits>;
    verifyRequest?: VerifyRequest;
    name?: string;
    port?: number;
    interbank?: InterbankOptions;
  } = {},
): Promise<TestBank> {
  const name = options.name ?? 'xbank';
  const database = await openTestDatabase('bank');
  await migrateBank(database);
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);
  const service = createBankService({
    name,
    database,
    interbank: options.interbank,
    verifyRequest: options.verifyRequest ?? testBearerVerifier(),
    clock: now,
    limits: options.limits,
  });
  const url = await service.listen(options.port ?? 0);
  const fundingAccounts = new Map<string, string>();
  const bank: TestBank = {
    url,
    service,
    database,
    now,
    advanceSeconds: (seconds) => {
      offsetMs += seconds * 1000;
    },
    call: async (method, path, body, headers = {}) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${testBearerToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      };
    },
    openAccount: async (kind, currency = 'EUR') => {
      const answer = await bank.call('POST', '/accounts', { owner: ownerOf(kind, name), currency, kind });
      if (answer.status !== 201) throw new Error(`open account: ${JSON.stringify(answer.body)}`);
      return answer.body.id as string;
    },
    fund: async (accountId, amount, currency = 'EUR') => {
      const funding = fundingAccounts.get(currency) ?? (await bank.openAccount('funding', currency));
      fundingAccounts.set(currency, funding);
      const body = {
        id: randomUUID(),
        debitAccountId: funding,
        creditAccountId: accountId,
        amount: `${amount}`,
        currency,
      };
      const answer = await bank.call('POST', '/transfers', body);
      if (answer.status !== 201) throw new Error(`fund: ${JSON.stringify(answer.body)}`);
    },
    close: async () => {
      await service.close();
      await database.close();
    },
  };
  return bank;
}
