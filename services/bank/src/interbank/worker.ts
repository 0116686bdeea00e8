import { requestIdPattern } from '@mpay/http-client';
import {
  type BackgroundLoop,
  createBackgroundLoop,
  createBackgroundLoopLimits,
  housekeepingSchedule,
  withRequestId,
} from '@mpay/http-server';
import type { Database } from '@mpay/storage';
import { sweepBankingSessions } from '../banking/authentication-server/sweep.ts';
import type { BankingContext } from '../banking/context.ts';
import { sendDueRenewalNotices } from '../banking/key-management-server/renewal-notices.ts';
import { advanceBankingTransactions } from '../banking/transaction-log-server-client/submit.ts';
import { sweepRequestNonces } from '../http/request-nonces.ts';
import type { BankLedger } from '../store/bank-ledger.ts';
import { type DeliveryContext, deliverOrder, isBeingDelivered } from './deliver.ts';
import { selectDueOrders } from './orders-store.ts';
import { deliverRefundOrder } from './refund-deliver.ts';
import { selectDueRefundOrders } from './refund-orders-store.ts';

export interface BankWorker {
  /** One full pass: deliver due payment orders, void expired holds, and the housekeeping. Returns what it did. */
  runOnce(): Promise<{ delivered: number; expired: number }>;
  /**
   * Rounds of the due work, `intervalMs` apart while there is work, further
   * apart (up to `idleIntervalMaxMs`) while there is none; the housekeeping
   * every `housekeepingIntervalMs` of the bank's clock.
   */
  start(intervalMs: number, idleIntervalMaxMs?: number): void;
  /** A round at once: the bank committed work the worker carries on (a banking transaction for the log). */
  kick(): void;
  stop(): Promise<void>;
}

/** Most orders one pass delivers; the next pass takes the rest. */
const deliveryBatchMax = 100;
const deliveriesInParallel = 8;
/** The longest an idle worker waits before it looks for due work again (retries, expiries). */
export const workerIdleIntervalMaxMs = 2_000;
/** How often the worker forgets expired nonces and lapsed banking sessions, by the bank's clock. */
export const housekeepingIntervalMs = 30_000;

/**
 * Runs a retry of an order as the work `requestId` names, so that the peer
 * bank's log lines for it carry the order (x-request-id); an id that is no
 * well-formed request id runs unnamed.
 */
function asRequest<T>(requestId: string, work: () => Promise<T>): Promise<T> {
  return requestIdPattern.test(requestId) ? withRequestId(requestId, work) : work();
}

/**
 * Forgets nonces of funds-transfer messages that can no longer verify: past
 * their expiry plus the verifier's largest clock skew (300 s).
 */
async function sweepNonces(database: Database, now: Date): Promise<void> {
  await database.query('DELETE FROM interbank_nonces WHERE expires_at < $1', [
    new Date(now.getTime() - 300_000).toISOString(),
  ]);
}

/**
 * The bank's background work, safe to run in several processes at once (every
 * step is guarded by row locks and deterministic ids): the outbox of payment
 * orders (a crashed process picks up every order still 'sending' on restart)
 * and the expiry sweep of holds.
 */
export function createBankWorker(
  context: DeliveryContext | undefined,
  ledger: BankLedger,
  clock: () => Date,
  banking?: BankingContext | undefined,
  /** The bank's database, to forget the nonces of request tokens that expired. */
  requestNonces?: Database | undefined,
): BankWorker {
  let loop: BackgroundLoop | undefined;
  const housekeeping = housekeepingSchedule(housekeepingIntervalMs, clock);
  /** What is due: orders to deliver, holds to void, banking work. Returns what it did. */
  const dueWork = async () => {
    let delivered = 0;
    if (context !== undefined) {
      // An order this process is delivering now (placed and delivered at once by its route) is left to it.
      const due = (await selectDueOrders(context.database, clock(), deliveryBatchMax)).filter(
        (id) => !isBeingDelivered(context, id),
      );
      // A few at a time, so that one unreachable peer (a timeout per order) does not hold up the others.
      for (let start = 0; start < due.length; start += deliveriesInParallel) {
        await Promise.all(
          due
            .slice(start, start + deliveriesInParallel)
            .map((id) => asRequest(`payment-order:${id}`, () => deliverOrder(context, id))),
        );
      }
      // Refund orders (the merchant's bank paying a customer's bank back) the same way.
      const refunds = await selectDueRefundOrders(context.database, clock(), deliveryBatchMax);
      for (let start = 0; start < refunds.length; start += deliveriesInParallel) {
        await Promise.all(
          refunds
            .slice(start, start + deliveriesInParallel)
            .map((id) => asRequest(`refund-order:${id}`, () => deliverRefundOrder(context, id))),
        );
      }
      delivered = due.length + refunds.length;
    }
    const expired = (await ledger.expirePendingTransfers(clock())).length;
    let banked = 0;
    if (banking !== undefined) {
      // SA2pMP: the bank's renewal notices, then its banking transactions to the third-party log.
      // One failing part does not hold up the others.
      banked += await sendDueRenewalNotices(banking, clock()).catch((error: unknown) => {
        banking.alarm({ error: String(error) }, 'renewal notice pass failed');
        return 0;
      });
      banked += await advanceBankingTransactions(banking, clock());
    }
    return { delivered, expired, banked };
  };
  /** What only keeps tables small: nonces past use, lapsed banking sessions (their sealed keys go first). */
  const houseKeep = async () => {
    if (context !== undefined) await sweepNonces(context.database, clock());
    if (requestNonces !== undefined) await sweepRequestNonces(requestNonces, clock());
    if (banking !== undefined)
      await sweepBankingSessions(banking, clock()).catch((error: unknown) =>
        banking.alarm({ error: String(error) }, 'banking session sweep failed'),
      );
    housekeeping.ran();
  };
  const runOnce = async () => {
    // Lapsed sessions lose their sealed keys before anything else runs.
    await houseKeep();
    const { delivered, expired } = await dueWork();
    return { delivered, expired };
  };
  const round = async () => {
    if (housekeeping.due()) await houseKeep();
    const done = await dueWork();
    return done.delivered + done.expired + done.banked > 0;
  };
  return {
    runOnce,
    start(intervalMs, idleIntervalMaxMs = workerIdleIntervalMaxMs) {
      if (loop !== undefined) return;
      loop = createBackgroundLoop(
        round,
        createBackgroundLoopLimits({
          busyIntervalMs: intervalMs,
          idleIntervalMaxMs: Math.max(intervalMs, idleIntervalMaxMs),
        }),
        (error) => context?.alarm({ error: String(error) }, 'bank worker pass failed'),
      );
      loop.start();
    },
    kick() {
      loop?.kick();
    },
    async stop() {
      await loop?.stop();
    },
  };
}
