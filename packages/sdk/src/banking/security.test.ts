import { createECDH, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import {
  decryptDirect,
  encryptDirect,
  type GeneratedKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  bankingSessionInfo,
  isMpayError,
  luhnCheckDigit,
  parseBankingCodeContent,
  parseBankingSignedRequest,
} from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import {
  type BankingBankKeys,
  bankingClientIdOf,
  bankingMessageHash,
  createBankingEphemeralKey,
  deriveBankingSessionKey,
  openBankingAnswer,
  openBankingLoginAnswer,
  openBankingSession,
  sealBankingCode,
  sealBankingRequest,
  signBankingDevice,
  signBankingLogin,
  signBankingLoginStart,
  signBankingPassword,
  signRenewalProof,
} from './security.ts';

const bankId = 'xbank';
const partyId = 'alice@person.xbank';
const sessionId = '3f2a6c1e-8b4d-4e0a-9c7f-1d2e3b4a5c6d';
const accountId = '0b9d3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
const sim = `8938${'0123456789012'}${luhnCheckDigit('89380123456789012')}`;
const phoneId = `35209900176148${luhnCheckDigit('35209900176148')}`;
const clientId: BankingClientId = { sim, phoneId, accountId };

let device: GeneratedKeyPair;
let bankSigning: GeneratedKeyPair;
let bank: BankingBankKeys;

beforeAll(async () => {
  device = await generateSigningKeyPair('ES256');
  bankSigning = await generateSigningKeyPair('ES256');
  bank = { id: bankId, keys: publicJwkSet([bankSigning.publicJwk]) };
});

function codeOfSync(work: () => unknown): string {
  try {
    work();
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return `${error.code} ${error.detail ?? ''}`.trim();
    throw error;
  }
}

const headerOf = (compact: string) =>
  JSON.parse(Buffer.from(compact.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The bank's verification of a device JWS, as the contract says: signature, claims, then exactly the members. */
async function bankVerifies(jws: string, member: string, transactionId: string) {
  const verified = await verifyPayload(
    jws,
    async (kid) => (kid === device.kid ? device.publicJwk : undefined),
    { audience: bankId, issuer: partyId, transactionId },
  );
  expect(Object.keys(verified.payload).sort()).toEqual(
    [member, 'aud', 'exp', 'iat', 'iss', 'nonce', 'txn'].sort(),
  );
  return verified;
}

describe('ID_C from its parts', () => {
  it('drops spaces and dashes from ICCID and IMEI, lower-cases the account, and checks the Luhn digits', () => {
    const typed = {
      sim: `${sim.slice(0, 4)} ${sim.slice(4, 10)} ${sim.slice(10)}`,
      phoneId: `${phoneId.slice(0, 2)}-${phoneId.slice(2, 8)}-${phoneId.slice(8)}`,
      accountId: ` ${accountId.toUpperCase()} `,
    };
    expect(bankingClientIdOf(typed)).toEqual(clientId);
  });

  it('refuses a wrong check digit, a short IMEI or an account that is not a UUID, naming the part', () => {
    const wrongDigit = String((Number(sim.at(-1)) + 1) % 10);
    expect(
      codeOfSync(() => bankingClientIdOf({ ...clientId, sim: `${sim.slice(0, -1)}${wrongDigit}` })),
    ).toBe('REQUEST_INVALID clientId.sim');
    expect(codeOfSync(() => bankingClientIdOf({ ...clientId, phoneId: phoneId.slice(1) }))).toBe(
      'REQUEST_INVALID clientId.phoneId',
    );
    expect(codeOfSync(() => bankingClientIdOf({ ...clientId, accountId: 'account-1' }))).toBe(
      'REQUEST_INVALID clientId.accountId',
    );
  });
});

describe('deriveBankingSessionKey', () => {
  it('gives the bytes node:crypto gives for ECDH P-256 then HKDF-SHA-256(salt = OPAQUE key, info = the session info)', async () => {
    const opaqueSessionKey = randomBytes(64);
    const deviceShare = await createBankingEphemeralKey();
    // The bank's side, independently: node:crypto's ECDH and HKDF.
    const bankEcdh = createECDH('prime256v1');
    const bankPublic = bankEcdh.generateKeys();
    const bankJwk = {
      kty: 'EC' as const,
      crv: 'P-256' as const,
      x: bankPublic.subarray(1, 33).toString('base64url'),
      y: bankPublic.subarray(33, 65).toString('base64url'),
    };
    const devicePoint = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(deviceShare.publicJwk.x, 'base64url'),
      Buffer.from(deviceShare.publicJwk.y, 'base64url'),
    ]);
    const shared = bankEcdh.computeSecret(devicePoint);
    expect(shared.length).toBe(32);
    const expected = new Uint8Array(
      hkdfSync('sha256', shared, opaqueSessionKey, bankingSessionInfo(bankId, partyId, sessionId), 32),
    );

    const input = {
      privateKey: deviceShare.privateKey,
      peerPublicJwk: bankJwk,
      opaqueSessionKey: opaqueSessionKey.toString('base64url'),
      bankId,
      partyId,
      sessionId,
    };
    expect(await deriveBankingSessionKey(input)).toEqual(expected);
    // Every input counts: another session, another party, another OPAQUE key give another key.
    const otherSession = await deriveBankingSessionKey({ ...input, sessionId: randomUUID() });
    const otherParty = await deriveBankingSessionKey({ ...input, partyId: 'bob@person.xbank' });
    const otherOpaque = await deriveBankingSessionKey({
      ...input,
      opaqueSessionKey: randomBytes(64).toString('base64url'),
    });
    for (const other of [otherSession, otherParty, otherOpaque]) expect(other).not.toEqual(expected);
  });

  it('refuses a peer key off the curve and an OPAQUE key that is not one', async () => {
    const share = await createBankingEphemeralKey();
    const input = {
      privateKey: share.privateKey,
      peerPublicJwk: { ...share.publicJwk, y: share.publicJwk.x },
      opaqueSessionKey: randomBytes(64).toString('base64url'),
      bankId,
      partyId,
      sessionId,
    };
    expect(await rejectedCodeOf(deriveBankingSessionKey(input))).toBe('CRYPTO_KEY_INVALID');
    expect(
      await rejectedCodeOf(
        deriveBankingSessionKey({ ...input, peerPublicJwk: share.publicJwk, opaqueSessionKey: 'c2hvcnQ' }),
      ),
    ).toBe('CRYPTO_KEY_INVALID');
  });
});

describe('sealBankingRequest (Equation 1: E(S(msg, ID_C)))', () => {
  const transfer: BankingRequest = {
    kind: 'transfer',
    payeeId: 'bob@person.ybank',
    amount: 12_50n,
    currency: 'EUR',
    reference: 'rent March',
  };

  it('is a dir JWE under the session key (kid the session) of the device JWS the bank verifies and parses', async () => {
    const sessionKey = new Uint8Array(randomBytes(32));
    const requestId = randomUUID();
    const { sealed, requestId: sent } = await sealBankingRequest({
      request: transfer,
      clientId,
      sessionId,
      partyId,
      bankId,
      signingKey: device.privateJwk,
      sessionKey,
      requestId,
      expiresInSeconds: 90,
    });
    expect(sent).toBe(requestId);
    expect(headerOf(sealed)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: sessionId });
    // The bank's side: decryptDirect, verifyPayload under the bound key, exact members, the core's parser.
    const jws = new TextDecoder().decode(await decryptDirect(sealed, sessionKey, { kid: sessionId }));
    const verified = await bankVerifies(jws, 'banking', requestId);
    expect(verified.claims.exp - verified.claims.iat).toBe(90);
    const signed = parseBankingSignedRequest(verified.payload.banking);
    expect(signed).toEqual({ request: transfer, clientId, sessionId });
    expect((verified.payload.banking as { request: { amount: unknown } }).request.amount).toBe('1250');
  });

  it('draws a fresh UUID v4 request id and nonce each time (the bank refuses one seen before)', async () => {
    const sessionKey = new Uint8Array(randomBytes(32));
    const input = { request: { kind: 'balance' } as const, clientId, sessionId, partyId, bankId };
    const first = await sealBankingRequest({ ...input, signingKey: device.privateJwk, sessionKey });
    const second = await sealBankingRequest({ ...input, signingKey: device.privateJwk, sessionKey });
    expect(first.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.requestId).not.toBe(second.requestId);
  });

  it('refuses to sign what the bank would refuse: a bad amount, a too long lifetime, a malformed id or ID_C', async () => {
    const base = {
      clientId,
      sessionId,
      partyId,
      bankId,
      signingKey: device.privateJwk,
      sessionKey: new Uint8Array(32),
    };
    expect(await rejectedCodeOf(sealBankingRequest({ ...base, request: { ...transfer, amount: 0n } }))).toBe(
      'AMOUNT_INVALID',
    );
    expect(
      await rejectedCodeOf(sealBankingRequest({ ...base, request: transfer, expiresInSeconds: 301 })),
    ).toBe('REQUEST_INVALID');
    expect(
      await rejectedCodeOf(sealBankingRequest({ ...base, request: transfer, requestId: 'request-1' })),
    ).toBe('REQUEST_INVALID');
    expect(
      await rejectedCodeOf(
        sealBankingRequest({ ...base, request: transfer, clientId: { ...clientId, sim: '89' } }),
      ),
    ).toBe('MESSAGE_INVALID');
    expect(
      await rejectedCodeOf(
        sealBankingRequest({ ...base, request: { kind: 'balance', extra: 1 } as unknown as BankingRequest }),
      ),
    ).toBe('MESSAGE_INVALID');
  });
});

