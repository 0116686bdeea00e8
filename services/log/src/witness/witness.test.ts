import { formatAddCheckpoint, requestCosignature } from '@mpay/log-client';
import {
  formatCheckpoint,
  generateCosignerKey,
  generateNoteKey,
  openCheckpoint,
  signNote,
} from '@mpay/merkle';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWitness } from '../migrations.ts';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';
import { followLog } from './follow.ts';
import { createWitnessServer } from './service.ts';
import { Witness, type WitnessAlarm } from './witness.ts';

const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));

describe('witness (c2sp.org/tlog-witness, tlog-cosignature v1)', () => {
  let honest: TestLog;
  let forked: TestLog;
  let logKey: { signerKey: string; verifierKey: string };
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
  const post = async (body: string) => {
    const response = await fetch(`${witnessUrl}/add-checkpoint`, { method: 'POST', body });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      type,
      text,
      body: type.startsWith('application/json') ? JSON.parse(text) : {},
    };
  };
  const add = (checkpoint: string, oldSize: number, proof: readonly string[] = []) =>
    post(formatAddCheckpoint({ checkpoint, oldSize: BigInt(oldSize), proof: proof.map(bytes) }));
  const proofOf = async (log: TestLog, from: number, to: number) =>
    (await log.get(`/proofs/consistency?from=${from}&to=${to}`)).body.hashes as string[];

  beforeAll(async () => {
    logKey = await generateNoteKey(testOrigin);
    honest = await startTestLog({ noteKey: logKey });
    // A second instance with the same key and origin but other entries: a forking log.
    forked = await startTestLog({ noteKey: logKey });
    const witnessKey = await generateCosignerKey('witness.mpay.example');
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

  it('follows a log and cosigns every consistent checkpoint with a cosignature/v1 line', async () => {
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
    // 4 bytes key ID, 8 bytes timestamp, 64 bytes Ed25519: c2sp.org/tlog-cosignature v1.
    expect(bytes(second.cosignature.trim().split(' ')[2]!).length).toBe(76);
    const again = await add((await honest.get('/checkpoint')).text, 7);
    expect(again).toMatchObject({ status: 200, type: 'text/plain; charset=utf-8' });
    expect(again.text).toMatch(/^\u2014 witness\.mpay\.example [A-Za-z0-9+/]{102}==\n$/);
    expect(alarms).toEqual([]);
  });

  it('answers its held size (409 text/x.tlog.size) when the old size is not it, and the client retries', async () => {
    const note = (await honest.get('/checkpoint')).text;
    expect(await add(note, 3)).toMatchObject({ status: 409, type: 'text/x.tlog.size', text: '7\n' });
    expect(await add(note, 0)).toMatchObject({ status: 409, text: '7\n' });
    const answer = await requestCosignature(
      witnessUrl,
      { checkpoint: note, consistencyProof: [], oldSize: 0n },
      witnessVerifierKey,
    );
    expect(answer).toEqual({ cosigned: false, heldSize: 7n });
    const retried = await requestCosignature(
      witnessUrl,
      { checkpoint: note, consistencyProof: [], oldSize: 7n },
      witnessVerifierKey,
    );
    expect(retried).toMatchObject({
      cosigned: true,
      witness: expect.stringMatching(/^witness\.mpay\.example\+[0-9a-f]{8}$/),
    });
    expect(alarms).toEqual([]);
  });

  it('catches a forking log: same size, different root (409)', async () => {
    const fork = await append(forked, 'forked', 7);
    const answer = await add(fork, 7);
    expect(answer).toMatchObject({ status: 409, body: { error: { code: 'CHECKPOINT_FORK' } } });
    expect(alarms.at(-1)).toMatchObject({ code: 'CHECKPOINT_FORK', heldTreeSize: 7n, refusedTreeSize: 7n });
  });

  it('catches a forking log: a larger tree whose proof does not extend the held one (422)', async () => {
    const fork = await append(forked, 'forked-more', 2);
    const answer = await add(fork, 7, await proofOf(forked, 7, 9));
    expect(answer).toMatchObject({ status: 422, body: { error: { code: 'CHECKPOINT_FORK' } } });
    await expect(followLog(witness, forked.url, testOrigin)).rejects.toMatchObject({
      code: 'CHECKPOINT_FORK',
    });
    await expect(
      requestCosignature(
        witnessUrl,
        { checkpoint: fork, consistencyProof: (await proofOf(forked, 7, 9)).map(bytes), oldSize: 7n },
        witnessVerifierKey,
      ),
    ).rejects.toMatchObject({ code: 'CHECKPOINT_FORK' });
    expect(witness.alarmCounts.get('CHECKPOINT_FORK')).toBe(4);
    const { rows } = await database.query<{ code: string; held_note: string; refused_note: string }>(
      'SELECT code, held_note, refused_note FROM witness_alarms ORDER BY id',
    );
    expect(rows.map((row) => row.code)).toEqual(Array(4).fill('CHECKPOINT_FORK'));
    expect(rows.at(-1)?.refused_note).toBe(fork);
    expect((await witness.held(testOrigin))?.checkpoint.treeSize).toBe(7n);
  });

  it('refuses a rollback to a smaller checkpoint, whatever old size it names', async () => {
    const bigger = await append(honest, 'honest-last', 1);
    expect((await add(bigger, 7, await proofOf(honest, 7, 8))).status).toBe(200);
    const stale = (
      await honest.database.query<{ signed_note: string }>(
        'SELECT signed_note FROM checkpoints WHERE tree_size = 3',
      )
    ).rows[0]!.signed_note;
    for (const oldSize of [8, 3, 0]) {
      const answer = await add(stale, oldSize);
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'CHECKPOINT_ROLLBACK' } } });
      expect(alarms.at(-1)).toMatchObject({
        code: 'CHECKPOINT_ROLLBACK',
        heldTreeSize: 8n,
        refusedTreeSize: 3n,
      });
    }
  });

  it('rejects bad requests with stable codes and statuses, and raises no alarm', async () => {
    const count = witness.alarmCount;
    const note = (await honest.get('/checkpoint')).text;
    const body = note.slice(0, note.indexOf('\n\n') + 1);
    const stranger = await generateNoteKey(testOrigin);
    const other = await generateNoteKey('other.example/log');
    const extended = await signNote(
      formatCheckpoint({ origin: testOrigin, treeSize: 8, rootHash: new Uint8Array(32), extensions: ['x'] }),
      [logKey.signerKey],
    );
    const logLine = note.slice(body.length + 1).split('\n')[0]!;
    const cases: Array<[string, number, string]> = [
      [
        formatAddCheckpoint({ checkpoint: note.replace('\n8\n', '\n9\n'), oldSize: 8n, proof: [] }),
        403,
        'NOTE_SIGNATURE_INVALID',
      ],
      [
        formatAddCheckpoint({
          checkpoint: await signNote(body, [stranger.signerKey]),
          oldSize: 8n,
          proof: [],
        }),
        403,
        'NOTE_KEY_UNKNOWN',
      ],
      [
        formatAddCheckpoint({
          checkpoint: await signNote(body.replace(testOrigin, 'other.example/log'), [other.signerKey]),
          oldSize: 8n,
          proof: [],
        }),
        404,
        'LOG_UNKNOWN',
      ],
      [formatAddCheckpoint({ checkpoint: extended, oldSize: 8n, proof: [] }), 400, 'CHECKPOINT_INVALID'],
      [
        formatAddCheckpoint({ checkpoint: `${body}\n${`${logLine}\n`.repeat(101)}`, oldSize: 8n, proof: [] }),
        400,
        'NOTE_TOO_MANY_SIGNATURES',
      ],
      [
        formatAddCheckpoint({ checkpoint: `${body}\n\u2014 ${testOrigin}\n`, oldSize: 8n, proof: [] }),
        400,
        'NOTE_INVALID',
      ],
      [formatAddCheckpoint({ checkpoint: note, oldSize: 9n, proof: [] }), 400, 'REQUEST_INVALID'],
      [`old 08\n\n${note}`, 400, 'REQUEST_INVALID'],
      [`old 8\nzz\n\n${note}`, 400, 'REQUEST_INVALID'],
      [`old 8\n${note}`, 400, 'REQUEST_INVALID'],
      [note, 400, 'REQUEST_INVALID'],
    ];
    for (const [request, status, code] of cases) {
      expect(await post(request), code).toMatchObject({ status, body: { error: { code } } });
    }
    expect(witness.alarmCount).toBe(count);
  });
});
