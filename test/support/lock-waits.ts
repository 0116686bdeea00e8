import { requestDeadlineMs, waitFor } from './deadlines.ts';

/** What the check needs of a database handle (@mpay/storage's Sql). */
interface Queryable {
  query<Row>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * Waits until some session of the PostgreSQL server waits on a lock that the
 * session `holder` (its pg_backend_pid) holds, known from pg_blocking_pids
 * rather than from a timer: a race test's second transaction has reached the
 * first one's lock, so committing the first now proves the order.
 */
export async function untilOneWaitsOn(database: Queryable, holder: number, what: string): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await database.query<{ waiting: number }>(
        'SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))',
        [holder],
      );
      return (rows[0]?.waiting ?? 0) > 0;
    },
    { deadlineMs: requestDeadlineMs, what },
  );
}
