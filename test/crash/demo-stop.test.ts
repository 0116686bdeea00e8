import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformSchemas } from '@mpay/cli';
import { inspectDataFolder } from '@mpay/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, processExitDeadlineMs, waitFor } from '../support/deadlines.ts';
import { startMpay } from './platform-process.ts';

/**
 * `mpay demo` with no platform running starts the services in its own process on the data folder.
 * Told to stop (SIGTERM) in the middle of its payment, it closes them as `mpay up` would: every
 * embedded database of the folder is left "shut down", not "in production" as a killed process leaves
 * it (and as the demo left it before), and the command exits 143. On the embedded database whatever
 * DATABASE_URL says: the folders are what it checks.
 */
const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

describe('mpay demo told to stop', () => {
  it('SIGTERM during its payment: the platform it started is closed, every database shut down; exit 143', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mpay-demo-stop-'));
    folders.push(dataDir);
    const { DATABASE_URL: _postgres, ...embedded } = process.env;
    const demo = startMpay(['demo', '--data', dataDir], embedded);
    try {
      // Its first step's line: every service has started, the payment is under way.
      await waitFor(() => demo.stdout().includes('\n1. Customer'), {
        deadlineMs: platformStartDeadlineMs,
        what: 'the demo to start its payment',
        detail: demo.output,
      });
    } catch (error) {
      await demo.interrupt(processExitDeadlineMs);
      throw error;
    }
    expect(await demo.stopWith('SIGTERM', processExitDeadlineMs), demo.output()).toBe(143);
    expect(demo.stderr()).toContain('mpay demo: SIGTERM; cleaning up what it started, then exiting');
    const states = await Promise.all(
      platformSchemas.map(async (schema) => {
        const folder = await inspectDataFolder(join(dataDir, schema));
        return [schema, folder.kind === 'cluster' ? folder.control.state : folder.kind] as const;
      }),
    );
    expect(Object.fromEntries(states)).toEqual(
      Object.fromEntries(platformSchemas.map((schema) => [schema, 'shut down'])),
    );
  });
});
