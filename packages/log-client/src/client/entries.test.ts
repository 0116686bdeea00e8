import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchLoggedEntry } from './entries.ts';

/** A log stand-in whose GET /entries/:index answers are set by each test (the real log's are in the log's own tests). */
let server: Server;
let base: string;
let answer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  server = createServer((_request, response) => {
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
    response.end(text);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((closed) => server.close(closed)));

const held = {
  index: 7,
  hash: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=',
  kind: 'ims-payment',
  transactionId: 'txn-7',
  metadata: {},
  submitter: 'fsp.example',
  submittedAt: '2026-12-06T00:00:00.000Z',
  leafData: '{}',
  leafHash: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=',
};

describe('fetchLoggedEntry', () => {
  it('gives what the log holds at an index, and undefined where it holds nothing', async () => {
    answer = { status: 200, body: held };
    expect(await fetchLoggedEntry(base, 7n)).toEqual({
      index: 7n,
      transactionId: 'txn-7',
      hash: held.hash,
      submitter: 'fsp.example',
    });
    answer = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'not found' } } };
    expect(await fetchLoggedEntry(base, 7n)).toBeUndefined();
  });

  it('refuses an answer for another index, or not of the shape of an entry', async () => {
    for (const body of [
      { ...held, index: 8 },
      { ...held, index: '7' },
      { ...held, index: 7.5 },
      { ...held, transactionId: '' },
      { ...held, submitter: 42 },
      { ...held, hash: 'x'.repeat(2000) },
      null,
      [held],
    ]) {
      answer = { status: 200, body };
      await expect(fetchLoggedEntry(base, 7n), JSON.stringify(body)).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
      });
    }
    answer = { status: 500, body: { error: { code: 'INTERNAL', message: 'boom' } } };
    await expect(fetchLoggedEntry(base, 7n)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
