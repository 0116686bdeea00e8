import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateCosignerKey, generateNoteKey, noteBytesMax } from '@mpay/merkle';
import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWitness } from '../migrations.ts';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';
import { followLog } from './follow.ts';
import { Witness } from './witness.ts';

/** How a hostile log in front of an honest one answers the path it is asked. */
type Answer = (path: string, response: ServerResponse) => Promise<void> | void;

/** An answer far beyond noteBytesMax, written as the reader takes it; how much of it left is recorded. */
const endless = { bytes: 64 * 1_048_576, written: 0 };

async function writeEndless(response: ServerResponse): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/plain' });
  const chunk = Buffer.alloc(65_536, 'a');
  endless.written = 0;
  const closed = once(response, 'close');
  while (endless.written < endless.bytes && !response.destroyed) {
    endless.written += chunk.length;
    if (!response.write(chunk)) await Promise.race([once(response, 'drain'), closed]);
  }
  response.end();
}

describe('the witness follows a log it does not trust', () => {
  let honest: TestLog;
  let database: Database;
  let witness: Witness;
  let hostile: Server;
  let hostileUrl: string;
  let answer: Answer;
  const trickles = new Set<NodeJS.Timeout>();

  const forward: Answer = async (path, response) => {
    const upstream = await fetch(`${honest.url}${path}`);
    response.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
    });
    response.end(await upstream.text());
  };

  beforeAll(async () => {
    const logKey = await generateNoteKey(testOrigin);
    honest = await startTestLog({ noteKey: logKey });
    database = await openTestDatabase('witness_follow');
    await migrateWitness(database);
    witness = await Witness.create({
      database,
      signerKey: (await generateCosignerKey('witness.mpay.example')).signerKey,
      logs: [{ origin: testOrigin, verifierKey: logKey.verifierKey }],
    });
    hostile = createServer((request, response) => {
      Promise.resolve(answer(request.url ?? '/', response)).catch(() => response.destroy());
    });
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    // The witness holds the log's first checkpoint, so that the next follow asks for a consistency proof.
    for (let i = 0; i < 3; i++) await honest.submit(await entryFor(`first ${i}`, `first-${i}`));
    await honest.service.integrateNow();
    answer = forward;
    expect((await followLog(witness, hostileUrl, testOrigin)).treeSize).toBe(3n);
    for (let i = 0; i < 2; i++) await honest.submit(await entryFor(`more ${i}`, `more-${i}`));
    await honest.service.integrateNow();
  });
  afterAll(async () => {
    for (const timer of trickles) clearInterval(timer);
    hostile.closeAllConnections();
    await new Promise((resolve) => hostile.close(resolve));
    await Promise.all([honest.close(), database.close()]);
  });

  it('refuses an answer beyond noteBytesMax as it passes the bound, without reading the rest', async () => {
    answer = (path, response) => (path === '/checkpoint' ? writeEndless(response) : forward(path, response));
    await expect(followLog(witness, hostileUrl, testOrigin)).rejects.toMatchObject({
      code: 'REQUEST_TOO_LARGE',
    });
    // What left before the witness hung up: its bound and what the sockets' buffers held, not 64 MiB.
    expect(endless.written).toBeGreaterThan(noteBytesMax);
    expect(endless.written).toBeLessThan(endless.bytes / 2);
  });

  it('refuses a consistency proof that is not an object of hashes (PROOF_INVALID), whatever JSON it is', async () => {
    for (const body of ['null', '"hashes"', '{"hashes":[1]}', '{"hashes":', '[]']) {
      answer = (path, response) => {
        if (path === '/checkpoint') return forward(path, response);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      };
      await expect(followLog(witness, hostileUrl, testOrigin), body).rejects.toMatchObject({
        code: 'PROOF_INVALID',
      });
    }
  });

  it('gives up on an answer whose body trickles past the deadline (SERVICE_UNAVAILABLE)', async () => {
    answer = (path, response) => {
      if (path !== '/checkpoint') return forward(path, response);
      response.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => response.write('a'), 20);
      trickles.add(timer);
      response.on('close', () => {
        clearInterval(timer);
        trickles.delete(timer);
      });
    };
    await expect(followLog(witness, hostileUrl, testOrigin, { fetchTimeoutMs: 300 })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });

  it('still follows the log when it answers honestly', async () => {
    answer = forward;
    expect((await followLog(witness, hostileUrl, testOrigin)).treeSize).toBe(5n);
  });
});
