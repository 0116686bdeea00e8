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
  /**
   * Exchanges with a PostgreSQL server that each waited for its answer: a
   * statement alone, a pipeline of a transaction's statements sent together,
   * a BEGIN sent alone, a COMMIT or a ROLLBACK. 0 on PGlite (no server).
   */
  readonly roundTrips: number;
}

export interface StatementCounter {
  statements: number;
  transactions: number;
  roundTrips: number;
  /** Statement text → times sent, while texts are traced (traceStatementTexts). */
  texts: Map<string, number> | undefined;
}

/** Distinct texts kept per schema while tracing; the rest are counted under `otherTexts`. */
export const tracedTextsPerSchemaMax = 500;
const otherTexts = '(other texts)';
let tracingTexts = false;

const counters = new Map<string, StatementCounter>();

/** The per-schema counter the storage handles increment (internal to @mpay/storage). */
export function statementCounterOf(schema: string): StatementCounter {
  let counter = counters.get(schema);
  if (counter === undefined) {
    counter = { statements: 0, transactions: 0, roundTrips: 0, texts: tracingTexts ? new Map() : undefined };
    counters.set(schema, counter);
  }
  return counter;
}

/** A copy of every schema's counts now; subtract two copies for a window. */
export function statementCounts(): Record<string, StatementCount> {
  return Object.fromEntries(
    [...counters].map(([schema, counter]) => [
      schema,
      { statements: counter.statements, transactions: counter.transactions, roundTrips: counter.roundTrips },
    ]),
  );
}

/** Counts one statement of a schema, and its text while texts are traced. */
export function countStatement(counter: StatementCounter, text: string): void {
  counter.statements += 1;
  const texts = counter.texts;
  if (texts === undefined) return;
  const key = texts.has(text) || texts.size < tracedTextsPerSchemaMax ? text : otherTexts;
  texts.set(key, (texts.get(key) ?? 0) + 1);
}

/**
 * Starts (and empties) or stops keeping each statement's text with its count,
 * per schema: what `mpay bench e2e --statements` reads to show where a
 * service's statements per payment go. Off by default (a map update per
 * statement); bounded to tracedTextsPerSchemaMax texts per schema.
 */
export function traceStatementTexts(on: boolean): void {
  tracingTexts = on;
  for (const counter of counters.values()) counter.texts = on ? new Map() : undefined;
}

/** Every schema's traced statement texts with their counts since tracing started (empty when off). */
export function statementTexts(): Record<string, Record<string, number>> {
  return Object.fromEntries(
    [...counters]
      .filter(([, counter]) => counter.texts !== undefined)
      .map(([schema, counter]) => [schema, Object.fromEntries(counter.texts ?? [])]),
  );
}
