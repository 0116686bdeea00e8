import { generateNoteKey, openCheckpoint } from '@mpay/merkle';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWitness } from '../migrations.ts';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';
import { followLog } from './follow.ts';
import { createWitnessServer } from './service.ts';
import { Witness, type WitnessAlarm } from './witness.ts';

describe('witness', () => {
  let honest: TestLog;
  let forked: TestLog;
  let database: Database;
  let witness: Witness;
  let server: FastifyInstance;
  let witnessUrl: string;
  let witnessVerifierKey: string;
  const alarms: WitnessAlarm[] = [];

  const append = async (log: TestLog, prefix: string, count: number) => {
    for (let i = 0; i < count; i++) await log.submit(await entryFor(`${prefix} ${i}`, `${prefix}-${i}`));
    await log.service.integrateNow();
    return (await log.get('/checkpoint')).text;
  };
  const addCheckpoint = async (body: unknown) => {
    const response = await fetch(`${witnessUrl}/witness/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const proofOf = async (log: TestLog, from: number, to: number) =>
    (await log.get(`/proofs/consistency?from=${from}&to=${to}`)).body.hashes as string[];

  beforeAll(async () => {
    const logKey = await generateNoteKey(testOrigin);
    honest = await startTestLog({ noteKey: logKey });
    // A second instance with the same key and origin but other entries: a forking log.
    forked = await startTestLog({ noteKey: logKey });
    const witnessKey = await generateNoteKey('witness.mpay.example');
    witnessVerifierKey = witnessKey.verifierKey;
    database = await openTestDatabase('witness');
    await migrateWitness(database);
    witness = await Witness.create({
      database,
      signerKey: witnessKey.signerKey,
      logs: [{ origin: testOrigin, verifierKey: logKey.verifierKey }],
      onAlarm: (alarm) => alarms.push(alarm),
    });
    server = createWitnessServer(witness);
    witnessUrl = await server.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server.close();
    await Promise.all([honest.close(), forked.close(), database.close()]);
  });

  it('follows a log and cosigns every consistent checkpoint', async () => {
    await append(honest, 'honest', 3);
    const first = await followLog(witness, honest.url, testOrigin);
    expect(first.treeSize).toBe(3n);
    await append(honest, 'honest-more', 4);
    const second = await followLog(witness, honest.url, testOrigin);
    expect(second.treeSize).toBe(7n);
    const opened = await openCheckpoint(second.checkpoint, testOrigin, [
      witnessVerifierKey,
      honest.verifierKey,
    ]);
    expect(opened.note.verifiedSignatures.map((signature) => signature.name).sort()).toEqual([
      'log.mpay.example/transactions',
      'witness.mpay.example',
    ]);
    expect(
      (await openCheckpoint(second.checkpoint, testOrigin, [witnessVerifierKey])).checkpoint.treeSize,
    ).toBe(7n);
    const again = await addCheckpoint({ checkpoint: (await honest.get('/checkpoint')).text, proof: [] });
    expect(again).toMatchObject({ status: 200, body: { cosignature: second.cosignature } });
    expect(alarms).toEqual([]);
  });

  it('catches a forking log: same size, different root', async () => {
    const fork = await append(forked, 'forked', 7);
    const answer = await addCheckpoint({ checkpoint: fork, proof: [] });
    expect(answer).toMatchObject({ status: 409, body: { error: { code: 'CHECKPOINT_FORK' } } });
    expect(alarms.at(-1)).toMatchObject({ code: 'CHECKPOINT_FORK', heldTreeSize: 7n, refusedTreeSize: 7n });
  });

  it('catches a forking log: a larger tree whose proof does not extend the held one', async () => {
    const fork = await append(forked, 'forked-more', 2);
    const answer = await addCheckpoint({ checkpoint: fork, proof: await proofOf(forked, 7, 9), oldSize: 7 });
    expect(answer).toMatchObject({ status: 409, body: { error: { code: 'CHECKPOINT_FORK' } } });
    await expect(followLog(witness, forked.url, testOrigin)).rejects.toMatchObject({
      code: 'CHECKPOINT_FORK',
    });
    expect(witness.alarmCounts.get('CHECKPOINT_FORK')).toBe(3);
    const { rows } = await database.query<{ code: string }>('SELECT code FROM witness_alarms ORDER BY id');
    expect(rows.map((row) => row.code)).toEqual(['CHECKPOINT_FORK', 'CHECKPOINT_FORK', 'CHECKPOINT_FORK']);
    expect((await witness.held(testOrigin))?.checkpoint.treeSize).toBe(7n);
  });

  it('refuses a rollback to a smaller checkpoint', async () => {
    const older = await openCheckpoint((await honest.get('/checkpoint')).text, testOrigin, [
      honest.verifierKey,
    ]);
    expect(older.checkpoint.treeSize).toBe(7n);
    const bigger = await append(honest, 'honest-last', 1);
    await addCheckpoint({ checkpoint: bigger, proof: await proofOf(honest, 7, 8) });
    const stale = (
      await honest.database.query<{ signed_note: string }>(
        'SELECT signed_note FROM checkpoints WHERE tree_size = 3',
      )
    ).rows[0]?.signed_note;
    const answer = await addCheckpoint({ checkpoint: stale, proof: [] });
    expect(answer).toMatchObject({ status: 409, body: { error: { code: 'CHECKPOINT_ROLLBACK' } } });
    expect(alarms.at(-1)).toMatchObject({
      code: 'CHECKPOINT_ROLLBACK',
      heldTreeSize: 8n,
      refusedTreeSize: 3n,
    });
  });

  it('rejects bad requests with stable codes and no alarm', async () => {
    const count = witness.alarmCount;
    const note = (await honest.get('/checkpoint')).text;
    const cases: Array<[unknown, string]> = [
      [{ checkpoint: note, proof: [], oldSize: 3 }, 'CHECKPOINT_OLD_SIZE_MISMATCH'],
      [{ checkpoint: note.replace('\n8\n', '\n9\n'), proof: [] }, 'NOTE_SIGNATURE_INVALID'],
      [{ checkpoint: note.replace(testOrigin, 'other.example/log'), proof: [] }, 'CHECKPOINT_INVALID'],
      [{ checkpoint: note, proof: ['zz'] }, 'REQUEST_INVALID'],
      [{ checkpoint: note }, 'REQUEST_INVALID'],
    ];
    for (const [body, code] of cases) {
      expect((await addCheckpoint(body)).body, code).toMatchObject({ error: { code } });
    }
    expect(witness.alarmCount).toBe(count);
  });
});
