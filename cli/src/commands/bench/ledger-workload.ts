import { randomUUID } from 'node:crypto';
import type { BankLedger } from '@mpay/bank';

type TransferRequest = Parameters<BankLedger['createTransfer']>[0];

/** The same workload for both phases: who pays whom, how much, and how often through a hold. */
export interface LedgerWorkload {
  readonly accountIds: readonly string[];
  readonly clients: number;
  /** Requests per phase (a hold and its post are two). */
  readonly transfers: number;
  /** Share of payments made as a hold (pending) followed by its post, as card payments are. */
  readonly pendingShare: number;
}

export interface PhaseFigures {
  readonly transfersPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests the rules refused (e.g. insufficient funds): answered, so counted. */
  readonly refused: number;
}

const fundingPerAccount = 1_000_000_000n;
const amountMax = 1_000;

function randomIndex(count: number): number {
  return Math.floor(Math.random() * count);
}

function randomPayment(workload: LedgerWorkload, kind: 'posted' | 'pending'): TransferRequest {
  const count = workload.accountIds.length;
  const debit = randomIndex(count);
  const credit = (debit + 1 + randomIndex(count - 1)) % count;
  const movement = {
    id: randomUUID(),
    debitAccountId: workload.accountIds[debit]!,
    creditAccountId: workload.accountIds[credit]!,
    amount: BigInt(1 + randomIndex(amountMax)),
    ledger: 'EUR' as const,
    reference: 'bench',
  };
  return kind === 'posted' ? { ...movement, kind } : { ...movement, kind, timeoutSeconds: 300 };
}

/** Opens the accounts (and one funding account) and funds each one, through `ledger`. */
export async function openBenchAccounts(
  ledger: BankLedger,
  accounts: number,
  parallel: number,
): Promise<string[]> {
  const now = new Date();
  const open = async (kind: 'customer' | 'funding') =>
    (
      await ledger.openAccount(
        { id: randomUUID(), ledger: 'EUR', owner: kind === 'funding' ? 'xbank' : 'bench@person.xbank', kind },
        now,
      )
    ).account.id;
  const funding = await open('funding');
  const ids: string[] = [];
  for (let start = 0; start < accounts; start += parallel) {
    const size = Math.min(parallel, accounts - start);
    ids.push(...(await Promise.all(Array.from({ length: size }, () => open('customer')))));
  }
  const fund = ids.map((id) => ({
    kind: 'posted' as const,
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: id,
    amount: fundingPerAccount,
    ledger: 'EUR' as const,
    reference: 'bench funding',
  }));
  for (let start = 0; start < fund.length; start += 100) {
    await ledger.createTransfers(fund.slice(start, start + 100), { linked: false }, now);
  }
  return ids;
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

/**
 * `workload.clients` clients, each submitting one request at a time until
 * `workload.transfers` requests are answered; every request's latency is
 * recorded from submission to answer. A refusal is an answer; any other
 * error stops the phase.
 */
export async function runLedgerPhase(
  ledger: BankLedger,
  workload: LedgerWorkload,
  progress: (done: number) => void,
): Promise<PhaseFigures> {
  const latenciesMs = new Float64Array(workload.transfers);
  let next = 0;
  let refused = 0;
  const reportEvery = Math.max(1, Math.floor(workload.transfers / 4));
  /** The first of `count` consecutive request slots, or undefined when the phase has no more. */
  const reserve = (count: number): number | undefined => {
    if (next + count > workload.transfers) return undefined;
    next += count;
    return next - count;
  };
  const timed = async (request: TransferRequest, index: number): Promise<void> => {
    const startMs = performance.now();
    const [result] = await ledger.createTransfers([request], { linked: false }, new Date());
    latenciesMs[index] = performance.now() - startMs;
    if (result !== undefined && 'error' in result) refused += 1;
    if ((index + 1) % reportEvery === 0) progress(index + 1);
  };
  const client = async () => {
    for (;;) {
      const holdIndex = Math.random() < workload.pendingShare ? reserve(2) : undefined;
      if (holdIndex !== undefined) {
        const hold = randomPayment(workload, 'pending');
        await timed(hold, holdIndex);
        const post = {
          kind: 'post_pending' as const,
          id: randomUUID(),
          pendingId: hold.id,
          reference: 'bench',
        };
        await timed(post, holdIndex + 1);
        continue;
      }
      const index = reserve(1);
      if (index === undefined) return;
      await timed(randomPayment(workload, 'posted'), index);
    }
  };
  const startMs = performance.now();
  await Promise.all(Array.from({ length: workload.clients }, client));
  const elapsedMs = performance.now() - startMs;
  latenciesMs.sort();
  return {
    transfersPerSecond: (workload.transfers * 1000) / elapsedMs,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    refused,
  };
}
