// Test-only: the bank's side of the SA2pMP banking contract (notes/banking-spec.md), small enough to
// read in one go, written apart from the SDK's code: node:crypto for the ECDH share and HKDF, the
// envelope's primitives for JWS and JWE, a real OPAQUE server (@serenity-kit/opaque's server half).
// It is not the bank: no ledger, no database, one customer, one account. It lets the SDK's unit tests
// run the whole client (enrolment, registration, login, requests, renewal) over real HTTP.
import { createECDH, createHash, hkdfSync, randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  certifiableKey,
  decryptDirect,
  encryptDirect,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  issueKeyBinding,
  type PublicJwk,
  publicJwkSet,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  bankingSessionInfo,
  maskMsisdn,
  parseBankingCodeContent,
  parseBankingDeviceContent,
  parseBankingLoginContent,
  parseBankingLoginStartContent,
  parseBankingPasswordContent,
  parseBankingSignedRequest,
} from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';
import type { BankTrust } from '../merchant/seal.ts';

export const fakeBankId = 'xbank';
export const fakePartyId = 'alice@person.xbank';
export const fakeUserId = 'alice';
export const fakeMsisdn = '+38970123456';
export const fakeAccountId = '0b9d3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
export const fakeEnrolmentCode = 'ENROL-0001';
/** The one biller the fake registered. */
export const fakeBillerId = 'power-co';
const loginFailuresMax = 5;
const codeTriesMax = 3;

type Answer = readonly [status: number, body: unknown];
const problem = (status: number, code: string): Answer => [status, { error: { code, message: code } }];

interface Binding {
  readonly serial: string;
  readonly signingJwk: PublicJwk;
  readonly deviceId: string;
  revoked: boolean;
}

interface Login {
  readonly id: string;
  serverLoginState?: string;
  serial?: string;
  clientId?: BankingClientId;
  sessionKey?: Uint8Array;
  code?: string;
  codeFailures: number;
  state: 'password_started' | 'code_sent' | 'active' | 'refused' | 'closed';
  expiresAt?: string;
  /** A start answered with a decoy (no valid device statement, no password): its finish fails, uncounted. */
  decoy?: boolean;
}

