import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchEvidence } from './evidence.ts';

/** A gateway on loopback answering the operator's evidence route as each payment id says. */
let server: Server;
let gatewayUrl: string;
let dataDir: string;
const authorizations: (string | undefined)[] = [];
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mpay-evidence-'));
  mkdirSync(join(dataDir, 'keys'));
  writeFileSync(join(dataDir, 'keys', 'operator-token.json'), JSON.stringify('operator-secret'));
  server = createServer((request, response) => {
    authorizations.push(request.headers.authorization);
    const id = /^\/admin\/payments\/([^/]+)\/evidence$/.exec(request.url ?? '')?.[1];
    if (id === 'proved') return response.end('{"format":"mpay-receipt/v1"}');
    if (id === 'unknown') {
      response.writeHead(404, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ error: { code: 'PAYMENT_UNKNOWN' } }));
    }
    if (id === 'proxy-error') {
      response.writeHead(502, { 'content-type': 'text/html' });
      return response.end('<html>bad gateway</html>');
    }
    if (id === 'huge') {
      response.writeHead(200);
      return response.end('x'.repeat(5 * 1024 * 1024));
    }
    response.writeHead(202);
    response.end('{}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((closed) => server.close(closed));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('fetchEvidence (mpay evidence, the demo)', () => {
  it("answers the file with the operator's token, and the gateway's code when it refuses", async () => {
    expect(await fetchEvidence(gatewayUrl, dataDir, 'proved')).toBe('{"format":"mpay-receipt/v1"}');
    expect(authorizations.at(-1)).toBe('Bearer operator-secret');
    await expect(fetchEvidence(gatewayUrl, dataDir, 'unknown')).rejects.toMatchObject({
      code: 'PAYMENT_UNKNOWN',
    });
  });

  // Regression: an error answer that was not JSON (a proxy's page) threw a SyntaxError.
  it('names an answer that is neither evidence nor an mpay error, or one larger than a receipt, unavailable', async () => {
    await expect(fetchEvidence(gatewayUrl, dataDir, 'proxy-error')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    await expect(fetchEvidence(gatewayUrl, dataDir, 'huge')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      detail: 'response too large',
    });
  });

  it('waits while the log has not proved the entry, and says so once its wait is over', async () => {
    await expect(fetchEvidence(gatewayUrl, dataDir, 'pending', 300)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      detail: expect.stringContaining('not proved the entry yet'),
    });
  });
});