describe('openBankingAnswer', () => {
  const requestId = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
  const result = { accountId, currency: 'EUR', balance: '10000', available: '9000' };
  const content = { requestId, sessionId, kind: 'balance', result };

  async function bankAnswer(options: {
    payload?: Record<string, unknown>;
    claims?: Partial<{ issuer: string; audience: string; transactionId: string; expiresInSeconds: number }>;
    key?: GeneratedKeyPair;
    sessionKey: Uint8Array;
    kid?: string;
    now?: () => number;
  }): Promise<string> {
    const jws = await signPayload(
      options.payload ?? { bankingAnswer: content },
      {
        issuer: bankId,
        audience: partyId,
        transactionId: requestId,
        expiresInSeconds: 300,
        ...options.claims,
        ...(options.now === undefined ? {} : { now: options.now }),
      },
      (options.key ?? bankSigning).privateJwk,
    );
    return encryptDirect(jws, options.sessionKey, { kid: options.kid ?? sessionId });
  }

  const context = (sessionKey: Uint8Array) => ({ bank, partyId, sessionKey, sessionId, requestId });

  it('opens the bank’s sealed, signed answer to this request', async () => {
    const sessionKey = new Uint8Array(randomBytes(32));
    const sealed = await bankAnswer({ sessionKey });
    expect(await openBankingAnswer(sealed, context(sessionKey))).toEqual(content);
  });

  it('refuses, with one generic code, anything but the bank’s answer to this request in this session', async () => {
    const sessionKey = new Uint8Array(randomBytes(32));
    const otherKey = await generateSigningKeyPair('ES256');
    const tampered: Record<string, Promise<string>> = {
      'another session key': bankAnswer({ sessionKey: new Uint8Array(randomBytes(32)) }),
      'another kid': bankAnswer({ sessionKey, kid: randomUUID() }),
      'txn of another request': bankAnswer({ sessionKey, claims: { transactionId: randomUUID() } }),
      'content naming another request': bankAnswer({
        sessionKey,
        payload: { bankingAnswer: { ...content, requestId: randomUUID() } },
      }),
      'content naming another session': bankAnswer({
        sessionKey,
        payload: { bankingAnswer: { ...content, sessionId: randomUUID() } },
      }),
      'aud another party': bankAnswer({ sessionKey, claims: { audience: 'mallory@person.xbank' } }),
      'iss another bank': bankAnswer({ sessionKey, claims: { issuer: 'ybank' } }),
      'a member beside bankingAnswer': bankAnswer({
        sessionKey,
        payload: { bankingAnswer: content, note: 'x' },
      }),
      'a member inside bankingAnswer': bankAnswer({
        sessionKey,
        payload: { bankingAnswer: { ...content, extra: true } },
      }),
      'signed by a key not the bank’s': bankAnswer({ sessionKey, key: otherKey }),
      'signed for longer than 300 s': bankAnswer({ sessionKey, claims: { expiresInSeconds: 301 } }),
      expired: bankAnswer({ sessionKey, now: () => Date.now() - 3_600_000 }),
    };
    for (const [name, sealed] of Object.entries(tampered)) {
      expect([name, await rejectedCodeOf(openBankingAnswer(await sealed, context(sessionKey)))]).toEqual([
        name,
        'CRYPTO_VERIFICATION_FAILED',
      ]);
    }
    // Not the sealed form at all.
    const jwsAlone = await signPayload(
      { bankingAnswer: content },
      { issuer: bankId, audience: partyId, transactionId: requestId, expiresInSeconds: 300 },
      bankSigning.privateJwk,
    );
    expect(await rejectedCodeOf(openBankingAnswer(jwsAlone, context(sessionKey)))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });
});

describe('the login at the device', () => {
  const loginId = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';

  it('signs step 2’s statement (ID_C, MSISDN, ECDH share; txn the login) as the bank verifies it', async () => {
    const share = await createBankingEphemeralKey();
    const content = {
      loginId,
      userId: 'alice',
      clientId,
      msisdn: '+38970123456',
      ephemeralJwk: share.publicJwk,
    };
    const jws = await signBankingLogin(content, { partyId, bankId, signingKey: device.privateJwk });
    const verified = await bankVerifies(jws, 'bankingLogin', loginId);
    expect(verified.payload.bankingLogin).toEqual(content);
    expect(Object.keys(share.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(share.privateKey.extractable).toBe(false);
  });

  it('signs step 1’s statement over the KE1’s hash, txn a fresh UUID (or the one given), for at most 120 s', async () => {
    const ke1 = 'b3BhcXVlLWtlMS1tZXNzYWdlLWZvci10ZXN0';
    const messageHash = createHash('sha256').update(ke1, 'utf8').digest('base64url');
    const input = { partyId, bankId, signingKey: device.privateJwk };
    const txn = randomUUID();
    const jws = await signBankingLoginStart(
      { userId: 'alice', messageHash: await bankingMessageHash(ke1) },
      { ...input, transactionId: txn },
    );
    const verified = await bankVerifies(jws, 'bankingLoginStart', txn);
    expect(verified.payload.bankingLoginStart).toEqual({ userId: 'alice', messageHash });
    expect(verified.claims.exp - verified.claims.iat).toBeLessThanOrEqual(120);
    const fresh = [
      await signBankingLoginStart({ userId: 'alice', messageHash }, input),
      await signBankingLoginStart({ userId: 'alice', messageHash }, input),
    ].map((compact) => JSON.parse(Buffer.from(compact.split('.')[1]!, 'base64url').toString('utf8')).txn);
    expect(fresh[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fresh[0]).not.toBe(fresh[1]);
    expect(
      await rejectedCodeOf(
        signBankingLoginStart({ userId: 'alice', messageHash }, { ...input, transactionId: 'x' }),
      ),
    ).toBe('REQUEST_INVALID');
    expect(await rejectedCodeOf(signBankingLoginStart({ userId: 'Alice', messageHash }, input))).toBe(
      'MESSAGE_INVALID',
    );
  });

  it('opens the bank’s answer and statement only for this login, this party, from this bank', async () => {
    const bankShare = await createBankingEphemeralKey();
    const answer = {
      loginId,
      ephemeralJwk: bankShare.publicJwk,
      codeSentTo: '+389******456',
      codeExpiresAt: '2026-12-02T10:05:00.000Z',
    };
    const sign = (payload: Record<string, unknown>, transactionId = loginId, key = bankSigning) =>
      signPayload(
        payload,
        { issuer: bankId, audience: partyId, transactionId, expiresInSeconds: 300 },
        key.privateJwk,
      );
    const context = { bank, partyId, loginId };
    expect(await openBankingLoginAnswer(await sign({ bankingLoginAnswer: answer }), context)).toEqual(answer);
    const refusals = [
      sign({ bankingLoginAnswer: answer }, randomUUID()),
      sign({ bankingLoginAnswer: { ...answer, loginId: randomUUID() } }),
      sign({ bankingLoginAnswer: { ...answer, codeSentTo: '+38970123456' } }),
      sign({ bankingLoginAnswer: { ...answer, sessionKey: 'x' } }),
      sign({ bankingLoginAnswer: answer }, loginId, device),
    ];
    for (const jws of refusals) {
      expect(await rejectedCodeOf(openBankingLoginAnswer(await jws, context))).toBe(
        'CRYPTO_VERIFICATION_FAILED',
      );
    }

    const session = {
      sessionId: loginId,
      partyId,
      serial: 'serial-1',
      clientId,
      expiresAt: '2026-12-02T10:35:00.000Z',
    };
    const sessionContext = { bank, partyId, sessionId: loginId };
    expect(await openBankingSession(await sign({ bankingSession: session }), sessionContext)).toEqual(
      session,
    );
    expect(
      await rejectedCodeOf(
        openBankingSession(
          await sign({ bankingSession: { ...session, partyId: 'bob@person.xbank' } }),
          sessionContext,
        ),
      ),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    expect(
      await rejectedCodeOf(openBankingSession(await sign({ bankingLoginAnswer: answer }), sessionContext)),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
  });

  it('seals the code under the session key, kid the login, as the bank opens and parses it', async () => {
    const sessionKey = new Uint8Array(randomBytes(32));
    const sealed = await sealBankingCode({ loginId, code: '012345', sessionKey });
    expect(headerOf(sealed)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: loginId });
    const plaintext = new TextDecoder().decode(await decryptDirect(sealed, sessionKey, { kid: loginId }));
    const parsed = JSON.parse(plaintext) as { bankingCode: unknown };
    expect(Object.keys(parsed)).toEqual(['bankingCode']);
    expect(parseBankingCodeContent(parsed.bankingCode, 6)).toEqual({ loginId, code: '012345' });
    for (const code of ['12345', '12345a', ' 123456', '1234567890']) {
      expect(await rejectedCodeOf(sealBankingCode({ loginId, code, sessionKey }))).toBe('REQUEST_INVALID');
    }
  });
});

describe('the device’s registration statements and the renewal proof', () => {
  it('signs the device registration and both password steps with txn the binding serial', async () => {
    const input = { partyId, bankId, signingKey: device.privateJwk, serial: 'serial-7' };
    const registration = await signBankingDevice({ userId: 'alice', clientId }, input);
    expect((await bankVerifies(registration, 'bankingDevice', 'serial-7')).payload.bankingDevice).toEqual({
      userId: 'alice',
      clientId,
    });
    const message = 'b3BhcXVlLXJlZ2lzdHJhdGlvbi1yZXF1ZXN0';
    const messageHash = createHash('sha256').update(message, 'utf8').digest('base64url');
    expect(await bankingMessageHash(message)).toBe(messageHash);
    const step = await signBankingPassword({ userId: 'alice', step: 'finish', messageHash }, input);
    expect((await bankVerifies(step, 'bankingPassword', 'serial-7')).payload.bankingPassword).toEqual({
      userId: 'alice',
      step: 'finish',
      messageHash,
    });
  });

  it('proves the new key with `{renewal: {noticeId, partyId, bank}}` signed by it, txn the notice', async () => {
    const newKey = await generateSigningKeyPair('ES256');
    const noticeId = randomUUID();
    const proof = await signRenewalProof(noticeId, { partyId, bankId, newSigningKey: newKey.privateJwk });
    const verified = await verifyPayload(
      proof,
      async (kid) => (kid === newKey.kid ? newKey.publicJwk : undefined),
      { audience: bankId, issuer: partyId, transactionId: noticeId },
    );
    expect(Object.keys(verified.payload).sort()).toEqual([
      'aud',
      'exp',
      'iat',
      'iss',
      'nonce',
      'renewal',
      'txn',
    ]);
    expect(verified.payload.renewal).toEqual({ noticeId, partyId, bank: bankId });
    expect(verified.kid).toBe(newKey.kid);
  });
});
