import {
  type ImsMessage,
  imsFromJson,
  imsToJson,
  isPaymentState,
  MpayError,
  type PaymentEventKind,
  type PaymentState,
  type PaymentStepResult,
  type RecentPayment,
  type SecurityLevel,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { Party } from '../registry/parties.ts';
import { rateBucketStart, rateWindowBucketsAfter, rateWindowBucketsUntil } from './rate-window.ts';
import { refusalOf } from './refusals.ts';

/**
 * A payment as the gateway works with it: the row decoded once, its iMS
 * message parsed once, and both parties resolved once (one query).
 */
export interface Payment {
  readonly id: string;
  readonly procedure: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly securityLevel: string;
  readonly state: PaymentState;
  /** The iMS message as it stands: the FSP's own copy plus the customer's verified signature once given. */
  readonly message: ImsMessage;
  /** The account the customer's bank bound to the customer's key, which pays. */
  readonly payerAccount: string;
  readonly merchant: Party;
  readonly customer: Party;
  readonly pushMessage: string | null;
  /** The merchant certificate a push/v2 carried whole (its reference): the confirmation records the device holds it. */
  readonly pushCertificateSha256: string | null;
  readonly receipt: string | null;
  readonly bankAnswer: string | null;
  readonly decline: string | null;
  readonly outcome: string | null;
  readonly failureCode: string | null;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** One more at each step persisted: a read with the version still stored is the payment as it stands. */
  readonly version: number;
}

interface PaymentRow {
  id: string;
  procedure: string;
  currency: string;
  amount_minor: string;
  security_level: string;
  state: string;
  message: string;
  payer_account: string | null;
  push_message: string | null;
  push_certificate_sha256: string | null;
  receipt: string | null;
  bank_answer: string | null;
  decline: string | null;
  outcome: string | null;
  failure_code: string | null;
  expires_at: Date | string;
  created_at: Date | string;
  updated_at: Date | string;
  version: number;
  merchant_id: string;
  merchant_name: string;
  merchant_bank: string;
  merchant_webhook: string | null;
  customer_id: string;
  customer_name: string;
  customer_bank: string;
}

const selectPayment = `SELECT p.id, p.procedure, p.currency, p.amount_minor::text AS amount_minor, p.security_level,
  p.state, p.message, p.payer_account, p.push_message, p.push_certificate_sha256, p.receipt, p.bank_answer, p.decline, p.outcome, p.failure_code,
  p.expires_at, p.created_at, p.updated_at, p.version,
  m.id AS merchant_id, m.display_name AS merchant_name, m.bank_id AS merchant_bank, m.webhook_url AS merchant_webhook,
  c.id AS customer_id, c.display_name AS customer_name, c.bank_id AS customer_bank
  FROM payments p JOIN parties m ON m.id = p.merchant_id JOIN parties c ON c.id = p.customer_id`;

function toPayment(row: PaymentRow): Payment {
  if (!isPaymentState(row.state)) throw new Error(`assertion failed: stored payment state ${row.state}`);
  if (row.payer_account === null) throw new Error(`assertion failed: payment ${row.id} has a payer account`);
  return {
    id: row.id,
    procedure: row.procedure,
    currency: row.currency,
    amountMinor: BigInt(row.amount_minor),
    securityLevel: row.security_level,
    state: row.state,
    message: imsFromJson(JSON.parse(row.message)),
    payerAccount: row.payer_account,
    merchant: {
      id: row.merchant_id,
      kind: 'merchant',
      displayName: row.merchant_name,
      bankId: row.merchant_bank,
      webhookUrl: row.merchant_webhook,
    },
    customer: {
      id: row.customer_id,
      kind: 'person',
      displayName: row.customer_name,
      bankId: row.customer_bank,
      webhookUrl: null,
    },
    pushMessage: row.push_message,
    pushCertificateSha256: row.push_certificate_sha256,
    receipt: row.receipt,
    bankAnswer: row.bank_answer,
    decline: row.decline,
    outcome: row.outcome,
    failureCode: row.failure_code,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    version: row.version,
  };
}

/**
 * The payment `read` a moment before, locked for a transition in this
 * transaction: `read` itself when its version is still the one stored and
 * its parties' fields are as read (a merchant's new webhook URL counts), in
 * one statement without the message; else the payment read again under the lock.
 */
export async function lockPayment(sql: Sql, read: Payment): Promise<Payment> {
  const { rows } = await sql.query<{
    version: number;
    merchant_name: string;
    merchant_bank: string;
    merchant_webhook: string | null;
    customer_name: string;
    customer_bank: string;
  }>(
    `SELECT p.version, m.display_name AS merchant_name, m.bank_id AS merchant_bank, m.webhook_url AS merchant_webhook,
       c.display_name AS customer_name, c.bank_id AS customer_bank
     FROM payments p JOIN parties m ON m.id = p.merchant_id JOIN parties c ON c.id = p.customer_id
     WHERE p.id = $1 FOR UPDATE OF p`,
    [read.id],
  );
  const row = rows[0];
  if (row === undefined) throw new MpayError('PAYMENT_UNKNOWN');
  const same =
    row.version === read.version &&
    row.merchant_name === read.merchant.displayName &&
    row.merchant_bank === read.merchant.bankId &&
    row.merchant_webhook === read.merchant.webhookUrl &&
    row.customer_name === read.customer.displayName &&
    row.customer_bank === read.customer.bankId;
  return same ? read : findPayment(sql, read.id, { lock: true });
}

/** The payment, or PAYMENT_UNKNOWN. `lock` takes the row lock for a transition (with lockPayment, the only places locks are taken). */
export async function findPayment(sql: Sql, id: string, options: { lock?: boolean } = {}): Promise<Payment> {
  const { rows } = await sql.query<PaymentRow>(
    `${selectPayment} WHERE p.id = $1${options.lock === true ? ' FOR UPDATE OF p' : ''}`,
    [id],
  );
  if (rows[0] === undefined) throw new MpayError('PAYMENT_UNKNOWN');
  return toPayment(rows[0]);
}

/**
 * The rate limits `insertPayment` checks in its own statement: a count over
 * one fails the statement (REQUEST_RATE_LIMITED, the merchant's limit first),
 * so a COMMIT sent with it does not run. Without them the caller checks the
 * counts returned.
 */
export interface RateLimitsInStatement {
  readonly merchantMax: number;
  readonly customerMax: number;
}

export interface NewPayment {
  readonly message: ImsMessage;
  readonly merchantId: string;
  readonly customerId: string;
  readonly payerAccount: string;
  readonly expiresAt: Date;
  readonly now: Date;
  /**
   * The rate window the request counts in, for its merchant and its customer
   * (rate-window.ts): its bucket is the one `now` falls in.
   */
  readonly rateWindowSeconds: number;
}

/**
 * Inserts a payment in the protocol's initial state with its first event, and
 * counts the request in its merchant's and its customer's rate bucket, in one
 * statement; a second one with the id is a replay (and is not counted).
 *
 * Returns each party's requests in the window, this one included: exactly,
 * when the caller holds lockCustomer and lockMerchant (taken before this
 * statement, so that its snapshot sees every other request of those parties
 * committed, in any bucket). Later buckets than this one's count too, up to
 * a window ahead (rate-window.ts): a request that read its clock later may
 * have taken the locks first and committed while this one waited, and the
 * two share a window. The oldest bucket (for Retry-After) is this request's
 * own only when another request is in it: a refusal rolls this one back.
 * A replay fails this statement itself (MESSAGE_REPLAYED, refusals.ts), and
 * with `refuseOver` so does a count over a limit (REQUEST_RATE_LIMITED): a
 * COMMIT sent with it does not run. Without `refuseOver` the caller checks
 * the counts returned, and throws to roll the request back. The locks last to the commit, so a busy merchant's
 * requests queue only for that end of their transactions, after their
 * cryptography.
 */
export async function insertPayment(
  sql: Sql,
  payment: NewPayment,
  initial: PaymentState,
  refuseOver?: RateLimitsInStatement,
): Promise<{ merchant: RequestsInWindow; customer: RequestsInWindow }> {
  const { message } = payment;
  const bucket = rateBucketStart(payment.now, payment.rateWindowSeconds);
  const query = sql.query<WindowRow>(
    `WITH inserted AS (
       INSERT INTO payments (id, merchant_id, customer_id, procedure, currency, amount_minor, security_level, state,
         message, payer_account, expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) ON CONFLICT (id) DO NOTHING
       RETURNING id),
     counted AS (
       INSERT INTO request_rate_buckets (party_id, role, bucket_start, requests)
       SELECT party.id, party.role, $15, 1
       FROM inserted, (VALUES ($2, 'merchant', 1), ($3, 'customer', 2)) AS party (id, role, lock_order)
       ORDER BY party.lock_order
       ON CONFLICT (party_id, role, bucket_start) DO UPDATE SET requests = request_rate_buckets.requests + 1
       RETURNING role, requests),
     others AS (
       SELECT role, sum(requests) AS requests, min(bucket_start) AS oldest FROM request_rate_buckets
       WHERE ((party_id = $2 AND role = 'merchant') OR (party_id = $3 AND role = 'customer'))
         AND bucket_start > $16 AND bucket_start <= $17 AND bucket_start <> $15
       GROUP BY role),
     event AS (
       INSERT INTO payment_events (payment_id, sequence, from_state, to_state, event, step, detail, created_at)
       SELECT id, 1, NULL, $8, NULL, $13, $14, $12 FROM inserted),
     windows AS (
       SELECT c.role, c.requests + COALESCE(e.requests, 0) AS requests,
         CASE WHEN c.requests > 1 THEN LEAST(e.oldest, $15) ELSE COALESCE(e.oldest, $15) END AS oldest
       FROM counted c LEFT JOIN others e USING (role)),
     over AS (
       SELECT role, oldest FROM windows
       WHERE $18::boolean AND requests - 1 >= CASE role WHEN 'merchant' THEN $19::bigint ELSE $20::bigint END
       ORDER BY CASE role WHEN 'merchant' THEN 1 ELSE 2 END LIMIT 1)
     SELECT w.role, w.requests::text AS requests, w.oldest,
       (SELECT mpay_refuse('REQUEST_RATE_LIMITED', o.role || ' ' || (extract(epoch FROM o.oldest) * 1000)::bigint)
        FROM over o) AS refused
     FROM windows w
     UNION ALL
     SELECT NULL, NULL, NULL, mpay_refuse('MESSAGE_REPLAYED', 'transactionId')
     WHERE NOT EXISTS (SELECT 1 FROM inserted)`,
    [
      message.transactionId,
      payment.merchantId,
      payment.customerId,
      message.procedure,
      message.data.amount.currency,
      message.data.amount.minor,
      message.type,
      initial,
      JSON.stringify(imsToJson(message)),
      payment.payerAccount,
      payment.expiresAt.toISOString(),
      payment.now.toISOString(),
      'iMS §5 step 1',
      'merchant request verified',
      bucket.toISOString(),
      rateWindowBucketsAfter(payment.now, payment.rateWindowSeconds).toISOString(),
      rateWindowBucketsUntil(payment.now, payment.rateWindowSeconds).toISOString(),
      refuseOver !== undefined,
      refuseOver?.merchantMax ?? 0,
      refuseOver?.customerMax ?? 0,
    ],
  );
  const { rows } = await query.catch((error: unknown) => {
    throw refusalOf(error, payment.now, payment.rateWindowSeconds) ?? error;
  });
  if (rows.length === 0) throw new MpayError('MESSAGE_REPLAYED', 'transactionId');
  return windowsOf(rows);
}

/**
 * The payment `insertPayment` just stored, as `findPayment` would read it
 * back (the row is this transaction's own, so no other can lock it before
 * the commit): no read needed for the step that follows in the same
 * transaction.
 */
export function insertedPayment(
  payment: NewPayment,
  parties: { readonly merchant: Party; readonly customer: Party },
  initial: PaymentState,
): Payment {
  const { message } = payment;
  if (parties.merchant.id !== payment.merchantId || parties.customer.id !== payment.customerId)
    throw new Error('assertion failed: the parties are the payment’s');
  return {
    id: message.transactionId,
    procedure: message.procedure,
    currency: message.data.amount.currency,
    amountMinor: message.data.amount.minor,
    securityLevel: message.type,
    state: initial,
    message,
    payerAccount: payment.payerAccount,
    merchant: parties.merchant,
    customer: parties.customer,
    pushMessage: null,
    pushCertificateSha256: null,
    receipt: null,
    bankAnswer: null,
    decline: null,
    outcome: null,
    failureCode: null,
    expiresAt: payment.expiresAt,
    createdAt: payment.now,
    updatedAt: payment.now,
    version: 0,
  };
}

/** What a transition stores besides the state. */
export interface PaymentChanges {
  readonly message?: ImsMessage;
  readonly pushMessage?: string;
  readonly pushCertificateSha256?: string;
  readonly receipt?: string;
  readonly bankAnswer?: string;
  readonly decline?: string;
  readonly outcome?: string;
  readonly failureCode?: string;
  readonly detail?: string;
}

/** One effect for the outbox: what kind of delivery, and its payload. */
export interface OutboxEntry {
  readonly kind: 'device_push' | 'bank_order' | 'webhook' | 'log_entry';
  readonly payload: Readonly<Record<string, unknown>>;
  /** Due this long after the step (default: at once). */
  readonly delayMs?: number;
  /**
   * A payment request's push made at the commit (a lease's `pushedAtCommit`,
   * effects.ts's requestPushedAtCommit): the row is written delivered, and
   * the caller pushes to the streams held here once committed
   * (deliverAfterCommit). Only with a lease.
   */
  readonly pushedAtCommit?: boolean;
}

/** An outbox row as a delivery takes it: claimed by a round, or leased as it was written (OutboxLease). */
export interface OutboxRow {
  readonly id: string;
  readonly payment_id: string;
  readonly kind: 'device_push' | 'bank_order' | 'webhook' | 'log_entry' | 'refund_order' | 'macro_mail';
  readonly payload: string;
  readonly attempts: number;
}

/**
 * The effects a step writes due at once, leased to this start as they are
 * written, as a round's claim would lease them (@mpay/storage's
 * outbox-leases.ts): due again at `until`, stamped with `owner` while that
 * boot id is registered. The caller delivers `rows` after its commit, without
 * a claim; a start that dies first leaves them to its next start, or to any
 * worker once `until` has passed. `persistStep` fills `rows`.
 */
export interface OutboxLease {
  readonly until: Date;
  readonly owner: string | null;
  readonly rows: OutboxRow[];
  /**
   * Each payment as the step that wrote its rows left it (`persistStep`
   * fills it beside `rows`): what a push renders right after the commit,
   * without reading the payment back.
   */
  readonly payments: Map<string, Payment>;
  /**
   * The payments whose request the step pushed at its commit
   * (OutboxEntry.pushedAtCommit): the caller hands it to the streams held
   * here after the commit (`persistStep` fills it).
   */
  readonly pushedAtCommit: string[];
}

/**
 * Persists one step of the protocol inside the caller's transaction, on a
 * payment read with `lock`, in one statement: the new state and its changes,
 * the event (with the paper's step) and every effect as an outbox row, in the
 * order given; with `lease`, the effects due at once are written leased and
 * added to `lease.rows`. The state actually stored must still be the step's
 * `from` (paired assertion with the lock). Returns the payment as it now
 * stands, as `findPayment` would read it back.
 */
export function persistStep(
  sql: Sql,
  payment: Payment,
  event: PaymentEventKind,
  result: PaymentStepResult,
  changes: PaymentChanges,
  outbox: readonly OutboxEntry[],
  now: Date,
  lease?: OutboxLease,
): Promise<Payment> {
  // Thrown here, not as a rejected promise: nothing started beside the step (its COMMIT included) leaves.
  if (result.from !== payment.state) throw new Error('assertion failed: step computed on the locked state');
  if (lease === undefined && outbox.some((entry) => entry.pushedAtCommit === true))
    throw new Error('assertion failed: a push made at the commit has a lease to hand it over');
  return writeStep(sql, payment, event, result, changes, outbox, now, lease);
}

/** persistStep's statement, once its checks passed (they throw before anything leaves). */
async function writeStep(...step: Parameters<typeof persistStep>): Promise<Payment> {
  const [sql, payment, event, result, changes, outbox, now, lease] = step;
  const delivered = outbox.map((entry) => entry.pushedAtCommit === true);
  const leased = outbox.map(
    (entry, position) => lease !== undefined && (entry.delayMs ?? 0) === 0 && !delivered[position],
  );
  const { rows } = await sql
    .query<{
      id: string | null;
      kind: OutboxRow['kind'] | null;
      payload: string | null;
    }>(
      `WITH updated AS (
       UPDATE payments SET state = $2, message = COALESCE($3, message), push_message = COALESCE($4, push_message),
         receipt = COALESCE($5, receipt), bank_answer = COALESCE($6, bank_answer), decline = COALESCE($7, decline),
         outcome = COALESCE($8, outcome), failure_code = COALESCE($9, failure_code), updated_at = $10,
         push_certificate_sha256 = COALESCE($18, push_certificate_sha256), version = version + 1
       WHERE id = $1 AND state = $11
       RETURNING id),
     event AS (
       INSERT INTO payment_events (payment_id, sequence, from_state, to_state, event, step, detail, created_at)
       SELECT id, COALESCE((SELECT MAX(sequence) FROM payment_events WHERE payment_id = $1), 0) + 1,
         $11, $2, $12, $13, $14, $10
       FROM updated),
     lease_holder AS (SELECT boot_id FROM outbox_instances WHERE boot_id = $20::uuid),
     effects AS (
       INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at, lease_owner, delivered_at, attempts)
       SELECT updated.id, effect.kind, effect.payload, CASE WHEN effect.leased THEN $19 ELSE effect.due END, $10,
         CASE WHEN effect.leased THEN (SELECT boot_id FROM lease_holder) END,
         CASE WHEN effect.delivered THEN $10::timestamptz END, CASE WHEN effect.delivered THEN 1 ELSE 0 END
       FROM updated, unnest($15::text[], $16::text[], $17::timestamptz[], $21::boolean[], $22::boolean[])
         WITH ORDINALITY AS effect (kind, payload, due, leased, delivered, position)
       ORDER BY effect.position
       RETURNING id, kind, payload)
     SELECT effects.id::text AS id, effects.kind, effects.payload
     -- No payment in the step's state: an error (division by zero, 22012), not an empty answer, so that
     -- whatever leaves with this statement in its pipeline (a COMMIT too) is not run, and all rolls back.
     FROM (SELECT 1 / (SELECT count(*)::int FROM updated) AS stepped) AS guard
       LEFT JOIN updated ON TRUE LEFT JOIN effects ON TRUE
     WHERE guard.stepped = 1 ORDER BY effects.id`,
      [
        payment.id,
        result.next,
        changes.message === undefined ? null : JSON.stringify(imsToJson(changes.message)),
        changes.pushMessage ?? null,
        changes.receipt ?? null,
        changes.bankAnswer ?? null,
        changes.decline ?? null,
        changes.outcome ?? null,
        changes.failureCode ?? null,
        now.toISOString(),
        result.from,
        event,
        result.step,
        changes.detail ?? null,
        outbox.map((entry) => entry.kind),
        outbox.map((entry) => JSON.stringify(entry.payload)),
        outbox.map((entry) => new Date(now.getTime() + (entry.delayMs ?? 0)).toISOString()),
        changes.pushCertificateSha256 ?? null,
        lease?.until.toISOString() ?? null,
        lease?.owner ?? null,
        leased,
        delivered,
      ],
    )
    .catch((error: unknown) => {
      // The guard's division by zero: no payment in the step's state (another step came first).
      if ((error as { code?: unknown }).code === '22012')
        throw new Error(`assertion failed: payment ${payment.id} is no longer ${result.from}`, {
          cause: error,
        });
      throw error;
    });
  if (rows.length === 0) throw new Error(`assertion failed: payment ${payment.id} is still ${result.from}`);
  if (lease !== undefined) {
    // Ids in the order of the effects (the insert's ORDER BY): the ones written leased are delivered by the caller.
    const written = rows.filter((row) => row.id !== null);
    // PostgreSQL and PGlite number the rows as the insert's ORDER BY gives them: checked, never assumed silently.
    if (
      written.length !== outbox.length ||
      written.some((row, position) => row.kind !== outbox[position]?.kind)
    )
      throw new Error('assertion failed: every effect written, in order');
    written.forEach((row, position) => {
      if (delivered[position] && !lease.pushedAtCommit.includes(payment.id))
        lease.pushedAtCommit.push(payment.id);
      if (!leased[position] || row.id === null || row.kind === null || row.payload === null) return;
      lease.rows.push({
        id: row.id,
        payment_id: payment.id,
        kind: row.kind,
        payload: row.payload,
        attempts: 0,
      });
    });
  }
  const stepped: Payment = {
    ...payment,
    state: result.next,
    message: changes.message ?? payment.message,
    pushMessage: changes.pushMessage ?? payment.pushMessage,
    pushCertificateSha256: changes.pushCertificateSha256 ?? payment.pushCertificateSha256,
    receipt: changes.receipt ?? payment.receipt,
    bankAnswer: changes.bankAnswer ?? payment.bankAnswer,
    decline: changes.decline ?? payment.decline,
    outcome: changes.outcome ?? payment.outcome,
    failureCode: changes.failureCode ?? payment.failureCode,
    updatedAt: now,
    version: payment.version + 1,
  };
  lease?.payments.set(payment.id, stepped);
  return stepped;
}

export interface PaymentEventRecord {
  readonly sequence: number;
  readonly fromState: PaymentState | null;
  readonly toState: PaymentState;
  readonly event: string | null;
  readonly step: string | null;
  readonly detail: string | null;
  readonly createdAt: Date;
}

export async function listPaymentEvents(sql: Sql, paymentId: string): Promise<PaymentEventRecord[]> {
  const { rows } = await sql.query<{
    sequence: number;
    from_state: string | null;
    to_state: string;
    event: string | null;
    step: string | null;
    detail: string | null;
    created_at: Date | string;
  }>(
    `SELECT sequence, from_state, to_state, event, step, detail, created_at FROM payment_events
     WHERE payment_id = $1 ORDER BY sequence`,
    [paymentId],
  );
  return rows.map((row) => {
    if (!isPaymentState(row.to_state))
      throw new Error(`assertion failed: stored event state ${row.to_state}`);
    const fromState = row.from_state !== null && isPaymentState(row.from_state) ? row.from_state : null;
    return {
      sequence: row.sequence,
      fromState,
      toState: row.to_state,
      event: row.event,
      step: row.step,
      detail: row.detail,
      createdAt: new Date(row.created_at),
    };
  });
}

/** One page of the requests a customer's device still has to answer, newest first. */
export async function pendingRequestsPage(
  sql: Sql,
  customerId: string,
  now: Date,
  pageSize: number,
  after?: { createdAt: Date; id: string },
): Promise<{ id: string; pushMessage: string; createdAt: Date }[]> {
  const { rows } = await sql.query<{ id: string; push_message: string | null; created_at: Date | string }>(
    `SELECT id, push_message, created_at FROM payments
     WHERE customer_id = $1 AND state = 'awaiting_customer_signature' AND expires_at > $2
       AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text))
     ORDER BY created_at DESC, id DESC LIMIT $5`,
    [customerId, now.toISOString(), after?.createdAt.toISOString() ?? null, after?.id ?? '', pageSize],
  );
  return rows.map((row) => {
    if (row.push_message === null)
      throw new Error(`assertion failed: pending payment ${row.id} has its push`);
    return { id: row.id, pushMessage: row.push_message, createdAt: new Date(row.created_at) };
  });
}

/** Payments in `states` whose request expired before the customer answered (the expiry sweep). */
export async function expiredPaymentIds(
  sql: Sql,
  states: readonly PaymentState[],
  now: Date,
  limit: number,
): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    'SELECT id FROM payments WHERE state = ANY($1) AND expires_at <= $2 ORDER BY expires_at LIMIT $3',
    [states, now.toISOString(), limit],
  );
  return rows.map((row) => row.id);
}

