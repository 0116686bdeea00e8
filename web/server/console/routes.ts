import { createHash } from 'node:crypto';
import type { PairReconciliation } from '@mpay/bank';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleLimits } from './limits.ts';
import type { LogMonitor } from './log-monitor.ts';
import type { MetricsHistory } from './metrics-history.ts';
import { bankOperator, type ConsoleBank, type OperatorClient } from './services.ts';
import {
  clearedSessionCookie,
  cookieValue,
  type SessionStore,
  type SignInLimiter,
  sessionCookie,
  sessionCookieName,
  tokenMatches,
} from './sessions.ts';
import { readPositions, readRuns, settle } from './settlement.ts';

export interface ConsoleContext {
  readonly limits: ConsoleLimits;
  readonly clock: () => Date;
  readonly operatorToken: string;
  readonly currency: string;
  readonly sessions: SessionStore;
  readonly signIns: SignInLimiter;
  readonly gateway: OperatorClient;
  readonly banks: readonly ConsoleBank[];
  readonly metrics: MetricsHistory;
  readonly log: LogMonitor;
  /** Absent when the witness runs in another process (its alarms are in its own logs and database). */
  readonly witnessAlarms: (() => Readonly<Record<string, number>>) | undefined;
}

/** Audit findings shown at most per bank (the rest are counted). */
const auditFindingsShownMax = 20;
const uuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/**
 * A service refusing the console's own credentials is the console's problem,
 * not the operator's session: it must not look like a signed-out page.
 */
function fromService(error: unknown, service: string): never {
  if (isMpayError(error, 'AUTHENTICATION_FAILED') || isMpayError(error, 'FORBIDDEN'))
    throw new MpayError('SERVICE_UNAVAILABLE', `${service} refused the console's operator credentials`);
  throw error;
}

async function call<T>(service: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    return fromService(error, service);
  }
}

/** Each service's answer, or its stable error code: one bank down does not blank the page. */
async function settledCall<T>(
  service: string,
  work: () => Promise<T>,
): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await call(service, work) };
  } catch (error) {
    return { error: isMpayError(error) ? error.code : 'INTERNAL' };
  }
}

function isSecure(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

/**
 * State-changing requests from another origin are refused (the SameSite
 * cookie already keeps them unauthenticated; this says so plainly). A
 * request without Origin is not a browser's cross-site request.
 */
function checkSameOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  // request.host: the Host header, or HTTP/2's :authority (an HTTP/2 request has no Host header).
  if (origin !== `${request.protocol}://${request.host}`) throw new MpayError('FORBIDDEN', 'origin');
}

function pairJson(pair: PairReconciliation) {
  return {
    banks: pair.banks,
    currency: pair.currency,
    owedByFirst: pair.owedByFirst.toString(),
    claimedBySecond: pair.claimedBySecond.toString(),
    inFlight: {
      fromFirst: pair.inFlight.fromFirst.toString(),
      fromSecond: pair.inFlight.fromSecond.toString(),
    },
    agree: pair.agree,
    consistent: pair.consistent,
  };
}

/** A UUID from a seed (version 4 layout), so a retried request names the same transfer. */
function derivedUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface AuditAnswer {
  readonly ok: boolean;
  readonly accountsChecked: number;
  readonly transfersChecked: number;
  readonly ledgers: readonly Record<string, unknown>[];
  readonly violations: readonly Record<string, unknown>[];
  readonly mismatches: readonly Record<string, unknown>[];
}

function auditJson(audit: AuditAnswer) {
  return {
    ok: audit.ok,
    accountsChecked: audit.accountsChecked,
    transfersChecked: audit.transfersChecked,
    ledgers: audit.ledgers,
    violations: audit.violations.slice(0, auditFindingsShownMax),
    mismatches: audit.mismatches.slice(0, auditFindingsShownMax),
    findings: audit.violations.length + audit.mismatches.length,
  };
}

const signInSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: { type: 'string', maxLength: 1024 } },
} as const;

const customerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['requestId', 'bankId', 'partyId', 'openingBalanceMinor'],
  properties: {
    requestId: { type: 'string', pattern: uuidPattern },
    bankId: { type: 'string', maxLength: 64 },
    partyId: { type: 'string', minLength: 1, maxLength: 200 },
    openingBalanceMinor: { type: 'string', pattern: '^(0|[1-9][0-9]{0,17})$' },
  },
} as const;

const enrolmentCodeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['bankId', 'partyId', 'accountIds'],
  properties: {
    bankId: { type: 'string', maxLength: 64 },
    partyId: { type: 'string', minLength: 1, maxLength: 200 },
    accountIds: {
      type: 'array',
      minItems: 1,
      maxItems: 8,
      items: { type: 'string', pattern: uuidPattern },
    },
  },
} as const;

const aliasSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['requestId', 'alias', 'partyId'],
  properties: {
    requestId: { type: 'string', pattern: uuidPattern },
    alias: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
    partyId: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

/** The console's API, under /console/api; everything but signing in needs the session. */
export function registerConsoleRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const bankClients = context.banks.map((bank) => bankOperator(bank, context.limits));
  const bankOf = (id: string): { bank: ConsoleBank; client: OperatorClient } => {
    const index = context.banks.findIndex((bank) => bank.id === id);
    const bank = context.banks[index];
    const client = bankClients[index];
    if (bank === undefined || client === undefined) throw new MpayError('BANK_UNKNOWN');
    return { bank, client };
  };
  const bodyLimit = context.limits.bodyLimitBytes;
  let settling: Promise<unknown> = Promise.resolve();

  app.addHook('onRequest', async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') checkSameOrigin(request);
    if (request.routeOptions.url === '/console/api/session' && request.method === 'POST') return;
    context.sessions.touch(cookieValue(request.headers.cookie, sessionCookieName));
  });
  app.post('/session', { schema: { body: signInSchema }, bodyLimit }, async (request, reply) => {
    context.signIns.check(request.ip);
    const { token } = request.body as { token: string };
    if (!tokenMatches(token, context.operatorToken)) {
      context.signIns.failed(request.ip);
      throw new MpayError('AUTHENTICATION_FAILED');
    }
    const { id, session } = context.sessions.create();
    reply.header('set-cookie', sessionCookie(id, context.limits.sessionLifetimeSeconds, isSecure(request)));
    return { expiresAt: session.expiresAt.toISOString(), idleExpiresAt: session.idleExpiresAt.toISOString() };
  });
  app.get('/session', async (request) => {
    const session = context.sessions.touch(cookieValue(request.headers.cookie, sessionCookieName));
    return { expiresAt: session.expiresAt.toISOString(), idleExpiresAt: session.idleExpiresAt.toISOString() };
  });
  app.delete('/session', async (request, reply: FastifyReply) => {
    context.sessions.end(cookieValue(request.headers.cookie, sessionCookieName));
    return reply
      .header('set-cookie', clearedSessionCookie(isSecure(request)))
      .code(204)
      .send();
  });

  app.get('/payments', async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const parameters = new URLSearchParams();
    for (const name of ['status', 'state', 'limit', 'after']) {
      const value = query[name];
      if (value === undefined || value === '') continue;
      if (typeof value !== 'string' || value.length > 200) throw new MpayError('REQUEST_INVALID', name);
      parameters.set(name, value);
    }
    const suffix = parameters.size === 0 ? '' : `?${parameters}`;
    return call('gateway', () => context.gateway.get(`/admin/payments${suffix}`));
  });
  app.get('/payments/:id', async (request) => {
    const { id } = request.params as { id: string };
    if (!new RegExp(uuidPattern).test(id)) throw new MpayError('PAYMENT_UNKNOWN');
    return call('gateway', () => context.gateway.get(`/admin/payments/${id}`));
  });

  app.get('/banks', async () => {
    const [audits, positions] = await Promise.all([
      Promise.all(
        bankClients.map(async (client) => {
          const audit = await settledCall(client.id, () => client.get<AuditAnswer>('/audit'));
          return { id: client.id, ...('value' in audit ? { audit: auditJson(audit.value) } : audit) };
        }),
      ),
      settledCall('banks', () => readPositions(bankClients)),
    ]);
    return {
      banks: audits,
      positions:
        'value' in positions
          ? { pairs: positions.value.pairs.map(pairJson), overdue: positions.value.overdue }
          : positions,
    };
  });

  app.get('/settlements', async () => {
    const [positions, runs] = await Promise.all([
      call('banks', () => readPositions(bankClients)),
      call('banks', () => readRuns(bankClients)),
    ]);
    return {
      pairs: positions.pairs.map(pairJson),
      overdue: positions.overdue,
      runs: runs.map((run) => ({
        ...run,
        bookings: run.bookings.map((booking) => ({ ...booking, amount: booking.amount.toString() })),
      })),
    };
  });
  app.post('/settlements', { bodyLimit }, async () => {
    // One run at a time: two at once would each settle the same position.
    const run = settling.then(() => call('banks', () => settle(bankClients)));
    settling = run.catch(() => undefined);
    const outcome = await run;
    return {
      finished: outcome.finished,
      booked: outcome.booked.map((entry) => ({ ...entry, amount: entry.amount.toString() })),
      skipped: outcome.skipped,
    };
  });

  app.get('/log', async () => {
    await context.log.check();
    return { ...context.log.status(), witnessAlarms: context.witnessAlarms?.() ?? null };
  });

  app.get('/backlogs', async () => {
    const gateway = await settledCall('gateway', () =>
      context.gateway.get<{ outboxes: unknown[] }>('/admin/outboxes'),
    );
    const banks = await Promise.all(
      bankClients.map(async (client) => ({
        service: client.id,
        ...unwrapOutboxes(
          await settledCall(client.id, () => client.get<{ outboxes: unknown[] }>('/outboxes')),
        ),
      })),
    );
    return { services: [{ service: 'gateway', ...unwrapOutboxes(gateway) }, ...banks] };
  });

  app.get('/metrics', async () => {
    await context.metrics.scrapeIfStale();
    return context.metrics.series();
  });

  app.post('/customers', { schema: { body: customerSchema }, bodyLimit }, async (request) => {
    const body = request.body as {
      requestId: string;
      bankId: string;
      partyId: string;
      openingBalanceMinor: string;
    };
    const { bank, client } = bankOf(body.bankId);
    const opening = BigInt(body.openingBalanceMinor);
    if (opening > context.limits.openingBalanceMinorMax) throw new MpayError('AMOUNT_TOO_LARGE');
    if (opening > 0n && bank.fundingAccountId === undefined)
      throw new MpayError('REQUEST_INVALID', `${bank.id} has no funding account for opening balances`);
    const currency = context.currency;
    const accountId = body.requestId;
    return call(bank.id, async () => {
      await tolerate(
        client.post('/accounts', { id: accountId, owner: body.partyId, currency, kind: 'customer' }),
        'ACCOUNT_EXISTS',
      );
      // A retry finds the account it opened; an account of someone else under this id is never
      // credited nor named in an enrolment code (the opening transfer's id is derived from the
      // account id, so a retry books it once).
      const account = await client.get<{ owner: string; kind: string; currency: string }>(
        `/accounts/${accountId}`,
      );
      if (account.owner !== body.partyId || account.kind !== 'customer' || account.currency !== currency)
        throw new MpayError('ACCOUNT_EXISTS', accountId);
      if (opening > 0n && bank.fundingAccountId !== undefined) {
        await tolerate(
          client.post('/accounts', { id: bank.fundingAccountId, owner: bank.id, currency, kind: 'funding' }),
          'ACCOUNT_EXISTS',
        );
        await client.post('/transfers', {
          id: derivedUuid(`console opening balance ${accountId}`),
          debitAccountId: bank.fundingAccountId,
          creditAccountId: accountId,
          amount: opening.toString(),
          currency,
          reference: 'opening balance',
        });
      }
      const issued = await client.post<{ code: string; expiresAt: string }>('/enrolment-codes', {
        partyId: body.partyId,
        accountIds: [accountId],
      });
      return {
        bankId: bank.id,
        partyId: body.partyId,
        accountId,
        currency,
        openingBalanceMinor: opening.toString(),
        code: issued.code,
        expiresAt: issued.expiresAt,
      };
    });
  });

  app.post('/enrolment-codes', { schema: { body: enrolmentCodeSchema }, bodyLimit }, async (request) => {
    const body = request.body as { bankId: string; partyId: string; accountIds: string[] };
    const { bank, client } = bankOf(body.bankId);
    const issued = await call(bank.id, () =>
      client.post<{ code: string; expiresAt: string }>('/enrolment-codes', {
        partyId: body.partyId,
        accountIds: body.accountIds,
      }),
    );
    return { bankId: bank.id, partyId: body.partyId, code: issued.code, expiresAt: issued.expiresAt };
  });

  app.post('/aliases', { schema: { body: aliasSchema }, bodyLimit }, async (request) => {
    const body = request.body as { requestId: string; alias: string; partyId: string };
    return call('gateway', () =>
      context.gateway.post(
        '/admin/aliases',
        { alias: body.alias, partyId: body.partyId },
        { 'idempotency-key': `console-alias-${body.requestId}` },
      ),
    );
  });
}

function unwrapOutboxes(answer: { value: { outboxes: unknown[] } } | { error: string }) {
  return 'value' in answer ? { outboxes: answer.value.outboxes } : answer;
}

async function tolerate(promise: Promise<unknown>, code: 'ACCOUNT_EXISTS'): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (!isMpayError(error, code)) throw error;
  }
}
