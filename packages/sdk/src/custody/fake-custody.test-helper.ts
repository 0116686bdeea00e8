// Test-only: the PIN side of custody's HTTP contract, small enough to read in one go. A real
// OPAQUE server (@serenity-kit/opaque's server half) behind node:http, counting tries the way
// the contract says (every started login is a try until a finish succeeds; 5 failures block).
// It is not custody: no HSM, no bank, no FSP. It lets the SDK's unit tests run the client side
// of the PIN protocol for real.
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decryptWith,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
} from '@mpay/envelope';
import * as opaque from '@serenity-kit/opaque';
import type { CustodyTrust } from './trust.ts';

export const fakeDeviceToken = 'fake-device-token-0123456789';
const pinTriesMax = 5;

export interface FakeCustody {
  readonly url: string;
  readonly trust: CustodyTrust;
  readonly signing: GeneratedKeyPair;
  /** `METHOD path` of every request, in order. */
  readonly requests: string[];
  /** The bodies POSTed to /wallet-pins, as received. */
  readonly walletPins: Record<string, unknown>[];
  /** The decrypted PIN authorisations, as received. */
  readonly authorisations: { decision: string; messageHash: string }[];
  /** What `GET /payments/:id/evidence` (or a refund's) answers next, in order (status, body as sent); then EVIDENCE_UNKNOWN. */
  readonly evidenceAnswers: (readonly [status: number, text: string])[];
  /** Failed tries counted since the last success. */
  failures(): number;
  close(): Promise<void>;
}

type Answer = readonly [status: number, body: unknown];

/** A body sent as it is, not as JSON of a value. */
class RawText {
  constructor(readonly text: string) {}
}
const refused: Answer = [403, { error: { code: 'PIN_REFUSED', message: 'refused' } }];
const blocked: Answer = [423, { error: { code: 'PIN_BLOCKED', message: 'blocked' } }];

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeCustody(): Promise<FakeCustody> {
  await opaque.ready;
  const serverSetup = opaque.server.createSetup();
  const signing = await generateSigningKeyPair('ES256');
  const encryption = await generateEncryptionKeyPair();
  const trust: CustodyTrust = {
    id: 'custody.test',
    keys: publicJwkSet([signing.publicJwk, encryption.publicJwk]),
  };
  const records = new Map<string, string>();
  const logins = new Map<string, { serverLoginState: string; paymentId?: string }>();
  const requests: string[] = [];
  const walletPins: Record<string, unknown>[] = [];
  const authorisations: { decision: string; messageHash: string }[] = [];
  const evidenceAnswers: (readonly [status: number, text: string])[] = [];
  let failures = 0;

  function startLogin(credentialId: string, startLoginRequest: string, paymentId?: string) {
    if (failures >= pinTriesMax) return undefined;
    failures += 1;
    const id = randomUUID();
    const { serverLoginState, loginResponse } = opaque.server.startLogin({
      serverSetup,
      userIdentifier: credentialId,
      registrationRecord: records.get(credentialId) ?? null,
      startLoginRequest,
    });
    logins.set(id, { serverLoginState, ...(paymentId === undefined ? {} : { paymentId }) });
    return { id, loginResponse };
  }

  function finishLogin(id: string, finishLoginRequest: string | null): string | undefined {
    const login = logins.get(id);
    logins.delete(id);
    if (login === undefined || finishLoginRequest === null) return undefined;
    try {
      const { sessionKey } = opaque.server.finishLogin({
        serverLoginState: login.serverLoginState,
        finishLoginRequest,
      });
      failures = 0;
      return sessionKey;
    } catch {
      return undefined;
    }
  }

  async function authorise(id: string, jwe: string): Promise<Answer> {
    const paymentId = logins.get(id)?.paymentId;
    const plain = JSON.parse(new TextDecoder().decode(await decryptWith(jwe, [encryption.privateJwk])));
    authorisations.push({ decision: plain.decision, messageHash: plain.messageHash });
    const sessionKey = finishLogin(id, plain.finishLoginRequest);
    if (sessionKey === undefined || paymentId === undefined) return refused;
    // Computed here with node:crypto, independently of the SDK's WebCrypto code.
    const expected = createHmac('sha256', Buffer.from(sessionKey, 'base64url'))
      .update(`mpay-custody-delegation/v1\n${id}\n${plain.decision}\n${plain.messageHash}`)
      .digest('base64url');
    if (plain.authorisation !== expected) return refused;
    return [200, { status: plain.decision === 'confirm' ? 'authorised' : 'declined', paymentId }];
  }

  async function route(
    method: string,
    path: string,
    text: string,
    request: IncomingMessage,
  ): Promise<Answer> {
    const body =
      method === 'POST' && request.headers['content-type'] === 'application/json' ? JSON.parse(text) : {};
    const deviceAuthenticated = request.headers.authorization === `Bearer ${fakeDeviceToken}`;
    if (method === 'POST' && path === '/pin-registrations') {
      const registrationId = randomUUID();
      const { registrationResponse } = opaque.server.createRegistrationResponse({
        serverSetup,
        userIdentifier: registrationId,
        registrationRequest: body.registrationRequest,
      });
      return [201, { registrationId, registrationResponse }];
    }
    if (method === 'POST' && path === '/wallet-pins') {
      walletPins.push(body);
      records.set(body.registrationId, body.registrationRecord);
      return [201, { credentialId: body.registrationId }];
    }
    if (method === 'POST' && path === '/pin-logins') {
      const started = startLogin(body.credentialId, body.startLoginRequest);
      return started === undefined
        ? blocked
        : [200, { loginId: started.id, loginResponse: started.loginResponse }];
    }
    const finish = /^\/pin-logins\/([^/]+)\/finish$/.exec(path);
    if (method === 'POST' && finish !== null) {
      return finishLogin(finish[1]!, body.finishLoginRequest) === undefined
        ? refused
        : [200, { status: 'ok' }];
    }
    if (!deviceAuthenticated) return [401, { error: { code: 'AUTHENTICATION_FAILED', message: 'no' } }];
    if (method === 'POST' && path === '/delegations') {
      const credentialId = [...records.keys()][0] ?? 'none';
      const started = startLogin(credentialId, body.startLoginRequest, body.paymentId);
      return started === undefined
        ? blocked
        : [200, { delegationId: started.id, loginResponse: started.loginResponse }];
    }
    const authorisation = /^\/delegations\/([^/]+)\/authorisation$/.exec(path);
    if (method === 'POST' && authorisation !== null) return authorise(authorisation[1]!, text);
    if (method === 'GET' && /^\/payments\/[^/]+(\/refunds\/[^/]+)?\/evidence$/.test(path)) {
      const [status, evidence] = evidenceAnswers.shift() ?? [
        404,
        '{"error":{"code":"EVIDENCE_UNKNOWN","message":"none"}}',
      ];
      return [status, new RawText(evidence)];
    }
    return [404, { error: { code: 'NOT_FOUND', message: 'no' } }];
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    const method = request.method ?? 'GET';
    requests.push(`${method} ${path}`);
    readBody(request)
      .then((text) => route(method, path, text, request))
      .catch((): Answer => [400, { error: { code: 'REQUEST_INVALID', message: 'bad' } }])
      .then(([status, body]) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(body instanceof RawText ? body.text : JSON.stringify(body));
      });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    trust,
    signing,
    requests,
    walletPins,
    authorisations,
    evidenceAnswers,
    failures: () => failures,
    close: () => new Promise<void>((closed) => server.close(() => closed())),
  };
}
