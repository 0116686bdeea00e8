import { fetchCheckpoint } from '@mpay/log-client';
import { generateCosignerKey, generateNoteKey } from '@mpay/merkle';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs } from '../../../../test/support/deadlines.ts';
import { migrateLog, migrateWitness } from '../migrations.ts';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';
import { createWitnessServer } from '../witness/service.ts';
import { Witness } from '../witness/witness.ts';

describe('the log asks its witness to cosign every checkpoint before it publishes it', () => {
  let logDatabase: Database;
  let witnessDatabase: Database;
  let witness: Witness;
  let server: FastifyInstance | undefined;
  let witnessUrl: string;
  let logKey: { signerKey: string; verifierKey: string };
  let witnessKey: { signerKey: string; verifierKey: string };
  const policy = (witnessesRequired: number) => ({
    logVerifierKey: logKey.verifierKey,
    witnessVerifierKeys: [witnessKey.verifierKey],
    witnessesRequired,
  });
  const startWitness = async (port = 0) => {
    server = createWitnessServer(witness);
    witnessUrl = await server.listen({ port, host: '127.0.0.1' });
  };
  const startLog = () =>
    startTestLog({
      noteKey: logKey,
      database: logDatabase,
      witnesses: [{ url: witnessUrl, verifierKey: witnessKey.verifierKey }],
      // Generous: a loaded machine must not make the log give up on a witness that is up. A witness that
      // is down (the third test) refuses the connection at once, so this wait never runs out there.
      limits: { witnessTimeoutMs: Math.min(requestDeadlineMs, 60_000) },
    });
  const append = async (log: TestLog, prefix: string, count: number) => {
    for (let i = 0; i < count; i++) await log.submit(await entryFor(`${prefix} ${i}`, `${prefix}-${i}`));
    return log.service.integrateNow();
  };
  const cosignerCount = async (treeSize: bigint) =>
    (
      await logDatabase.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM checkpoint_cosignatures WHERE tree_size = $1',
        [treeSize],
      )
    ).rows[0]!.n;

  beforeAll(async () => {
    logKey = await generateNoteKey(testOrigin);
    witnessKey = await generateCosignerKey('witness.mpay.example');
    [logDatabase, witnessDatabase] = await Promise.all([
      openTestDatabase('log'),
      openTestDatabase('witness'),
    ]);
    await migrateLog(logDatabase);
    await migrateWitness(witnessDatabase);
    witness = await Witness.create({
      database: witnessDatabase,
      signerKey: witnessKey.signerKey,
      logs: [{ origin: testOrigin, verifierKey: logKey.verifierKey }],
    });
    await startWitness();
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all([logDatabase.close(), witnessDatabase.close()]);
  });

  it('serves each checkpoint with the log signature and the witness cosignature', async () => {
    const log = await startLog();
    try {
      const { checkpoint } = await append(log, 'first', 3);
      expect(checkpoint.checkpoint.treeSize).toBe(3n);
      const fetched = await fetchCheckpoint(log.url, policy(1));
      expect(fetched.checkpoint.treeSize).toBe(3n);
      expect(fetched.signedNote.startsWith(checkpoint.signedNote)).toBe(true);
      expect(fetched.witnesses.map((w) => w.name)).toEqual(['witness.mpay.example']);
      expect((await witness.held(testOrigin))?.checkpoint.treeSize).toBe(3n);
    } finally {
      await log.close();
    }
  });

  it('after a restart, learns the size the witness holds from its 409 and proves consistency from there', async () => {
    const log = await startLog();
    try {
      const { checkpoint } = await append(log, 'second', 4);
      expect(checkpoint.checkpoint.treeSize).toBe(7n);
      expect(await cosignerCount(7n)).toBe(1);
      expect((await fetchCheckpoint(log.url, policy(1))).checkpoint.treeSize).toBe(7n);
    } finally {
      await log.close();
    }
  });

  it('publishes without the cosignature while the witness is down, and adds it once it is back', async () => {
    const log = await startLog();
    try {
      const port = Number(new URL(witnessUrl).port);
      await server?.close();
      await append(log, 'third', 2);
      expect(await cosignerCount(9n)).toBe(0);
      await expect(fetchCheckpoint(log.url, policy(1))).rejects.toMatchObject({
        code: 'WITNESS_QUORUM_NOT_MET',
      });
      expect((await fetchCheckpoint(log.url, policy(0))).checkpoint.treeSize).toBe(9n);
      await startWitness(port);
      expect((await log.service.integrateNow()).appended).toBe(0);
      expect(await cosignerCount(9n)).toBe(1);
      expect((await fetchCheckpoint(log.url, policy(1))).checkpoint.treeSize).toBe(9n);
    } finally {
      await log.close();
    }
  });
});
