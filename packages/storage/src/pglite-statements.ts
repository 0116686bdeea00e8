/**
 * Statements on PGlite in one call into its engine, each text prepared once.
 *
 * PGlite's `query()` sends a statement as six calls into the WebAssembly
 * PostgreSQL (Parse, Describe statement, Bind, Describe portal, Execute,
 * Sync), and PostgreSQL parses and plans the text every time. The services
 * send the same few dozen texts over and over, so here each text is prepared
 * once as a named statement of the database's one session, and a statement
 * is one call: [Parse,] Bind, Describe, Execute, Sync. Measured on this
 * machine kind (`mpay bench e2e --profile ims`, docs/benchmarks.md) it
 * roughly halves the engine's CPU per statement.
 *
 * What stays as PGlite's `query()` does it:
 * - the same locks: a statement outside a transaction waits for PGlite's
 *   transaction lock, and every statement holds its query lock;
 * - the data folder synced after a statement outside a transaction;
 * - rows parsed by PGlite's own type parsers (`parseResults`), errors thrown
 *   as PGlite's DatabaseError with its SQLSTATE `code`.
 *
 * What differs: parameters are sent as text with their types left to
 * PostgreSQL to infer, converted by node-postgres's own `prepareValue` (what
 * the PostgreSQL backend sends), where PGlite's `query()` asked for the
 * types first; both backends now read a parameter the same way.
 *
 * One session per PGlite instance and one search_path, set once at open:
 * a prepared plan always resolves the same schema.
 */

import { type PGlite, parse, protocol } from '@electric-sql/pglite';
import { prepareValue } from 'pg/lib/utils.js';

/** Texts prepared per database; any text beyond is parsed each time (dynamic texts cannot fill memory). */
export const preparedStatementsMax = 512;

/** SQLSTATEs after which a prepared text is prepared again once: a table changed under its plan, or it is gone. */
const planInvalid: ReadonlySet<string> = new Set([
  '0A000', // feature_not_supported: "cached plan must not change result type"
  '26000', // invalid_sql_statement_name: the prepared statement does not exist
]);

interface Message {
  readonly name: string;
}

interface DatabaseErrorLike extends Error {
  readonly code?: string;
  query?: string;
  params?: unknown[];
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export interface PgliteRows<Row> {
  readonly rows: Row[];
  readonly affectedRows?: number | undefined;
}

export class PgliteStatements {
  readonly #pglite: PGlite;
  readonly #names = new Map<string, string>();
  #nextName = 0;

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  /** Texts prepared so far (for tests). */
  get preparedCount(): number {
    return this.#names.size;
  }

  /**
   * One statement. `inTransaction`: the caller runs inside `pglite.transaction`
   * (which holds the transaction lock); otherwise this waits for it.
   */
  query<Row>(text: string, params: readonly unknown[], inTransaction: boolean): Promise<PgliteRows<Row>> {
    const values = params.map((value) => prepareValue(value));
    const run = () =>
      this.#pglite._runExclusiveQuery(() => this.#run<Row>(text, values, inTransaction, true));
    return inTransaction ? run() : this.#pglite._runExclusiveTransaction(run);
  }

  async #run<Row>(
    text: string,
    values: readonly (string | Uint8Array | null)[],
    inTransaction: boolean,
    mayPrepareAgain: boolean,
  ): Promise<PgliteRows<Row>> {
    if (this.#pglite.closed) throw new Error('PGlite is closed');
    const { serialize } = protocol;
    const parts: Uint8Array[] = [];
    const prepared = this.#names.get(text);
    let preparing: string | undefined;
    if (prepared === undefined) {
      if (this.#names.size < preparedStatementsMax) preparing = `mpay_${this.#nextName++}`;
      parts.push(
        serialize.parse({ ...(preparing === undefined ? {} : { name: preparing }), text, types: [] }),
      );
    }
    const statement = prepared ?? preparing ?? '';
    parts.push(
      serialize.bind({ statement, values: [...values] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    );
    const messages = (await this.#pglite.execProtocolStream(concat(parts), {
      syncToFs: false,
      throwOnError: false,
    })) as Message[];
    if (preparing !== undefined && messages.some((message) => message.name === 'parseComplete'))
      this.#names.set(text, preparing);
    const error = messages.find((message) => message.name === 'error') as DatabaseErrorLike | undefined;
    if (error !== undefined) {
      if (prepared !== undefined && mayPrepareAgain && planInvalid.has(error.code ?? '')) {
        this.#names.delete(text);
        return this.#run<Row>(text, values, inTransaction, false);
      }
      // As PGlite's query() does: the error names its statement and parameters.
      error.query = text;
      error.params = [...values];
      throw error;
    }
    if (!inTransaction) await this.#pglite.syncToFs();
    const [result] = parse.parseResults(
      messages as Parameters<typeof parse.parseResults>[0],
      this.#pglite.parsers,
    );
    return { rows: (result?.rows ?? []) as Row[], affectedRows: result?.affectedRows };
  }
}
