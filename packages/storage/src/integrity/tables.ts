import type { PGlite } from '@electric-sql/pglite';

/**
 * The SQL half of the integrity check: every user table read end to end
 * (each row turned into text, so every value and every TOASTed value is
 * decoded), its heap checked by amcheck's verify_heapam, every B-tree index
 * by bt_index_check with heapallindexed (each table row has its index
 * entry). With data checksums on, each page these reads bring in from disk
 * is also checked against its checksum by the engine.
 */

export interface TableCheck {
  readonly tablesChecked: number;
  readonly indexesChecked: number;
  readonly rowsRead: number;
  readonly problems: readonly string[];
}

/** amcheck lives in its own schema, out of the services' way. */
export const integritySchema = 'mpay_integrity';

/** Most rows of verify_heapam one check lists (one is enough to raise the alarm). */
const heapProblemsMax = 10;

/**
 * SQLSTATE classes of a database that cannot read what it stored: XX
 * (internal errors: XX001 data_corrupted, XX002 index_corrupted) and 58
 * (system errors: a file that cannot be read). Any other error means the
 * check itself failed, and is thrown.
 */
export function isDamageSqlState(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('XX') || code.startsWith('58'));
}

/**
 * What the engine answers when it read a damaged page or index (XX001
 * data_corrupted: "invalid page in block 3 of relation base/1/16384"; XX002
 * index_corrupted): from a query, a check or a VACUUM, damage that fences
 * the database (IntegrityMonitor.raise).
 */
export function damageOnReadOf(error: unknown): string | undefined {
  const code = sqlStateOf(error);
  return code === 'XX001' || code === 'XX002' ? code : undefined;
}

export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const amcheckSchemas = new WeakMap<PGlite, string>();

/** Installs amcheck once (in its own schema) and says where its functions are. */
async function amcheckSchema(pglite: PGlite): Promise<string> {
  const known = amcheckSchemas.get(pglite);
  if (known !== undefined) return known;
  await pglite.exec(
    `CREATE SCHEMA IF NOT EXISTS ${integritySchema}; CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA ${integritySchema};`,
  );
  const { rows } = await pglite.query<{ schema: string }>(
    "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'amcheck'",
  );
  const schema = rows[0]?.schema;
  if (schema === undefined) throw new Error('assertion failed: amcheck is not installed');
  amcheckSchemas.set(pglite, schema);
  return schema;
}

const userTablesSql = `
  SELECT format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', '${integritySchema}')
  ORDER BY 1`;

const userIndexesSql = `
  SELECT format('%I.%I', n.nspname, ic.relname) AS name
  FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    JOIN pg_class tc ON tc.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = tc.relnamespace
  WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND tc.relpersistence = 'p'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', '${integritySchema}')
  ORDER BY 1`;

/** Runs `work`; an error that says the data cannot be read becomes a problem, any other is thrown. */
async function attempt(what: string, problems: string[], work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    const code = sqlStateOf(error);
    if (!isDamageSqlState(code)) throw error;
    problems.push(`${what}: ${error instanceof Error ? error.message : String(error)} (SQLSTATE ${code})`);
  }
}

/**
 * One statement for all relations (a query costs PGlite a few milliseconds
 * whatever it does); when it fails on damage, one statement per relation,
 * so that the problem names the table or index.
 */
async function batchThenEach(
  kind: 'table' | 'index',
  names: readonly string[],
  problems: string[],
  batch: (names: readonly string[]) => Promise<void>,
): Promise<void> {
  if (names.length === 0) return;
  const found: string[] = [];
  await attempt('all', found, () => batch(names));
  if (found.length === 0) return;
  for (const name of names) await attempt(`${kind} ${name}`, problems, () => batch([name]));
}

/** Every row of every table turned into text: each value read and decoded (TOAST included). */
function readRows(pglite: PGlite, counter: { rows: number }) {
  return async (tables: readonly string[]) => {
    // Names come from format('%I.%I'), quoted as SQL needs; both sums are selected
    // so that the planner cannot drop the conversion of the rows to text.
    const parts = tables.map(
      (table) => `SELECT count(*) AS n, sum(octet_length(t::text)) AS bytes FROM ONLY ${table} AS t`,
    );
    const { rows } = await pglite.query<{ n: bigint | number | null; bytes: unknown }>(
      `SELECT sum(n) AS n, sum(bytes) AS bytes FROM (${parts.join(' UNION ALL ')}) AS each_table`,
    );
    counter.rows += Number(rows[0]?.n ?? 0);
  };
}

function verifyHeaps(pglite: PGlite, amcheck: string, problems: string[]) {
  return async (tables: readonly string[]) => {
    const { rows } = await pglite.query<{ name: string; blkno: number; offnum: number; msg: string }>(
      `SELECT r.name, v.blkno, v.offnum, v.msg
       FROM unnest($1::text[]) AS r(name)
         CROSS JOIN LATERAL ${amcheck}.verify_heapam(r.name::regclass, check_toast => true) AS v
       LIMIT ${heapProblemsMax}`,
      [tables],
    );
    for (const row of rows)
      problems.push(`table ${row.name}, block ${row.blkno}, item ${row.offnum}: ${row.msg}`);
  };
}

function checkIndexes(pglite: PGlite, amcheck: string) {
  return async (indexes: readonly string[]) => {
    await pglite.query(
      `SELECT ${amcheck}.bt_index_check(r.name::regclass, true) FROM unnest($1::text[]) AS r(name)`,
      [indexes],
    );
  };
}

export async function checkTables(pglite: PGlite): Promise<TableCheck> {
  const amcheck = await amcheckSchema(pglite);
  const problems: string[] = [];
  const counter = { rows: 0 };
  const tables = (await pglite.query<{ name: string }>(userTablesSql)).rows.map((row) => row.name);
  const indexes = (await pglite.query<{ name: string }>(userIndexesSql)).rows.map((row) => row.name);
  await batchThenEach('table', tables, problems, readRows(pglite, counter));
  await batchThenEach('table', tables, problems, verifyHeaps(pglite, amcheck, problems));
  await batchThenEach('index', indexes, problems, checkIndexes(pglite, amcheck));
  return { tablesChecked: tables.length, indexesChecked: indexes.length, rowsRead: counter.rows, problems };
}

/** The table or index a relation file belongs to (`base/1/16384` → `xbank.accounts`), if the catalog knows it. */
export async function relationOfFile(pglite: PGlite, file: string): Promise<string | undefined> {
  const match = /^(global|base\/\d+)\/(\d+)/.exec(file);
  if (match === null) return undefined;
  // Tablespace 0 is the database's default (base/); 1664 is pg_global (global/).
  const tablespace = match[1] === 'global' ? 1664 : 0;
  try {
    const { rows } = await pglite.query<{ name: string | null }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid = pg_filenode_relation($1, $2)`,
      [tablespace, Number(match[2])],
    );
    return rows[0]?.name ?? undefined;
  } catch {
    return undefined;
  }
}