/**
 * The customer's payments in one currency since `since` that still count
 * towards the security level (asked, authorised or paid: not those declined,
 * cancelled, expired, refused or failed), with the level each was given.
 * The caller holds the customer's lock (lockCustomer), so two requests at
 * once see each other.
 */
export async function recentPaymentsOf(
  sql: Sql,
  customerId: string,
  currency: string,
  since: Date,
  counting: readonly PaymentState[],
): Promise<RecentPayment[]> {
  const { rows } = await sql.query<{
    amount_minor: string;
    security_level: string;
    state: string;
    created_at: Date | string;
  }>(
    `SELECT amount_minor::text AS amount_minor, security_level, state, created_at FROM payments
      WHERE customer_id = $1 AND currency = $2 AND created_at > $3 AND state = ANY($4)`,
    [customerId, currency, since.toISOString(), counting],
  );
  return rows.map((row) => ({
    amountMinor: BigInt(row.amount_minor),
    level: readOneLevel(row.security_level),
    at: new Date(row.created_at),
    authenticated: authenticated.includes(row.state as PaymentState),
  }));
}

/** The states in which the customer has signed (with what the level asked): an authentication. */
const authenticated: readonly PaymentState[] = ['customer_signature_verified', 'funds_transferred'];

function readOneLevel(value: string): SecurityLevel {
  if (value === 'small' || value === 'medium' || value === 'large') return value;
  throw new Error(`assertion failed: a stored security level is one of the three, got ${value}`);
}

