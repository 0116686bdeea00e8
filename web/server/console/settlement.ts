import { randomUUID } from 'node:crypto';
import { type PairReconciliation, type PublishedPosition, reconcilePositions } from '@mpay/bank';
import type { OperatorClient } from './services.ts';

/** GET /settlement/positions of one bank. */
interface PositionsAnswer {
  readonly positions: readonly {
    readonly peer: string;
    readonly currency: string;
    readonly net: string;
    readonly inFlight: { readonly count: number; readonly amount: string; readonly overdue: number };
  }[];
}

/** GET /settlements of one bank: the runs it booked. */
interface RunsAnswer {
  readonly settlements: readonly {
    readonly id: string;
    readonly peer: string;
    readonly currency: string;
    readonly amount: string;
    readonly createdAt: string;
  }[];
}

export interface Positions {
  readonly pairs: readonly PairReconciliation[];
  /** Payment orders past their deadline without the peer's answer: is the peer reachable? */
  readonly overdue: readonly { readonly bank: string; readonly peer: string; readonly count: number }[];
}

/** Every bank's published positions, reconciled pair by pair (as `mpay audit` and `mpay settlement` do). */
export async function readPositions(clients: readonly OperatorClient[]): Promise<Positions> {
  const positions: PublishedPosition[] = [];
  const overdue: { bank: string; peer: string; count: number }[] = [];
  const answers = await Promise.all(
    clients.map((client) => client.get<PositionsAnswer>('/settlement/positions')),
  );
  for (const [index, answer] of answers.entries()) {
    const bank = clients[index]!.id;
    for (const position of answer.positions) {
      if (position.inFlight.overdue > 0)
        overdue.push({ bank, peer: position.peer, count: position.inFlight.overdue });
      positions.push({
        bank,
        peer: position.peer,
        currency: position.currency,
        net: BigInt(position.net),
        inFlight: BigInt(position.inFlight.amount),
      });
    }
  }
  return { pairs: reconcilePositions(positions), overdue };
}

/** One settlement run as the banks booked it: both sides under one id, or one side only (to finish). */
export interface SettlementRun {
  readonly id: string;
  readonly currency: string;
  readonly bookings: readonly {
    readonly bank: string;
    readonly peer: string;
    /** Positive: `bank` paid `peer`. */
    readonly amount: bigint;
    readonly at: string;
  }[];
  /** Both banks booked it with opposite amounts. */
  readonly complete: boolean;
}

export async function readRuns(clients: readonly OperatorClient[]): Promise<SettlementRun[]> {
  const answers = await Promise.all(clients.map((client) => client.get<RunsAnswer>('/settlements')));
  const runs = new Map<string, { currency: string; bookings: SettlementRun['bookings'][number][] }>();
  for (const [index, answer] of answers.entries()) {
    for (const run of answer.settlements) {
      const entry = runs.get(run.id) ?? { currency: run.currency, bookings: [] };
      entry.bookings.push({
        bank: clients[index]!.id,
        peer: run.peer,
        amount: BigInt(run.amount),
        at: run.createdAt,
      });
      runs.set(run.id, entry);
    }
  }
  return [...runs]
    .map(([id, run]) => {
      const [first, second] = run.bookings;
      const complete =
        run.bookings.length === 2 &&
        first !== undefined &&
        second !== undefined &&
        first.peer === second.bank &&
        second.peer === first.bank &&
        first.amount === -second.amount;
      return { id, currency: run.currency, bookings: run.bookings, complete };
    })
    .sort((a, b) => (latest(b) < latest(a) ? -1 : latest(b) > latest(a) ? 1 : 0));
}

/** The run's last booking time (ISO strings sort as times). */
function latest(run: SettlementRun): string {
  return (
    run.bookings
      .map((booking) => booking.at)
      .sort()
      .at(-1) ?? ''
  );
}

export interface SettlementOutcome {
  /** Runs booked at one bank only before, now booked at the other too. */
  readonly finished: readonly string[];
  readonly booked: readonly {
    readonly id: string;
    readonly banks: readonly [string, string];
    readonly currency: string;
    readonly amount: bigint;
  }[];
  readonly skipped: readonly {
    readonly banks: readonly [string, string];
    readonly currency: string;
    readonly reason: 'nothing owed' | 'payments in flight';
  }[];
}

/**
 * A settlement run, as `mpay settlement --book` does it: every pair whose
 * books agree and owe something is settled through the banks' reserve
 * accounts, the same run id booked at both (idempotent by id, so a run cut
 * short between the two bookings is finished by the next: the banks' own
 * lists of runs are the journal). Pairs with payments in flight wait.
 */
export async function settle(clients: readonly OperatorClient[]): Promise<SettlementOutcome> {
  const byId = new Map(clients.map((client) => [client.id, client]));
  const finished: string[] = [];
  for (const run of await readRuns(clients)) {
    const [only] = run.bookings;
    if (run.complete || run.bookings.length !== 1 || only === undefined) continue;
    const peer = byId.get(only.peer);
    if (peer === undefined) continue;
    await peer.post('/settlements', {
      id: run.id,
      peer: only.bank,
      currency: run.currency,
      amount: (-only.amount).toString(),
    });
    finished.push(run.id);
  }
  const booked: SettlementOutcome['booked'][number][] = [];
  const skipped: SettlementOutcome['skipped'][number][] = [];
  for (const pair of (await readPositions(clients)).pairs) {
    const banks = [pair.banks[0], pair.banks[1]] as const;
    if (!pair.agree) {
      skipped.push({ banks, currency: pair.currency, reason: 'payments in flight' });
      continue;
    }
    if (pair.owedByFirst === 0n) {
      skipped.push({ banks, currency: pair.currency, reason: 'nothing owed' });
      continue;
    }
    const first = byId.get(banks[0]);
    const second = byId.get(banks[1]);
    if (first === undefined || second === undefined) continue;
    const id = randomUUID();
    const amount = pair.owedByFirst;
    await first.post('/settlements', {
      id,
      peer: banks[1],
      currency: pair.currency,
      amount: amount.toString(),
    });
    await second.post('/settlements', {
      id,
      peer: banks[0],
      currency: pair.currency,
      amount: (-amount).toString(),
    });
    booked.push({ id, banks, currency: pair.currency, amount });
  }
  return { finished, booked, skipped };
}
