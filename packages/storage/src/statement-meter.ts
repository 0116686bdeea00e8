/**
 * How many statements and transactions each schema's handles of this process
 * have sent since the process started: what `mpay bench e2e` divides by the
 * payments of its window (a service's statements per payment is the lever the
 * embedded databases' CPU follows). A transaction's BEGIN and COMMIT are
 * counted in `transactions`, not in `statements`. Counting is one map lookup a
 * statement; nothing is kept but the two numbers per schema.
 */
export interface StatementCount {
  readonly statements: number;
  readonly transactions: number;
}

interface Counter {
  statements: number;
  transactions: number;
}

const counters = new Map<string, Counter>();

/** The per-schema counter the storage handles increment (internal to @mpay/storage). */
export function statementCounterOf(schema: string): Counter {
  let counter = counters.get(schema);
  if (counter === undefined) {
    counter = { statements: 0, transactions: 0 };
    counters.set(schema, counter);
  }
  return counter;
}

/** A copy of every schema's counts now; subtract two copies for a window. */
export function statementCounts(): Record<string, StatementCount> {
  return Object.fromEntries(
    [...counters].map(([schema, counter]) => [
      schema,
      { statements: counter.statements, transactions: counter.transactions },
    ]),
  );
}
