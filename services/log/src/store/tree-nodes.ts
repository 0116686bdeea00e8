import type { NodeId, TreeReader } from '@mpay/merkle';
import { assert, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { arrayLiteral, fromHex, toHex } from './hex.ts';

/**
 * The stored perfect subtrees as a TreeReader: one query per batch of ids,
 * so a proof costs one O(log n) read. Inside a transaction it sees the
 * nodes that transaction has written.
 */
export class SqlTreeReader implements TreeReader {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async getHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<{ level: number; index: string; hash: string }>(
      `SELECT n.level, n.index::text AS index, encode(n.hash, 'hex') AS hash
         FROM tree_nodes n
         JOIN unnest($1::int[], $2::bigint[]) AS wanted(level, index)
           ON n.level = wanted.level AND n.index = wanted.index`,
      [arrayLiteral(ids.map((id) => id.level)), arrayLiteral(ids.map((id) => id.index))],
    );
    const found = new Map(rows.map((row) => [`${row.level}/${row.index}`, row.hash]));
    return ids.map((id) => {
      const hash = found.get(`${id.level}/${id.index}`);
      if (hash === undefined) throw new MpayError('NOT_FOUND', 'tree node');
      return fromHex(hash);
    });
  }
}

/** Stores the perfect subtrees completed by an append, in one statement. */
export async function storeNodes(
  sql: Sql,
  nodes: ReadonlyArray<readonly [NodeId, Uint8Array]>,
): Promise<void> {
  if (nodes.length === 0) return;
  const result = await sql.query(
    `INSERT INTO tree_nodes (level, index, hash)
     SELECT level, index, decode(hash, 'hex') FROM unnest($1::int[], $2::bigint[], $3::text[]) AS n(level, index, hash)`,
    [
      arrayLiteral(nodes.map(([id]) => id.level)),
      arrayLiteral(nodes.map(([id]) => id.index)),
      arrayLiteral(nodes.map(([, hash]) => toHex(hash))),
    ],
  );
  assert(result.rowCount === nodes.length, 'every completed subtree stored once');
}