export interface FakeBank {
  readonly url: string;
  readonly trust: BankTrust;
  readonly signing: GeneratedKeyPair;
  /** `METHOD path` of every request, in order. */
  readonly requests: string[];
  /** The SMS texts sent (the login codes), newest last. */
  readonly sms: { to: string; code: string }[];
  /** The device's request JWSs the bank verified, by request id (the evidence). */
  readonly signedRequests: Map<string, string>;
  /** Failed logins counted since the last success. */
  failures(): number;
  balance: bigint;
  /** Changes the result the bank signs (to test that the device refuses a wrong one). */
  tamperResult?: (result: Record<string, unknown>) => Record<string, unknown>;
  /** Changes where the signed login answer says the code went. */
  tamperCodeSentTo?: string;
  /** The login starts answered with the customer's record (device-signed), and with a decoy. */
  readonly starts: { counted: number; decoys: number };
  /** Opens a renewal notice for the current binding and returns its id. */
  notice(): string;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

const claimNames = ['aud', 'exp', 'iat', 'iss', 'nonce', 'txn'];

function onlyMember(payload: Readonly<Record<string, unknown>>, member: string): unknown {
  const names = Object.keys(payload).sort().join();
  if (names !== [member, ...claimNames].sort().join()) throw new Error(`members: ${names}`);
  return payload[member];
}

export async function startFakeBank(): Promise<FakeBank> {
  await opaque.ready;
  const serverSetup = opaque.server.createSetup();
  const signing = await generateSigningKeyPair('ES256');
  const encryption = await generateEncryptionKeyPair('ECDH-ES');
  const bindings = new Map<string, Binding>();
  const devices = new Map<string, { userId: string; clientId: BankingClientId }>();
  const logins = new Map<string, Login>();
  /** Each request id's signed content (JSON) and outcome, as the bank records them. */
  const outcomes = new Map<string, { content: string; outcome: Awaited<ReturnType<typeof execute>> }>();
  const notices = new Map<string, { serial: string; open: boolean }>();
  let opaqueRecord: string | undefined;
  // OPAQUE's credential identifier: fresh at each registration start, the record's at its finish.
  let pendingCredentialId: string | undefined;
  let credentialId: string | undefined;
  let failedLogins = 0;
  let serials = 0;

  const issue = async (deviceId: string, signingJwk: PublicJwk, encryptionJwk: PublicJwk) => {
    serials += 1;
    const serial = `serial-${serials}`;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const binding = await issueKeyBinding(
      {
        issuer: fakeBankId,
        subject: fakePartyId,
        deviceId,
        accounts: [fakeAccountId],
        signingJwk,
        encryptionJwk,
        notBefore: nowSeconds - 60,
        notAfter: nowSeconds + 365 * 86_400,
        serialNumber: serial,
      },
      signing.privateJwk,
    );
    bindings.set(serial, { serial, signingJwk, deviceId, revoked: false });
    return { serial, binding };
  };

  /** A device JWS by an active bound key (found by kid): the binding and the content member. */
  const verifyDevice = async (jws: unknown, member: string, transactionId?: string | 'any') => {
    let found: Binding | undefined;
    const verified = await verifyPayload(
      jws,
      async (kid) => {
        found = [...bindings.values()].find((binding) => binding.signingJwk.kid === kid && !binding.revoked);
        return found?.signingJwk;
      },
      {
        audience: fakeBankId,
        issuer: fakePartyId,
        ...(transactionId === undefined || transactionId === 'any' ? {} : { transactionId }),
      },
    );
    if (found === undefined) throw new Error('no binding');
    if (transactionId === undefined && verified.claims.txn !== found.serial) throw new Error('txn');
    return { binding: found, content: onlyMember(verified.payload, member), claims: verified.claims };
  };

  const signForParty = (payload: Record<string, unknown>, transactionId: string, expiresInSeconds = 300) =>
    signPayload(
      payload,
      { issuer: fakeBankId, audience: fakePartyId, transactionId, expiresInSeconds },
      signing.privateJwk,
    );

  const bank: FakeBank = {
    url: '',
    trust: { id: fakeBankId, keys: publicJwkSet([signing.publicJwk]), encryptionJwk: encryption.publicJwk },
    signing,
    requests: [],
    starts: { counted: 0, decoys: 0 },
    sms: [],
    signedRequests: new Map(),
    failures: () => failedLogins,
    balance: 100_00n,
    notice: () => {
      const current = [...bindings.values()].find((binding) => !binding.revoked);
      if (current === undefined) throw new Error('no binding');
      const noticeId = randomUUID();
      notices.set(noticeId, { serial: current.serial, open: true });
      return noticeId;
    },
    close: async () => undefined,
  };

  /** A failure at the finish or the code: `count` for a wrong code that opened; blocked once the count is full. */
  const loginFailed = (count: boolean): Answer => {
    if (count) failedLogins += 1;
    return failedLogins >= loginFailuresMax
      ? problem(423, 'BANKING_LOGIN_BLOCKED')
      : problem(401, 'BANKING_LOGIN_FAILED');
  };

  async function execute(request: BankingRequest, serial: string, requestId: string) {
    switch (request.kind) {
      case 'balance':
        return {
          accountId: fakeAccountId,
          currency: 'EUR',
          balance: bank.balance.toString(),
          available: bank.balance.toString(),
        };
      case 'transfer':
        if (request.amount > bank.balance) return problem(422, 'INSUFFICIENT_FUNDS');
        bank.balance -= request.amount;
        return {
          orderId: requestId,
          state: 'completed',
          payeeId: request.payeeId,
          amount: request.amount.toString(),
          currency: request.currency,
          reference: request.reference,
        };
      case 'bill_payment':
        if (request.billerId !== fakeBillerId) return problem(404, 'BANKING_BILLER_UNKNOWN');
        if (request.amount > bank.balance) return problem(422, 'INSUFFICIENT_FUNDS');
        bank.balance -= request.amount;
        return {
          orderId: requestId,
          state: 'completed',
          billerId: request.billerId,
          billerName: 'Power Co',
          customerReference: request.customerReference,
          amount: request.amount.toString(),
          currency: request.currency,
        };
      case 'statement':
        return {
          accountId: fakeAccountId,
          currency: 'EUR',
          balance: bank.balance.toString(),
          lines: [
            {
              transferId: 'transfer-1',
              direction: 'debit',
              amount: '1250',
              reference: 'banking x',
              at: new Date().toISOString(),
              requestId,
            },
          ],
          nextCursor: 'cursor-1',
        };
      case 'renewal_notices':
        return {
          notices: [...notices.entries()]
            .filter(([, notice]) => notice.open && notice.serial === serial)
            .map(([noticeId, notice]) => ({
              noticeId,
              serial: notice.serial,
              reason: 'key expires soon',
              createdAt: new Date().toISOString(),
            })),
        };
      case 'renew_key': {
        const notice = notices.get(request.noticeId);
        if (notice?.open !== true || notice.serial !== serial) return problem(403, 'BANKING_RENEWAL_INVALID');
        const signingJwk = await certifiableKey(request.signingJwk, 'sig');
        const encryptionJwk = await certifiableKey(request.encryptionJwk, 'enc');
        const proof = await verifyPayload(
          request.proof,
          async (kid) => (kid === signingJwk.kid ? signingJwk : undefined),
          { audience: fakeBankId, issuer: fakePartyId, transactionId: request.noticeId },
        );
        const renewal = onlyMember(proof.payload, 'renewal') as Record<string, unknown>;
        if (
          Object.keys(renewal).sort().join() !== 'bank,noticeId,partyId' ||
          renewal.noticeId !== request.noticeId ||
          renewal.partyId !== fakePartyId ||
          renewal.bank !== fakeBankId
        ) {
          return problem(403, 'BANKING_RENEWAL_INVALID');
        }
        const old = bindings.get(serial)!;
        const renewed = await issue(old.deviceId, signingJwk, encryptionJwk);
        devices.set(renewed.serial, devices.get(serial)!);
        old.revoked = true;
        notice.open = false;
        for (const login of logins.values()) if (login.serial === serial) login.state = 'closed';
        return { serial: renewed.serial, binding: renewed.binding, renewedFrom: serial };
      }
      default:
        return problem(400, 'REQUEST_INVALID');
    }
  }

  async function route(method: string, path: string, body: unknown): Promise<Answer> {
    const input = (body ?? {}) as Record<string, unknown>;
    if (method === 'GET' && path === '/bank') {
      return [200, { id: fakeBankId, keys: bank.trust.keys, encryptionJwk: encryption.publicJwk }];
    }
    if (method !== 'POST') return problem(404, 'NOT_FOUND');
    if (path === '/enrolments') {
      if (input.code !== fakeEnrolmentCode || input.partyId !== fakePartyId)
        return problem(403, 'ENROLMENT_CODE_INVALID');
      const signingJwk = await certifiableKey(input.signingJwk, 'sig');
      const encryptionJwk = await certifiableKey(input.encryptionJwk, 'enc');
      await verifyPayload(input.proof, async (kid) => (kid === signingJwk.kid ? signingJwk : undefined), {
        audience: fakeBankId,
        issuer: fakePartyId,
        transactionId: String(input.deviceId),
      });
      const { serial, binding } = await issue(String(input.deviceId), signingJwk, encryptionJwk);
      return [201, { serial, binding, bankEncryptionJwk: encryption.publicJwk }];
    }
    if (path === '/banking/devices') {
      const { binding, content } = await verifyDevice(input.device, 'bankingDevice').catch(() => ({
        binding: undefined,
        content: undefined,
      }));
      if (binding === undefined) return problem(403, 'BANKING_REGISTRATION_FAILED');
      const device = parseBankingDeviceContent(content);
      if (device.userId !== fakeUserId || device.clientId.accountId !== fakeAccountId) {
        return problem(403, 'BANKING_REGISTRATION_FAILED');
      }
      devices.set(binding.serial, device);
      return [201, { serial: binding.serial, partyId: fakePartyId, clientId: device.clientId }];
    }
    if (path === '/banking/passwords/start' || path === '/banking/passwords/finish') {
      const step = path.endsWith('start') ? 'start' : 'finish';
      const message = String(step === 'start' ? input.registrationRequest : input.registrationRecord);
      const { content } = await verifyDevice(input.device, 'bankingPassword');
      const signed = parseBankingPasswordContent(content);
      const hash = createHash('sha256').update(message, 'utf8').digest('base64url');
      if (signed.step !== step || signed.messageHash !== hash || signed.userId !== input.userId) {
        return problem(403, 'BANKING_REGISTRATION_FAILED');
      }
      if (opaqueRecord !== undefined) return problem(409, 'BANKING_PASSWORD_EXISTS');
      if (step === 'start') {
        pendingCredentialId = `${fakeUserId}:${randomUUID()}`;
        const { registrationResponse } = opaque.server.createRegistrationResponse({
          serverSetup,
          userIdentifier: pendingCredentialId,
          registrationRequest: message,
        });
        return [200, { registrationResponse }];
      }
      if (pendingCredentialId === undefined) return problem(403, 'BANKING_REGISTRATION_FAILED');
      opaqueRecord = message;
      credentialId = pendingCredentialId;
      pendingCredentialId = undefined;
      return [201, { userId: fakeUserId, registeredAt: new Date().toISOString() }];
    }
    if (path === '/banking/logins') {
      const userId = String(input.userId);
      const startLoginRequest = String(input.startLoginRequest);
      // Step 1 counts (and answers the record) only under the device's signed start of this KE1.
      const statement = await verifyDevice(input.device, 'bankingLoginStart', 'any').catch(() => undefined);
      let signed = false;
      if (statement !== undefined && devices.has(statement.binding.serial)) {
        const content = parseBankingLoginStartContent(statement.content);
        const { txn, exp, iat } = statement.claims;
        signed =
          content.userId === userId &&
          content.messageHash ===
            createHash('sha256').update(startLoginRequest, 'utf8').digest('base64url') &&
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(txn) &&
          !logins.has(txn) &&
          exp - iat <= 120;
      }
      if (!signed || userId !== fakeUserId || opaqueRecord === undefined || credentialId === undefined) {
        bank.starts.decoys += 1;
        const { serverLoginState, loginResponse } = opaque.server.startLogin({
          serverSetup,
          userIdentifier: `decoy:${userId}`,
          registrationRecord: null,
          startLoginRequest,
        });
        const id = randomUUID();
        logins.set(id, { id, serverLoginState, codeFailures: 0, state: 'password_started', decoy: true });
        return [200, { loginId: id, loginResponse }];
      }
      if (failedLogins >= loginFailuresMax) return problem(423, 'BANKING_LOGIN_BLOCKED');
      failedLogins += 1;
      bank.starts.counted += 1;
      const { serverLoginState, loginResponse } = opaque.server.startLogin({
        serverSetup,
        userIdentifier: credentialId,
        registrationRecord: opaqueRecord,
        startLoginRequest,
      });
      const id = statement!.claims.txn;
      logins.set(id, { id, serverLoginState, codeFailures: 0, state: 'password_started' });
      return [200, { loginId: id, loginResponse }];
    }
    const loginStep = /^\/banking\/logins\/([0-9a-f-]{36})\/(finish|code)$/.exec(path);
    if (loginStep !== null) {
      const login = logins.get(loginStep[1]!);
      if (loginStep[2] === 'finish') {
        if (login?.state !== 'password_started' || login.decoy === true) {
          return problem(401, 'BANKING_LOGIN_FAILED');
        }
        login.state = 'refused';
        let opaqueSessionKey: string;
        try {
          opaqueSessionKey = opaque.server.finishLogin({
            serverLoginState: login.serverLoginState!,
            finishLoginRequest: String(input.finishLoginRequest),
          }).sessionKey;
        } catch {
          return loginFailed(false);
        }
        const statement = await verifyDevice(input.device, 'bankingLogin', login.id).catch(() => undefined);
        if (statement === undefined) return loginFailed(false);
        const content = parseBankingLoginContent(statement.content);
        const device = devices.get(statement.binding.serial);
        if (
          content.msisdn !== fakeMsisdn ||
          device === undefined ||
          JSON.stringify(device.clientId) !== JSON.stringify(content.clientId)
        ) {
          return loginFailed(false);
        }
        // The bank's ECDH share and the session key, with node:crypto.
        const ecdh = createECDH('prime256v1');
        const point = ecdh.generateKeys();
        const shared = ecdh.computeSecret(
          Buffer.concat([
            Buffer.from([4]),
            Buffer.from(content.ephemeralJwk.x, 'base64url'),
            Buffer.from(content.ephemeralJwk.y, 'base64url'),
          ]),
        );
        login.sessionKey = new Uint8Array(
          hkdfSync(
            'sha256',
            shared,
            Buffer.from(opaqueSessionKey, 'base64url'),
            bankingSessionInfo(fakeBankId, fakePartyId, login.id),
            32,
          ),
        );
        login.serial = statement.binding.serial;
        login.clientId = content.clientId;
        login.code = String(randomInt(1_000_000)).padStart(6, '0');
        login.state = 'code_sent';
        bank.sms.push({ to: fakeMsisdn, code: login.code });
        const answer = await signForParty(
          {
            bankingLoginAnswer: {
              loginId: login.id,
              ephemeralJwk: {
                kty: 'EC',
                crv: 'P-256',
                x: point.subarray(1, 33).toString('base64url'),
                y: point.subarray(33, 65).toString('base64url'),
              },
              codeSentTo: bank.tamperCodeSentTo ?? maskMsisdn(fakeMsisdn),
              codeExpiresAt: new Date(Date.now() + 300_000).toISOString(),
            },
          },
          login.id,
        );
        return [200, { loginId: login.id, answer }];
      }
      if (login?.state !== 'code_sent') return problem(401, 'BANKING_LOGIN_FAILED');
      let code: string | undefined;
      try {
        const opened = JSON.parse(
          new TextDecoder().decode(await decryptDirect(input.code, login.sessionKey!, { kid: login.id })),
        ) as Record<string, unknown>;
        if (Object.keys(opened).join() !== 'bankingCode') throw new Error('members');
        code = parseBankingCodeContent(opened.bankingCode, 6).code;
      } catch {
        code = undefined;
      }
      // A code that does not open under the session key tests nothing: not counted.
      if (code === undefined) return problem(401, 'BANKING_LOGIN_FAILED');
      if (code !== login.code) {
        login.codeFailures += 1;
        if (login.codeFailures >= codeTriesMax) login.state = 'refused';
        return loginFailed(true);
      }
      failedLogins = 0;
      login.state = 'active';
      login.expiresAt = new Date(Date.now() + 1_800_000).toISOString();
      const statement = await signForParty(
        {
          bankingSession: {
            sessionId: login.id,
            partyId: fakePartyId,
            serial: login.serial,
            clientId: login.clientId,
            expiresAt: login.expiresAt,
          },
        },
        login.id,
        1_800,
      );
      return [201, { sessionId: login.id, expiresAt: login.expiresAt, statement }];
    }
    if (path === '/banking/requests') {
      const session = logins.get(String(input.sessionId));
      if (session?.state !== 'active') return problem(401, 'BANKING_SESSION_INVALID');
      let jws: string;
      try {
        jws = new TextDecoder().decode(
          await decryptDirect(input.request, session.sessionKey!, { kid: session.id }),
        );
      } catch {
        return problem(400, 'CRYPTO_DECRYPTION_FAILED');
      }
      const binding = bindings.get(session.serial!)!;
      const verified = await verifyPayload(
        jws,
        async (kid) => (kid === binding.signingJwk.kid ? binding.signingJwk : undefined),
        { audience: fakeBankId, issuer: fakePartyId },
        { maxAgeSeconds: 120 },
      ).catch(() => undefined);
      if (verified === undefined || binding.revoked) return problem(403, 'BANKING_REQUEST_INVALID');
      const requestId = verified.claims.txn;
      const content = onlyMember(verified.payload, 'banking');
      // As the bank: a request id seen before is answered its recorded outcome again when the
      // device signed the same content (a retry), and is a replay otherwise.
      const seen = outcomes.get(requestId);
      if (seen !== undefined && seen.content !== JSON.stringify(content)) {
        return problem(409, 'BANKING_REQUEST_REPLAYED');
      }
      const signed = parseBankingSignedRequest(content);
      if (
        signed.sessionId !== session.id ||
        JSON.stringify(signed.clientId) !== JSON.stringify(session.clientId)
      ) {
        return problem(403, 'BANKING_REQUEST_INVALID');
      }
      if (!bank.signedRequests.has(requestId)) bank.signedRequests.set(requestId, jws);
      const outcome = seen?.outcome ?? (await execute(signed.request, session.serial!, requestId));
      outcomes.set(requestId, { content: JSON.stringify(content), outcome });
      if (Array.isArray(outcome)) return outcome as unknown as Answer;
      const result = bank.tamperResult === undefined ? outcome : bank.tamperResult({ ...outcome });
      const answerJws = await signForParty(
        { bankingAnswer: { requestId, sessionId: session.id, kind: signed.request.kind, result } },
        requestId,
      );
      const answer = await encryptDirect(answerJws, session.sessionKey!, { kid: session.id });
      return [200, { sessionId: session.id, requestId, answer }];
    }
    return problem(404, 'NOT_FOUND');
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    bank.requests.push(`${request.method} ${path}`);
    readBody(request)
      .then((body) => route(request.method ?? 'GET', path, body))
      .catch((error: unknown) => {
        // A request the fake cannot read is the test's bug: said plainly.
        return [500, { error: { code: 'INTERNAL', message: String(error) } }] as Answer;
      })
      .then(([status, body]) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(bank, {
    url,
    trust: { ...bank.trust, url },
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  });
}
