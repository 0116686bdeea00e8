import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migrate, openTestDatabase, readMigrations } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import { openMessageStates, openMessagesByStateQuery } from './metrics.ts';
import { custodyMigrationsFolder } from './service.ts';

describe("custody's metrics read at a scrape", () => {
  it('count the open messages through messages_open, whose predicate lists the same states', async () => {
    expect(openMessageStates).toEqual(['sent_to_device', 'signed', 'declined']);
    const migration = await readFile(join(custodyMigrationsFolder, '0004_messages_open.sql'), 'utf8');
    expect(migration).toContain("WHERE state IN ('sent_to_device', 'signed', 'declined')");
    const database = await openTestDatabase('custody_metrics');
    try {
      await migrate(database, await readMigrations(custodyMigrationsFolder));
      // A generic plan too (no parameter to hide the states from it), with sequential scans priced out.
      const plan = await database.transaction(async (sql) => {
        await sql.query("SET LOCAL plan_cache_mode = 'force_generic_plan'");
        await sql.query('SET LOCAL enable_seqscan = off');
        const { rows } = await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${openMessagesByStateQuery}`);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
      expect(plan).toContain('messages_open');
    } finally {
      await database.close();
    }
  });
});
