/** One bank's published position towards one peer (GET /settlement/positions), amounts in minor units. */
export interface PublishedPosition {
  readonly bank: string;
  readonly peer: string;
  readonly currency: string;
  /** Positive: `bank` owes `peer`. */
  readonly net: bigint;
  /** Payment orders from `bank` to `peer` still being delivered. */
  readonly inFlight: bigint;
}

export interface PairReconciliation {
  readonly banks: readonly [string, string];
  readonly currency: string;
  /** Positive: banks[0] owes banks[1], from banks[0]'s books. */
  readonly owedByFirst: bigint;
  /** The same, from banks[1]'s books (the negation of its own position). */
  readonly claimedBySecond: bigint;
  readonly inFlight: { readonly fromFirst: bigint; readonly fromSecond: bigint };
  /** True when the two books agree exactly (nothing in flight). */
  readonly agree: boolean;
  /** True when any difference is explained by payments in flight; false means money appeared or vanished. */
  readonly consistent: boolean;
}

function key(bank: string, peer: string, currency: string): string {
  return `${bank}\u0000${peer}\u0000${currency}`;
}

/**
 * Compares what every pair of banks says they owe each other. The merchant's
 * bank credits before the client's bank posts its hold, so while payments are
 * in flight, in either direction, the second bank's figure for "first owes
 * second" can only lead the first bank's, and by at most the amounts in flight
 * both ways. Any other difference is an error in someone's books.
 */
export function reconcilePositions(positions: readonly PublishedPosition[]): PairReconciliation[] {
  const byKey = new Map(
    positions.map((position) => [key(position.bank, position.peer, position.currency), position]),
  );
  const pairs: PairReconciliation[] = [];
  for (const first of positions) {
    if (first.bank >= first.peer) continue;
    const second = byKey.get(key(first.peer, first.bank, first.currency));
    const owedByFirst = first.net;
    const claimedBySecond = second === undefined ? 0n : -second.net;
    const fromSecond = second?.inFlight ?? 0n;
    const lead = claimedBySecond - owedByFirst;
    pairs.push({
      banks: [first.bank, first.peer],
      currency: first.currency,
      owedByFirst,
      claimedBySecond,
      inFlight: { fromFirst: first.inFlight, fromSecond },
      agree: lead === 0n,
      consistent: lead >= 0n && lead <= first.inFlight + fromSecond,
    });
  }
  for (const position of positions) {
    const seen = pairs.some(
      (pair) =>
        pair.currency === position.currency &&
        pair.banks.includes(position.bank) &&
        pair.banks.includes(position.peer),
    );
    if (!seen) {
      pairs.push({
        banks: [position.peer, position.bank],
        currency: position.currency,
        owedByFirst: 0n,
        claimedBySecond: -position.net,
        inFlight: { fromFirst: 0n, fromSecond: position.inFlight },
        agree: position.net === 0n,
        consistent: -position.net >= 0n && -position.net <= position.inFlight,
      });
    }
  }
  return pairs;
}
