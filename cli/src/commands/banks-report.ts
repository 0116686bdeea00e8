import { type PairReconciliation, type PublishedPosition, reconcilePositions } from '@mpay/bank';
import { formatDecimalBalance } from '@mpay/protocol';
import type { OperatorClient } from './deployment.ts';

interface PositionsAnswer {
  bank: string;
  positions: {
    peer: string;
    currency: string;
    net: string;
    pending: string;
    inFlight: { count: number; amount: string; overdue: number };
  }[];
}

/** Every bank's published positions towards its peers, reconciled pair by pair. */
export async function reconcileBanks(
  clients: readonly OperatorClient[],
  onOverdue: (bank: string, peer: string, count: number) => void = () => {},
): Promise<PairReconciliation[]> {
  const positions: PublishedPosition[] = [];
  for (const client of clients) {
    const answer = await client.get<PositionsAnswer>('/settlement/positions');
    for (const position of answer.positions) {
      if (position.inFlight.overdue > 0) onOverdue(client.id, position.peer, position.inFlight.overdue);
      positions.push({
        bank: client.id,
        peer: position.peer,
        currency: position.currency,
        net: BigInt(position.net),
        inFlight: BigInt(position.inFlight.amount),
      });
    }
  }
  return reconcilePositions(positions);
}

export function money(currency: string, minor: bigint): string {
  return `${currency} ${formatDecimalBalance(currency, minor)}`;
}

/** "xbank owes ybank EUR 12.50" from the first bank's books. */
export function describeDebt(pair: PairReconciliation): string {
  const [first, second] = pair.banks;
  if (pair.owedByFirst === 0n) return `${first} and ${second} owe each other nothing`;
  return pair.owedByFirst > 0n
    ? `${first} owes ${second} ${money(pair.currency, pair.owedByFirst)}`
    : `${second} owes ${first} ${money(pair.currency, -pair.owedByFirst)}`;
}