/**
 * Serialises the end of one merchant's payment requests, from here to the
 * commit (taken after lockCustomer, never before: one order everywhere).
 * insertPayment's count is exact only under it: without it, a request still
 * uncommitted in one bucket is not seen by another counting in the next one
 * (a different bucket row, so no wait).
 */
export async function lockMerchant(sql: Sql, merchantId: string): Promise<void> {
  // NO KEY UPDATE: the payments' foreign keys take KEY SHARE on the same row and must not wait.
  await sql.query('SELECT id FROM parties WHERE id = $1 FOR NO KEY UPDATE', [merchantId]);
}

/** Serialises the security assessment of one customer's requests (held to the end of the transaction). */
export async function lockCustomer(sql: Sql, customerId: string): Promise<void> {
  // NO KEY UPDATE: the payments' foreign keys take KEY SHARE on the same row and must not wait.
  await sql.query('SELECT id FROM parties WHERE id = $1 FOR NO KEY UPDATE', [customerId]);
}

/** How many payment requests fall in a rate window, and the start of the oldest bucket counted. */
export interface RequestsInWindow {
  readonly count: number;
  readonly oldest: Date | null;
}

/**
 * A merchant's requests and a customer's (from all merchants) in the rate
 * window that ends at `now`, and in the buckets up to a window ahead (a
 * request whose clock read later, counted first), each with the start of
 * its oldest bucket: the rate limits, in one statement that reads at most
 * 121 buckets per party (rate-window.ts).
 */
