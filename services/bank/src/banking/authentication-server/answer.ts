import { type ErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import type { BankingContext } from '../context.ts';
import {
  BankingOutcomeRecorded,
  type ClaimedBankingRequest,
  claimBankingRequest,
  type OpenedBankingRequest,
  openBankingRequest,
  recordBankingAnswer,
  recordBankingRefusal,
  recordedBankingOutcome,
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

type RecordedOutcome = Exclude<ClaimedBankingRequest, { state: 'claimed' | 'unfinished' }>;

/** A recorded outcome as the device gets it: the result to sign and seal, or the refusal thrown again. */
function resultOf(outcome: RecordedOutcome): Readonly<Record<string, unknown>> {
  if (outcome.state === 'answered') return outcome.result;
  throw new MpayError(outcome.code as ErrorCode);
}

/**
 * Runs a claimed request whose outcome is not recorded. A refusal (an
 * MpayError: its transaction rolled back, nothing of it committed) is
 * recorded with its code, unless a concurrent try of the same request
 * recorded an outcome first: then, as when this try's effect transaction
 * found that outcome (BankingOutcomeRecorded, rolled back), the recorded
 * outcome is the answer. Any other failure leaves the row without an
 * outcome: nothing committed (a request that writes records its outcome
 * with its effect), and a retry runs it again.
 */
async function execute(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
  executor: BankingRequestExecutor,
): Promise<Readonly<Record<string, unknown>>> {
  try {
    return await executor(context, opened, now);
  } catch (error) {
    if (isMpayError(error)) {
      if (await recordBankingRefusal(context, opened.requestId, error.code)) throw error;
    } else if (!(error instanceof BankingOutcomeRecorded)) {
      throw error;
    }
    const recorded = await recordedBankingOutcome(context, opened.requestId);
    if (recorded.state === 'unfinished') throw new Error('assertion failed: an outcome was recorded');
    return resultOf(recorded);
  }
}

/**
 * POST /banking/requests from end to end: open (verify, no writes) → claim
 * (its own committed transaction) → execute → sign and seal → record the
 * signed answer.
 *
 * Idempotent per request id: a request that writes records its outcome
 * (outcome 'OK' and its plain result) in the transaction of its effect
 * (recordOutcomeWithEffect), so its effect and its outcome commit together;
 * a read-only one records it with its signed answer, afterwards. A retry of
 * a claimed request (same id, same signed content: claimBankingRequest)
 *
 * - with a recorded outcome is answered it again, executing nothing: the
 *   recorded result signed and sealed anew under the retry's session key
 *   (the key is never stored; a fresh signature has a fresh lifetime), or
 *   the recorded refusal code;
 * - without one is executed now: no outcome proves that no effect ever
 *   committed (a crash or a cut between the claim and the effect's commit,
 *   an error before it). Should the first try still be running, its effect
 *   transaction and this one's exclude each other on the row's lock, and the
 *   one that finds the outcome recorded rolls back and answers it.
 *
 * A request id claimed with other content is BANKING_REQUEST_REPLAYED.
 */
export async function answerBankingRequest(
  context: BankingContext,
  body: { sessionId: string; request: string },
  executor: BankingRequestExecutor,
): Promise<BankingRequestAnswer> {
  const now = context.clock();
  const opened = await openBankingRequest(context, body, now);
  try {
    const claimed = await claimBankingRequest(context, opened, now);
    let result =
      claimed.state === 'claimed' || claimed.state === 'unfinished'
        ? await execute(context, opened, now, executor)
        : resultOf(claimed);
    const signed = await sealBankingAnswer(context, opened, result);
    let { sealed } = signed;
    if (!(await recordBankingAnswer(context, opened, signed.jws))) {
      // A concurrent try of a read-only request recorded its refusal first: that is the outcome.
      const recorded = await recordedBankingOutcome(context, opened.requestId);
      if (recorded.state === 'unfinished') throw new Error('assertion failed: an outcome was recorded');
      result = resultOf(recorded);
      ({ sealed } = await sealBankingAnswer(context, opened, result));
    }
    return { sessionId: opened.sessionId, requestId: opened.requestId, answer: sealed };
  } finally {
    // The session key lives no longer than the request that needed it.
    opened.sessionKey.fill(0);
  }
}
