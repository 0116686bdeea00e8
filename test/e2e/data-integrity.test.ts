import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createBankService, migrateBank } from '@mpay/bank';
import { main } from '@mpay/cli';
import { generateSigningKeyPair } from '@mpay/envelope';
import type { ReadinessCheck } from '@mpay/http-server';
import { isMpayError } from '@mpay/protocol';
import { type Database, openDatabase } from '@mpay/storage';
import { afterAll, describe, expect, it } from 'vitest';
import {
  heapFileOf,
  manualTimer,
  overwrite,
  recordingLog,
  temporaryFolder,
} from '../../packages/storage/src/data-folder/folders.test-helper.ts';
import { testBearerToken, testBearerVerifier } from '../../services/bank/src/test-helpers.ts';
import { backgroundWorkDeadlineMs, requestDeadlineMs, waitFor } from '../support/deadlines.ts';

/**
 * The check, "a page of the embedded database corrupted", on a real
 * bank over real HTTP: a customer's account, then 64 bytes of the accounts
 * table's page overwritten on disk while the bank runs (the bytes that made
 * an account vanish silently before). The periodic integrity check raises
 * the alarm (STORAGE_CORRUPTED, the folder, the table); GET /ready, whose
 * database check queries the fenced database, turns 503; the account is
 * answered with 503 STORAGE_CORRUPTED, never as missing; and the bank does
 * not start again on the damaged folder.
 */
const folders: { remove(): Promise<void> }[] = [];
afterAll(async () => {
  for (const folder of folders) await folder.remove();
});

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${testBearerToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('a bank on a data page damaged while it runs', () => {
  it('raises the alarm, turns not ready, refuses to answer from the damaged data, and does not start again', async () => {
    const root = await temporaryFolder('e2e-integrity');
    folders.push(root);
    const dataDir = join(root.path, 'data');
    const folder = join(dataDir, 'xbank');
    const timer = manualTimer();
    const { log, errors } = recordingLog();
    const database: Database = await openDatabase({
      dataDir,
      schema: 'xbank',
      integrity: { timer, log, intervalMs: 60_000 },
    });
    await migrateBank(database);
    const service = createBankService({
      name: 'xbank',
      database,
      signingKey: (await generateSigningKeyPair()).privateJwk,
      verifyRequest: testBearerVerifier(),
    });
    const url = await service.listen(0);
    try {
      // What a service would add to its own readiness checks: the storage's, as @mpay/http-server takes it.
      const storageCheck: ReadinessCheck | undefined = database.integrity?.readiness;
      expect(storageCheck?.name).toBe('storage integrity');

      const opened = await call(url, 'POST', '/accounts', {
        owner: 'john.bernard@person.xbank',
        currency: 'EUR',
        kind: 'customer',
      });
      expect(opened.status).toBe(201);
      const accountId = opened.body.id as string;
      expect((await call(url, 'GET', `/accounts/${accountId}`)).status).toBe(200);
      expect((await call(url, 'GET', '/ready')).status).toBe(200);

      await overwrite(join(folder, await heapFileOf(database, 'accounts')), 24, new Uint8Array(64));
      timer.fire();
      await waitFor(() => errors.length > 0, { deadlineMs: backgroundWorkDeadlineMs, what: 'the alarm' });
      expect(errors[0]).toMatchObject({ code: 'STORAGE_CORRUPTED', folder });
      expect(errors[0]?.problems?.join('\n')).toMatch(
        /^page 0 of xbank\.accounts \(base\/1\/\d+\): checksum/m,
      );

      const ready = await waitFor(
        async () => {
          const answer = await call(url, 'GET', '/ready');
          return answer.status === 503 ? answer : undefined;
        },
        { deadlineMs: requestDeadlineMs, what: '/ready to say 503' },
      );
      expect(ready.body).toMatchObject({ status: 'not_ready', checks: { database: 'failed' } });
      const account = await call(url, 'GET', `/accounts/${accountId}`);
      expect(account).toMatchObject({ status: 503, body: { error: { code: 'STORAGE_CORRUPTED' } } });
      expect(JSON.stringify(account.body)).not.toContain(root.path);
    } finally {
      await service.close();
      await database.close();
    }

    const restart = await openDatabase({ dataDir, schema: 'xbank', integrity: { log } }).then(
      async (reopened) => {
        await reopened.close();
        throw new Error('the damaged folder opened');
      },
      (error: unknown) => error,
    );
    expect(isMpayError(restart) && restart.code).toBe('STORAGE_CORRUPTED');
    expect(isMpayError(restart) && restart.detail).toMatch(
      new RegExp(`^the embedded database in ${folder} is damaged: page 0 of xbank\\.accounts`),
    );
  });
});

describe('mpay up on an unusable data folder', () => {
  it('exits 1 with the storage code, the folder and the cause, before it listens on any port', async () => {
    const root = await temporaryFolder('e2e-up');
    folders.push(root);
    const dataDir = join(root.path, '.mpay');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'gateway'), 'a file where the gateway database should be');
    // The embedded database (not a DATABASE_URL of the CI), and port 0 should it get as far as listening.
    const names = [
      'DATABASE_URL',
      ...['GATEWAY', 'XBANK', 'SHOP', 'YBANK', 'LOG', 'WITNESS', 'CUSTODY', 'MAIL', 'SMS', 'WEB'].map(
        (name) => `MPAY_${name}_PORT`,
      ),
    ];
    const saved = new Map(names.map((name) => [name, process.env[name]]));
    for (const name of names) {
      if (name === 'DATABASE_URL') delete process.env[name];
      else process.env[name] = '0';
    }
    const out: string[] = [];
    const err: string[] = [];
    try {
      const code = await main(['up', '--data', dataDir], {
        stdout: (text) => out.push(text),
        stderr: (text) => err.push(text),
      });
      expect(code).toBe(1);
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(err.join('')).toBe(
      'mpay: STORAGE_UNAVAILABLE: The database cannot be opened: its folder is missing, read-only, in use by another process, not a database or damaged. ' +
        `(cannot open the embedded database in ${join(dataDir, 'gateway')}: the path is not a folder: a file is in its place (ENOTDIR))\n`,
    );
  });
});
