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
 * - values parsed by PGlite's own type parsers (`types.parseType`), errors thrown
 *   as PGlite's DatabaseError with its SQLSTATE `code` and the statement's
 *   text in `query` (not its parameters, which PGlite's own path attached:
 *   they can be keys or codes, and errors are logged).
 *
 * What differs: parameters are sent as text with their types left to
 * PostgreSQL to infer, converted by node-postgres's own `prepareValue` (what
 * the PostgreSQL backend sends), where PGlite's `query()` asked for the
 * types first; both backends now read a parameter the same way.
 *
 * One session per PGlite instance and one search_path, set once at open:
 * a prepared plan always resolves the same schema.
 */

import { type PGlite, types } from '@electric-sql/pglite';
import { prepareValue } from 'pg/lib/utils.js';
import { planInvalid, rolledBackAtCommit } from './database.ts';
import { FrontendMessages, type WireValue } from './pglite-wire.ts';

/** Texts prepared per database; any text beyond is parsed each time (dynamic texts cannot fill memory). */
export const preparedStatementsMax = 512;

interface Message {
  readonly name: string;
}

interface RowDescription extends Message {
  readonly fields: readonly { readonly name: string; readonly dataTypeID: number }[];
}

interface DataRow extends Message {
  readonly fields: readonly (string | null)[];
}

interface CommandComplete extends Message {
  readonly text: string;
}

/**
 * The rows and the affected count of one statement's answer, read as PGlite's
 * `parseResults` reads them. That function copies the database's whole table
 * of type parsers (316 of them) for every statement it reads; profiled under
 * `mpay bench e2e`, that copy was a tenth of all the platform's CPU.
 */
function readResult<Row>(messages: readonly Message[], parsers: PGlite['parsers']): PgliteRows<Row> {
  let fields: RowDescription['fields'] = [];
  const rows: Row[] = [];
  let affectedRows = 0;
  for (const message of messages) {
    if (message.name === 'rowDescription') fields = (message as RowDescription).fields;
    else if (message.name === 'dataRow') {
      const values = (message as DataRow).fields;
      const row: Record<string, unknown> = {};
      for (let i = 0; i < values.length; i++) {
        const field = fields[i];
        if (field !== undefined)
          row[field.name] = types.parseType(values[i] ?? null, field.dataTypeID, parsers);
      }
      rows.push(row as Row);
    } else if (message.name === 'commandComplete')
      affectedRows += affectedBy((message as CommandComplete).text);
  }
  return { rows, affectedRows };
}

/** The count a command tag reports ("INSERT 0 3", "UPDATE 2"), as PGlite reads it. */
function affectedBy(tag: string): number {
  const words = tag.split(' ');
  switch (words[0]) {
    case 'INSERT':
      return Number.parseInt(words[2] ?? '0', 10);
    case 'UPDATE':
    case 'DELETE':
    case 'COPY':
    case 'MERGE':
      return Number.parseInt(words[1] ?? '0', 10);
    default:
      return 0;
  }
}

interface DatabaseErrorLike extends Error {
  readonly code?: string;
  query?: string;
}

export interface PgliteRows<Row> {
  readonly rows: Row[];
  readonly affectedRows?: number | undefined;
}

export class PgliteStatements {
  readonly #pglite: PGlite;
  readonly #names = new Map<string, string>();
  /** Names given up on (their plan stood no more), closed in the engine with the next statement. */
  #stale: string[] = [];
  #nextName = 0;
  /** The messages of the call being sent: written and taken with no await between, so calls never mix. */
  readonly #wire = new FrontendMessages();

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  /** Texts prepared so far (for tests). */
  get preparedCount(): number {
    return this.#names.size;
  }