export async function requestsInWindow(
  sql: Sql,
  parties: { readonly merchantId: string; readonly customerId: string },
  now: Date,
  windowSeconds: number,
): Promise<{ merchant: RequestsInWindow; customer: RequestsInWindow }> {
  const { rows } = await sql.query<WindowRow>(
    `SELECT role, sum(requests)::text AS requests, min(bucket_start) AS oldest FROM request_rate_buckets
     WHERE ((party_id = $1 AND role = 'merchant') OR (party_id = $2 AND role = 'customer'))
       AND bucket_start > $3 AND bucket_start <= $4
     GROUP BY role`,
    [
      parties.merchantId,
      parties.customerId,
      rateWindowBucketsAfter(now, windowSeconds).toISOString(),
      rateWindowBucketsUntil(now, windowSeconds).toISOString(),
    ],
  );
  return windowsOf(rows);
}

interface WindowRow {
  readonly role: string;
  readonly requests: string;
  readonly oldest: Date | string;
}

function windowsOf(rows: readonly WindowRow[]): { merchant: RequestsInWindow; customer: RequestsInWindow } {
  const window = (role: 'merchant' | 'customer'): RequestsInWindow => {
    const row = rows.find((candidate) => candidate.role === role);
    return row === undefined
      ? { count: 0, oldest: null }
      : { count: Number(row.requests), oldest: new Date(row.oldest) };
  };
  return { merchant: window('merchant'), customer: window('customer') };
}

/**
 * Forgets, up to `limit`, the rate buckets that have left every window of
 * `windowSeconds` ending at `now` or later. Returns how many.
 */
export async function forgetRateBuckets(
  sql: Sql,
  now: Date,
  windowSeconds: number,
  limit: number,
): Promise<number> {
  const deleted = await sql.query(
    `DELETE FROM request_rate_buckets WHERE (party_id, role, bucket_start) IN (
       SELECT party_id, role, bucket_start FROM request_rate_buckets WHERE bucket_start <= $1 LIMIT $2)`,
    [rateWindowBucketsAfter(now, windowSeconds).toISOString(), limit],
  );
  return deleted.rowCount;
}
