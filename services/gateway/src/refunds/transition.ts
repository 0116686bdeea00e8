import { type RefundEventKind, stepRefund } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { findPayment } from '../payments/store.ts';
import { materialiseRefundEffects, type RefundEvidence } from './effects.ts';
import { findRefund, persistRefundStep, type Refund } from './store.ts';

export interface RefundEventInput {
  readonly event: RefundEventKind;
  readonly evidence?: RefundEvidence;
  readonly detail?: string;
}

/**
 * Applies one event to a refund inside `sql`: lock the row, let the pure
 * step function decide, materialise its effects (signed receipt or outcome,
 * outbox rows), and persist all of it. Throws what the step throws; nothing
 * is written then, since the caller's transaction rolls back.
 */
export async function applyRefundEventIn(
  context: GatewayContext,
  sql: Sql,
  refundId: string,
  input: RefundEventInput,
  now: Date,
): Promise<Refund> {
  const refund = await findRefund(sql, refundId, { lock: true });
  const result = stepRefund(refund, input.event);
  const payment = await findPayment(sql, refund.paymentId);
  const evidence = input.evidence ?? {};
  const { changes, outbox } = await materialiseRefundEffects(
    context,
    sql,
    refund,
    payment,
    result.next,
    result.effects,
    evidence,
    now,
  );
  await persistRefundStep(
    sql,
    refund,
    { from: result.from, next: result.next, step: result.step, event: input.event },
    {
      ...changes,
      bankAnswer: evidence.bankAnswer,
      failureCode: evidence.failureCode,
      detail: input.detail,
    },
    outbox,
    now,
  );
  return findRefund(sql, refundId);
}