  /**
   * Runs `work` in one transaction, holding PGlite's transaction lock as its
   * own `transaction()` does; BEGIN and COMMIT are one call into the engine
   * each (PGlite's take two, and read their answers with the costly
   * `parseResults`). A failed `work` is rolled back and its error thrown; a
   * failed ROLLBACK is not reported over it, as on the PostgreSQL backend. A
   * work that caught a failed statement's error and returned is refused at
   * COMMIT (25P02): PostgreSQL rolled all of it back.
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.#pglite._checkReady();
    const control = (command: string) => this.#pglite._runExclusiveQuery(() => this.#simple(command));
    return this.#pglite._runExclusiveTransaction(async () => {
      await control('BEGIN');
      let result: T;
      try {
        result = await work();
      } catch (error) {
        await control('ROLLBACK').catch(() => undefined);
        throw error;
      }
      const committed = await control('COMMIT');
      if (
        committed.some(
          (message) => message.name === 'commandComplete' && (message as CommandComplete).text === 'ROLLBACK',
        )
      )
        throw rolledBackAtCommit();
      return result;
    });
  }

  /**
   * A script of statements without parameters (simple query protocol).
   * `inTransaction` as for `query`.
   */
  async exec(script: string, inTransaction: boolean): Promise<void> {
    await this.#pglite._checkReady();
    const run = () =>
      this.#pglite._runExclusiveQuery(async () => {
        await this.#simple(script);
        if (!inTransaction) await this.#pglite.syncToFs();
      });
    await (inTransaction ? run() : this.#pglite._runExclusiveTransaction(run));
  }

  async #simple(script: string): Promise<readonly Message[]> {
    if (this.#pglite.closed || !this.#pglite.ready) throw new Error('PGlite is closed');
    const messages = (await this.#pglite.execProtocolStream(this.#wire.query(script).take(), {
      syncToFs: false,
      throwOnError: false,
    })) as Message[];
    const error = messages.find((message) => message.name === 'error') as DatabaseErrorLike | undefined;
    if (error !== undefined) {
      error.query = script.length > 200 ? `${script.slice(0, 200)}…` : script;
      throw error;
    }
    return messages;
  }

  /**
   * One statement. `inTransaction`: the caller runs inside `transaction`
   * (which holds the transaction lock); otherwise this waits for it.
   */
  async query<Row>(
    text: string,
    params: readonly unknown[],
    inTransaction: boolean,
  ): Promise<PgliteRows<Row>> {
    // As PGlite's query() does: refused at once while the database starts or closes.
    await this.#pglite._checkReady();
    const values = params.map((value) => prepareValue(value));
    const run = () =>
      this.#pglite._runExclusiveQuery(() => this.#run<Row>(text, values, inTransaction, true));
    return inTransaction ? run() : this.#pglite._runExclusiveTransaction(run);
  }

  async #run<Row>(
    text: string,
    values: readonly WireValue[],
    inTransaction: boolean,
    mayPrepareAgain: boolean,
  ): Promise<PgliteRows<Row>> {
    if (this.#pglite.closed || !this.#pglite.ready) throw new Error('PGlite is closed');
    const wire = this.#wire;
    // Closing a prepared statement is not transactional; outside a transaction nothing can abort it.
    if (!inTransaction) for (const name of this.#stale.splice(0)) wire.closeStatement(name);
    const prepared = this.#names.get(text);
    let preparing: string | undefined;
    if (prepared === undefined) {
      if (this.#names.size < preparedStatementsMax) preparing = `mpay_${this.#nextName++}`;
      wire.parse(preparing ?? '', text);
    }
    wire
      .bind(prepared ?? preparing ?? '', values)
      .describePortal()
      .execute()
      .sync();
    const messages = (await this.#pglite.execProtocolStream(wire.take(), {
      syncToFs: false,
      throwOnError: false,
    })) as Message[];
    if (preparing !== undefined && messages.some((message) => message.name === 'parseComplete'))
      this.#names.set(text, preparing);
    const error = messages.find((message) => message.name === 'error') as DatabaseErrorLike | undefined;
    if (error !== undefined) {
      if (prepared !== undefined && planInvalid(error)) {
        this.#names.delete(text);
        this.#stale.push(prepared);
        if (!inTransaction && mayPrepareAgain) return this.#run<Row>(text, values, inTransaction, false);
      }
      // The error names its statement, never its parameters: they can be keys or codes, and errors are logged.
      error.query = text;
      throw error;
    }
    if (!inTransaction) await this.#pglite.syncToFs();
    return readResult<Row>(messages, this.#pglite.parsers);
  }
}
