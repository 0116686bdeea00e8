import {
  isPaymentState,
  MpayError,
  type PaymentState,
  type PublicStatus,
  paymentStates,
  publicStatusOf,
} from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import {
  countPaymentsByState,
  listPayments,
  logEntryStateOf,
  type PaymentPageCursor,
  type PaymentSummary,
  paymentEffectsOf,
} from '../payments/listing.ts';
import { findPayment, listPaymentEvents } from '../payments/store.ts';
import { adminPaymentDetail, adminPaymentsPage } from './answers.ts';
import { authenticateOperator } from './auth.ts';
import { paymentId } from './payments.ts';

/** Page sizes of GET /admin/payments: the default, and the most one page answers. */
export const adminPaymentsPageSizeDefault = 20;
export const adminPaymentsPageSizeMax = 100;
/** Longest `after` cursor accepted (an ISO time and a payment id, base64url). */
const cursorLengthMax = 128;

const publicStatuses: readonly PublicStatus[] = Object.freeze([
  ...new Set(paymentStates.map(publicStatusOf)),
]);

function isPublicStatus(value: string): value is PublicStatus {
  return (publicStatuses as readonly string[]).includes(value);
}

/** The states a `status` (public) or `state` (internal) filter names; undefined: every state. */
function statesOf(query: Record<string, unknown>): readonly PaymentState[] | undefined {
  const { status, state } = query;
  if (status !== undefined && state !== undefined) throw new MpayError('REQUEST_INVALID', 'status or state');
  if (status !== undefined) {
    if (typeof status !== 'string' || !isPublicStatus(status))
      throw new MpayError('REQUEST_INVALID', 'status');
    return paymentStates.filter((candidate) => publicStatusOf(candidate) === status);
  }
  if (state !== undefined) {
    if (typeof state !== 'string' || !isPaymentState(state)) throw new MpayError('REQUEST_INVALID', 'state');
    return [state];
  }
  return undefined;
}

function limitOf(query: Record<string, unknown>): number {
  const { limit } = query;
  if (limit === undefined) return adminPaymentsPageSizeDefault;
  const parsed = typeof limit === 'string' && /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
  if (!(parsed >= 1 && parsed <= adminPaymentsPageSizeMax)) throw new MpayError('REQUEST_INVALID', 'limit');
  return parsed;
}

export function formatPaymentCursor(cursor: PaymentPageCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()} ${cursor.id}`).toString('base64url');
}

function cursorOf(query: Record<string, unknown>): PaymentPageCursor | undefined {
  const { after } = query;
  if (after === undefined) return undefined;
  if (typeof after !== 'string' || after.length > cursorLengthMax || !/^[A-Za-z0-9_-]+$/.test(after))
    throw new MpayError('REQUEST_INVALID', 'after');
  const [time, id, ...rest] = Buffer.from(after, 'base64url').toString('utf8').split(' ');
  const createdAt = new Date(time ?? '');
  if (rest.length > 0 || id === undefined || id.length === 0 || Number.isNaN(createdAt.getTime()))
    throw new MpayError('REQUEST_INVALID', 'after');
  return { createdAt, id };
}

function summaryJson(payment: PaymentSummary) {
  return {
    id: payment.id,
    procedure: payment.procedure,
    state: payment.state,
    status: publicStatusOf(payment.state),
    securityLevel: payment.securityLevel,
    amount: { currency: payment.currency, minor: payment.amountMinor.toString() },
    merchant: payment.merchant,
    customer: payment.customer,
    ...(payment.failureCode === null ? {} : { failureCode: payment.failureCode }),
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
    expiresAt: payment.expiresAt.toISOString(),
  };
}

function countsJson(counts: ReadonlyMap<PaymentState, number>) {
  const byStatus: Record<string, number> = Object.fromEntries(publicStatuses.map((status) => [status, 0]));
  for (const [state, count] of counts)
    byStatus[publicStatusOf(state)] = (byStatus[publicStatusOf(state)] ?? 0) + count;
  return {
    byState: Object.fromEntries(paymentStates.map((state) => [state, counts.get(state) ?? 0])),
    byStatus,
  };
}

async function paymentDetail(context: GatewayContext, id: string) {
  const payment = await findPayment(context.database, id);
  const [events, effects, logged] = [
    await listPaymentEvents(context.database, id),
    await paymentEffectsOf(context.database, id),
    await logEntryStateOf(context.database, id),
  ];
  return {
    payment: summaryJson({
      ...payment,
      merchant: { id: payment.merchant.id, displayName: payment.merchant.displayName },
      customer: { id: payment.customer.id, displayName: payment.customer.displayName },
    }),
    steps: events.map((event) => ({
      sequence: event.sequence,
      from: event.fromState,
      to: event.toState,
      status: publicStatusOf(event.toState),
      event: event.event,
      step: event.step,
      detail: event.detail,
      at: event.createdAt.toISOString(),
    })),
    effects: effects.map((effect) => ({
      kind: effect.kind,
      attempts: effect.attempts,
      state:
        effect.deliveredAt !== null ? 'delivered' : effect.abandonedAt !== null ? 'abandoned' : 'pending',
      createdAt: effect.createdAt.toISOString(),
      ...(effect.deliveredAt === null ? {} : { deliveredAt: effect.deliveredAt.toISOString() }),
      ...(effect.abandonedAt === null ? {} : { abandonedAt: effect.abandonedAt.toISOString() }),
      ...(effect.lastError === null ? {} : { lastError: effect.lastError }),
    })),
    log:
      logged === undefined
        ? null
        : { index: logged.index === null ? null : logged.index.toString(), receipted: logged.receipted },
  };
}

/**
 * The operator's view of payments (Bearer operator token), for the console:
 * GET /admin/payments?status=|state=&limit=&after= → a page newest first,
 * the cursor of the next page, and how many payments are in each state and
 * public status; GET /admin/payments/:id → the payment, its protocol steps
 * (the append-only state history with the paper's step of each), its
 * effects as the outbox delivered them, and its log entry.
 */
export function registerAdminPaymentRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken: string | undefined,
): void {
  const operator = async (request: FastifyRequest) => authenticateOperator(operatorToken, request);
  const tags = ['operations'];
  const pageSchema = {
    summary: 'Payments newest first, with counts by state and status (operator)',
    tags,
    querystring: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        state: { type: 'string' },
        limit: { type: 'string', pattern: '^\\d{1,4}$' },
        after: { type: 'string', maxLength: cursorLengthMax },
      },
    },
    response: { 200: adminPaymentsPage },
  };
  const detailSchema = {
    summary: 'A payment with its protocol steps, effects and log entry (operator)',
    tags,
    response: { 200: adminPaymentDetail },
  };
  app.get('/admin/payments', { schema: pageSchema, preValidation: operator }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const states = statesOf(query);
    const limit = limitOf(query);
    const after = cursorOf(query);
    const payments = await listPayments(context.database, { states, limit, after });
    const last = payments.length === limit ? payments[payments.length - 1] : undefined;
    return {
      payments: payments.map(summaryJson),
      next: last === undefined ? null : formatPaymentCursor(last),
      counts: countsJson(await countPaymentsByState(context.database)),
    };
  });
  app.get('/admin/payments/:id', { schema: detailSchema, preValidation: operator }, async (request) =>
    paymentDetail(context, paymentId(request)),
  );
}
