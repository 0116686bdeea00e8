import type { NodeId, TreeReader } from '@mpay/merkle';
import { assert, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { fromHex, toHex } from './hex.ts';

/**
 * The stored perfect subtrees as a TreeReader: one query per batch of ids,
 * so a proof costs one O(log n) read. Leaves (level 0) are the entries' leaf
 * hashes; tree_nodes holds level 1 and up. Inside a transaction it sees the
 * rows that transaction has written.
 */
export class SqlTreeReader implements TreeReader {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async getHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    if (ids.length === 0) return [];
    const leaves = ids.filter((id) => id.level === 0);
    const inner = ids.filter((id) => id.level > 0);
    const { rows } = await this.sql.query<{ level: number; index: string; hash: string }>(
      `SELECT 0 AS level, e.index::text AS index, encode(e.leaf_hash, 'hex') AS hash
         FROM entries e WHERE e.index = ANY($1::bigint[])
       UNION ALL
       SELECT n.level, n.index::text AS index, encode(n.hash, 'hex') AS hash
         FROM tree_nodes n
         JOIN unnest($2::int[], $3::bigint[]) AS wanted(level, index)
           ON n.level = wanted.level AND n.index = wanted.index`,
      [
        leaves.map((id) => id.index.toString(10)),
        inner.map((id) => id.level),
        inner.map((id) => id.index.toString(10)),
      ],
    );
    const found = new Map(rows.map((row) => [`${row.level}/${row.index}`, row.hash]));
    return ids.map((id) => {
      const hash = found.get(`${id.level}/${id.index}`);
      if (hash === undefined) throw new MpayError('NOT_FOUND', 'tree node');
      return fromHex(hash);
    });
  }
}

/** Stores the perfect subtrees above the leaves that an append completed, in one statement. */
export async function storeNodes(
  sql: Sql,
  nodes: ReadonlyArray<readonly [NodeId, Uint8Array]>,
): Promise<void> {
  const inner = nodes.filter(([id]) => id.level > 0);
  if (inner.length === 0) return;
  const result = await sql.query(
    `INSERT INTO tree_nodes (level, index, hash)
     SELECT level, index, decode(hash, 'hex') FROM unnest($1::int[], $2::bigint[], $3::text[]) AS n(level, index, hash)`,
    [
      inner.map(([id]) => id.level),
      inner.map(([id]) => id.index.toString(10)),
      inner.map(([, hash]) => toHex(hash)),
    ],
  );
  assert(result.rowCount === inner.length, 'every completed subtree stored once');
}
