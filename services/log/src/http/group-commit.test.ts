import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticSubmissions } from '../bench/workload.ts';
import { migrateLog } from '../migrations.ts';
import { GroupCommit } from './group-commit.ts';

describe('group commit of submissions', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase('group');
    await migrateLog(database);
  });
  afterAll(async () => database.close());

  const commits = (options: Partial<ConstructorParameters<typeof GroupCommit>[1]> = {}) =>
    new GroupCommit(database, {
      batchSizeMax: 64,
      queueMax: 1_000,
      pendingEntriesMax: 10_000,
      clock: () => new Date(),
      ...options,
    });

  it('gives concurrent submitters dense, distinct indices, per submitter', async () => {
    const group = commits();
    const [a, b] = [syntheticSubmissions(0, 100, 'a'), syntheticSubmissions(0, 30, 'b')];
    const results = await Promise.all([
      ...a.map((submission) => group.submit(submission, 'gateway')),
      ...b.map((submission) => group.submit(submission, 'bank')),
    ]);
    const indices = results.map((result) => Number(result.index)).sort((x, y) => x - y);
    expect(indices).toEqual(Array.from({ length: 130 }, (_, i) => i));
    expect(results.every((result) => result.created)).toBe(true);
    const { rows } = await database.query<{ submitter: string; n: number }>(
      'SELECT submitter, count(*)::int AS n FROM entries GROUP BY submitter ORDER BY submitter',
    );
    expect(rows).toEqual([
      { submitter: 'bank', n: 30 },
      { submitter: 'gateway', n: 100 },
    ]);
  });

  it('answers a repeat, in the same batch or a later one, with the first index', async () => {
    const group = commits();
    const [submission] = syntheticSubmissions(500, 1, 'repeat');
    const [first, second] = await Promise.all([
      group.submit(submission!, 'gateway'),
      group.submit(submission!, 'gateway'),
    ]);
    expect(first).toMatchObject({ created: true });
    expect(second).toEqual({ index: first.index, created: false });
    expect(await group.submit(submission!, 'gateway')).toEqual({ index: first.index, created: false });
    // The same hash and transaction from another submitter is another entry.
    expect((await group.submit(submission!, 'bank')).created).toBe(true);
  });

  it('refuses with SERVICE_UNAVAILABLE beyond its queue or the integration backlog', async () => {
    const small = commits({ queueMax: 2 });
    const burst = syntheticSubmissions(900, 4, 'burst').map((submission) =>
      small.submit(submission, 'gateway'),
    );
    const settled = await Promise.allSettled(burst);
    expect(settled.filter((result) => result.status === 'rejected')).toHaveLength(2);
    expect((settled[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // Several at once (POST /entry-batches): all or none, never the first few of them.
    const room = commits({ queueMax: 3 });
    const first = room.submit(syntheticSubmissions(920, 1, 'first')[0]!, 'gateway');
    await expect(room.submitAll(syntheticSubmissions(930, 3, 'three'), 'gateway')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    const two = await room.submitAll(syntheticSubmissions(940, 2, 'two'), 'gateway');
    expect(two.map((result) => result.index)).toEqual([(await first).index + 1n, (await first).index + 2n]);
    const full = commits({ pendingEntriesMax: 1 });
    await expect(full.submit(syntheticSubmissions(950, 1, 'full')[0]!, 'gateway')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });
});
