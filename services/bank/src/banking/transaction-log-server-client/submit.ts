import {
  buildReceipt,
  checkpointFollowerOf,
  type SubmitterCredentials,
  submitMessages,
} from '@mpay/log-client';
import { isMpayError } from '@mpay/protocol';
import type { BankingContext, BankTransactionLogLink } from '../context.ts';
import {
  type BankingTransactionRecord,
  claimDueBankingTransactions,
  lastStoredReceipt,
  recordAttemptFailure,
  recordLogIndex,
  recordReceipt,
} from './store.ts';

/** The limits of the transaction log server client, as named options. */
export const bankingLogSubmission = Object.freeze({
  /** Most transactions one worker pass takes; the next pass takes the rest. */
  batchSizeMax: 50,
  /** A claimed transaction is left alone by other passes for this long (more than one pass's worst case). */
  leaseMs: 120_000,
  /** The first retry after a failed attempt; each further one doubles it... */
  retryDelayMsBase: 1_000,
  /** ...up to this. A transaction is never abandoned: its evidence must reach the log. */
  retryDelayMsMax: 300_000,
  /**
   * Failed attempts (about 20 minutes of backoff) after which the operator is
   * alarmed, and again every this many more: a log that stays down, or one
   * that answers an index its proofs never prove (a faulty or lying log).
   */
  alarmAfterAttempts: 12,
});

/** What a look for the receipt answers while the log has not integrated the entry or the witness not cosigned. */
const notYetCodes: ReadonlySet<string> = new Set(['SERVICE_UNAVAILABLE', 'WITNESS_QUORUM_NOT_MET']);

function retryDelayMs(attempts: number): number {
  const doublings = Math.min(Math.max(attempts - 1, 0), 20);
  return Math.min(
    bankingLogSubmission.retryDelayMsMax,
    bankingLogSubmission.retryDelayMsBase * 2 ** doublings,
  );
}

/** The log's kind of a banking transaction's entry. */
export function bankingLogKind(kind: BankingTransactionRecord['kind']): string {
  return `banking.${kind}`;
}

/**
 * One step for one transaction, as the gateway's outbox does for a payment's
 * log entry (services/gateway/src/log/outbox.ts): submit it unless the log
 * has answered its index already, then look once (no waiting) for the
 * receipt. Throws while the log has not proved it yet.
 */
async function advanceOne(
  context: BankingContext,
  link: BankTransactionLogLink,
  submitter: SubmitterCredentials,
  transaction: BankingTransactionRecord,
): Promise<void> {
  const entry = {
    transactionId: transaction.id,
    messages: transaction.messages,
    kind: bankingLogKind(transaction.kind),
    metadata: {},
  };
  let index = transaction.logIndex ?? undefined;
  if (index === undefined) {
    const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, entry);
    index = logged.index;
    await recordLogIndex(context.database, transaction.id, index);
  }
  // One look, no waiting: the pass must not stall on an entry the log has not integrated yet.
  const receipt = await buildReceipt(link.url, { ...entry, index, submitter: submitter.id }, link, {
    waitMs: 0,
    checkpoints: checkpointFollowerOf(link),
  });
  await recordReceipt(context.database, transaction.id, receipt);
}

/** The links whose follower was given the bank's last stored receipt (once per link, so once per start). */
const remembered = new WeakSet<BankTransactionLogLink>();

/**
 * Before the first receipt of a start: the link's checkpoint follower holds
 * the checkpoint of the last receipt this bank stored, so that a log that
 * went back or forked while the bank was stopped is refused at the next
 * receipt (CHECKPOINT_ROLLBACK or CHECKPOINT_FORK), as at the gateway. A
 * stored receipt that cannot be read again is logged and left: the follower
 * then starts from the log's first answer.
 */
async function rememberLastReceipt(context: BankingContext, link: BankTransactionLogLink): Promise<void> {
  if (remembered.has(link)) return;
  const last = await lastStoredReceipt(context.database);
  remembered.add(link);
  if (last === undefined) return;
  try {
    await checkpointFollowerOf(link).rememberReceipt(last.receipt);
  } catch (error) {
    context.log.warn(
      { err: error, requestId: last.id },
      "the last stored banking receipt could not be read again: the log's checkpoints are followed from its next answer",
    );
  }
}

/**
 * One pass of the transaction log server client (seed 003 §4.2: the log is
 * kept by a third party, the network operator's gateway in the paper): takes
 * the banking transactions that are due (a bounded batch), submits each to
 * the log (submitter the bank's id, signed with the bank's signing key, kind
 * `banking.<kind>`, transaction id the request id) and stores the receipt
 * once the log proves it under a cosigned checkpoint. A failure (the log
 * unreachable, the entry not yet included) is recorded and retried with
 * exponential backoff, never abandoned. Without a configured log nothing is
 * submitted: the transactions wait, recorded. Returns how many it took.
 */
export async function advanceBankingTransactions(context: BankingContext, now: Date): Promise<number> {
  const link = context.banking.transactionLog;
  if (link === undefined) return 0;
  const submitter = { id: context.bank.id, key: context.bank.signingKey };
  await rememberLastReceipt(context, link);
  const due = await claimDueBankingTransactions(
    context.database,
    now,
    new Date(now.getTime() + bankingLogSubmission.leaseMs),
    bankingLogSubmission.batchSizeMax,
  );
  for (const transaction of due) {
    try {
      await advanceOne(context, link, submitter, transaction);
    } catch (error) {
      const code = isMpayError(error) ? error.code : error instanceof Error ? error.message : 'error';
      const attempts = transaction.attempts + 1;
      const next = new Date(now.getTime() + retryDelayMs(attempts));
      await recordAttemptFailure(context.database, transaction.id, code === '' ? 'error' : code, next);
      // Not proved yet is the normal wait for the next checkpoint; anything else an operator should see.
      if (!notYetCodes.has(code)) {
        context.log.warn({ requestId: transaction.id, code, attempts }, 'banking transaction not logged yet');
      }
      if (attempts % bankingLogSubmission.alarmAfterAttempts === 0) {
        context.alarm(
          { requestId: transaction.id, code, attempts, logIndex: transaction.logIndex?.toString() },
          'banking transaction still not proved by the transaction log',
        );
      }
    }
  }
  return due.length;
}
