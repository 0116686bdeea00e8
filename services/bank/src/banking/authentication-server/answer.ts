import { isMpayError } from '@mpay/protocol';
import type { BankingContext } from '../context.ts';
import {
  claimBankingRequest,
  type OpenedBankingRequest,
  openBankingRequest,
  recordRequestOutcome,
  sealBankingAnswer,
} from './request.ts';

/** Carries out an opened, claimed request: the business logic server's dispatcher. */
export type BankingRequestExecutor = (
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
) => Promise<Readonly<Record<string, unknown>>>;

export interface BankingRequestAnswer {
  readonly sessionId: string;
  readonly requestId: string;
  /** The bank's signed answer sealed under the session key. */
  readonly answer: string;
}

/**
 * POST /banking/requests from end to end: open (verify, no writes) → claim
 * (its own committed transaction: a replay never runs twice) → execute →
 * seal → record. A refusal by the executor (an MpayError: nothing moved) is
 * recorded on the claimed row with its code and answered as the usual
 * problem JSON; anything else is a bug and leaves the row claimed without an
 * outcome, for the operator to see.
 */
export async function answerBankingRequest(
  context: BankingContext,
  body: { sessionId: string; request: string },
  execute: BankingRequestExecutor,
): Promise<BankingRequestAnswer> {
  const now = context.clock();
  const opened = await openBankingRequest(context, body, now);
  await claimBankingRequest(context, opened, now);
  try {
    let result: Readonly<Record<string, unknown>>;
    try {
      result = await execute(context, opened, now);
    } catch (error) {
      if (isMpayError(error)) await recordRequestOutcome(context, opened.requestId, { code: error.code });
      throw error;
    }
    const { jws, sealed } = await sealBankingAnswer(context, opened, result);
    await recordRequestOutcome(context, opened.requestId, { answer: jws });
    return { sessionId: opened.sessionId, requestId: opened.requestId, answer: sealed };
  } finally {
    // The session key lives no longer than the request that needed it.
    opened.sessionKey.fill(0);
  }
}
