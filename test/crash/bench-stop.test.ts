import { tokenLabelsWithPins } from '@mpay/hsm/test-support';
import { postgresSchemasStartingWith } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, processExitDeadlineMs, waitFor } from '../support/deadlines.ts';
import { type MpayChild, startMpay } from './platform-process.ts';

/**
 * `mpay bench e2e` starts what outlives its process: on the embedded database a softhsm2 token for
 * custody in the shared folder, on PostgreSQL a schema per service. Told to stop by SIGTERM (kill,
 * a CI's timeout) or Ctrl-C, it removes them before it exits with the signal's status. Before, a
 * SIGTERM ended it at once and both stayed.
 */
const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;

/** What the bench said it made: its token's label and folder, its schemas' prefix (PostgreSQL). */
function madeBy(bench: MpayChild): { label: string; directory: string; schemaPrefix: string | undefined } {
  const token = /custody's token "([^"]+)" in (\S+), deleted at the end/.exec(bench.stderr());
  if (token === null) throw new Error(`the bench named no token of its own:\n${bench.stderr()}`);
  const schemas = /schemas (bench_e2e_[0-9a-f]{8}_)\*/.exec(bench.stderr());
  if (databaseUrl !== undefined && schemas === null)
    throw new Error(`the bench named no schemas:\n${bench.stderr()}`);
  return { label: token[1]!, directory: token[2]!, schemaPrefix: schemas?.[1] };
}

async function stopAndCheck(
  bench: MpayChild,
  signal: 'SIGTERM' | 'SIGINT',
  status: number,
  deadlineMs: number,
): Promise<void> {
  expect(await bench.stopWith(signal, deadlineMs), bench.stderr()).toBe(status);
  expect(bench.stderr()).toContain(`bench e2e: ${signal}; cleaning up what it started, then exiting`);
  const made = madeBy(bench);
  // deleteSoftHsmToken removes the label's PINs last, after the token itself.
  expect(tokenLabelsWithPins(made.directory)).not.toContain(made.label);
  if (made.schemaPrefix !== undefined && databaseUrl !== undefined)
    expect(await postgresSchemasStartingWith(databaseUrl, made.schemaPrefix)).toEqual([]);
}

describe(`mpay bench e2e told to stop (${databaseUrl === undefined ? 'pglite' : 'postgres'})`, () => {
  it('SIGTERM while the driver pays: the driver stopped, the platform closed, its token deleted and its schemas dropped; exit 143', async () => {
    const bench = startMpay(['bench', 'e2e', '--concurrency', '1', '--seconds', '3600']);
    await waitFor(() => bench.stderr().includes('device session(s) and event streams'), {
      deadlineMs: platformStartDeadlineMs,
      what: 'the bench to start paying',
      detail: bench.stderr,
    }).catch(async (error: unknown) => {
      await bench.interrupt(processExitDeadlineMs);
      throw error;
    });
    if (databaseUrl !== undefined) {
      const prefix = madeBy(bench).schemaPrefix as string;
      // The check below would pass for a bench that never made its schemas.
      expect((await postgresSchemasStartingWith(databaseUrl, prefix)).length).toBeGreaterThan(0);
    }
    await stopAndCheck(bench, 'SIGTERM', 143, processExitDeadlineMs);
  });

  it('Ctrl-C while the platform starts: it is closed once started, its token deleted; exit 130', async () => {
    const bench = startMpay(['bench', 'e2e', '--concurrency', '1', '--seconds', '3600']);
    await waitFor(() => bench.stderr().includes('bench e2e: starting the platform'), {
      deadlineMs: platformStartDeadlineMs,
      what: 'the bench to start its platform',
      detail: bench.stderr,
    });
    // It waits for the start under way, then closes what it started.
    await stopAndCheck(bench, 'SIGINT', 130, platformStartDeadlineMs + processExitDeadlineMs);
    expect(bench.stderr()).not.toContain('device session(s)');
  });
});
