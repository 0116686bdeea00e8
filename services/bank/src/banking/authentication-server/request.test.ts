import { encryptDirect, signPayload } from '@mpay/envelope';
import { type BankingRequest, MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../../test/support/code-of.ts';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';
import { answerBankingRequest, type BankingRequestExecutor } from './answer.ts';
import {
  addTestBankingDevice,
  deviceCall,
  finishTestLogin,
  loginTestDevice,
  openTestBankingAnswer,
  registerTestBankingCustomer,
  sealTestBankingRequest,
  sendTestBankingRequest,
  startTestLogin,
  type TestBankingDevice,
  type TestBankingSession,
  testBankingContext,
} from './banking.test-helper.ts';
import {
  claimBankingRequest,
  closeSessionsOfSerial,
  lockSessionBinding,
  type OpenedBankingRequest,
  openBankingRequest,
} from './request.ts';

/**
 * E(S(msg, ID_C)) at the authentication server: a request opens only in its
 * session (active, not expired, not idle), under its session key, signed by
 * the session device's bound key naming that device's ID_C, within its
 * lifetime, once; the binding is checked again when the request is claimed
 * and in a money request's own transaction.
 */

let bank: TestBank;
const balance: BankingRequest = { kind: 'balance' };

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
});

afterAll(async () => {
  await bank.close();
});

async function customerWithSession(): Promise<{ device: TestBankingDevice; session: TestBankingSession }> {
  const device = await registerTestBankingCustomer(bank, { funds: 10_000n });
  return { device, session: await loginTestDevice(bank, device) };
}

async function requestRow(id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await bank.database.query('SELECT * FROM banking_requests WHERE id = $1', [id]);
  return rows[0];
}

async function lastUsedAt(sessionId: string): Promise<number> {
  const { rows } = await bank.database.query<{ last_used_at: Date | string }>(
    'SELECT last_used_at FROM banking_sessions WHERE id = $1',
    [sessionId],
  );
  return new Date(rows[0]?.last_used_at ?? 0).getTime();
}

function revoke(serial: string) {
  return bank.call(
    'POST',
    `/key-bindings/${serial}/revocation`,
    { reason: 'lost' },
    { 'idempotency-key': crypto.randomUUID() },
  );
}

/** The MpayError code `work` throws. */
/** The request opened as the route opens it. */
async function opened(device: TestBankingDevice, session: TestBankingSession, request = balance) {
  const sealed = await sealTestBankingRequest(bank, device, session, request);
  return openBankingRequest(testBankingContext(bank), sealed.body, bank.now());
}

describe('a request in its session', () => {
  it('is opened, claimed, executed by the business logic server, answered sealed and recorded', async () => {
    const { device, session } = await customerWithSession();
    const sent = await sendTestBankingRequest(bank, device, session, balance);
    expect(sent.answer.status).toBe(200);
    expect(Object.keys(sent.answer.body).sort()).toEqual(['answer', 'requestId', 'sessionId']);
    expect(sent.answer.body).toMatchObject({ sessionId: session.sessionId, requestId: sent.requestId });
    expect(sent.content).toMatchObject({
      requestId: sent.requestId,
      sessionId: session.sessionId,
      kind: 'balance',
      result: { accountId: device.clientId.accountId, balance: '10000' },
    });
    const row = await requestRow(sent.requestId);
    expect(row).toMatchObject({
      session_id: session.sessionId,
      party_id: device.partyId,
      serial: device.key.serial,
      kind: 'balance',
      outcome: 'OK',
    });
    expect(String(row?.request).split('.')).toHaveLength(3);
    expect(String(row?.answer).split('.')).toHaveLength(3);
  });

  it('gives the executor what was verified, and records a business refusal with its code', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const seen: OpenedBankingRequest[] = [];
    const refusing: BankingRequestExecutor = async (_context, request) => {
      seen.push(request);
      throw new MpayError('INSUFFICIENT_FUNDS');
    };
    const transfer: BankingRequest = {
      kind: 'transfer',
      payeeId: 'bob@person.xbank',
      amount: 99_999n,
      currency: 'EUR',
      reference: 'rent',
    };
    const sealed = await sealTestBankingRequest(bank, device, session, transfer);
    expect(await rejectedCodeOf(answerBankingRequest(context, sealed.body, refusing))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      requestId: sealed.requestId,
      sessionId: session.sessionId,
      partyId: device.partyId,
      serial: device.key.serial,
      clientId: device.clientId,
      request: transfer,
      jws: sealed.jws,
    });
    expect(seen[0]?.binding.subject).toBe(device.partyId);
    expect(await requestRow(sealed.requestId)).toMatchObject({ outcome: 'INSUFFICIENT_FUNDS', answer: null });
    // The same request signed again is answered its recorded refusal, without running again; a copy of
    // the first, replayed, learns nothing of it.
    const resigned = await sealTestBankingRequest(bank, device, session, transfer, {
      requestId: sealed.requestId,
    });
    expect(await rejectedCodeOf(answerBankingRequest(context, resigned.body, refusing))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(await rejectedCodeOf(answerBankingRequest(context, sealed.body, refusing))).toBe(
      'BANKING_REQUEST_REPLAYED',
    );
    expect(seen).toHaveLength(1);
  });

  it('opening writes nothing; claiming records the request and the session’s use', async () => {
    const { device, session } = await customerWithSession();
    const before = await lastUsedAt(session.sessionId);
    bank.advanceSeconds(5);
    const request = await opened(device, session);
    expect(await requestRow(request.requestId)).toBeUndefined();
    expect(await lastUsedAt(session.sessionId)).toBe(before);
    const claimedAt = bank.now();
    await claimBankingRequest(testBankingContext(bank), request, claimedAt);
    expect(await requestRow(request.requestId)).toMatchObject({ nonce: request.nonce, outcome: null });
    expect(await lastUsedAt(session.sessionId)).toBe(claimedAt.getTime());
  });
});

describe('a replayed request', () => {
  it('the same request again: its recorded answer, run once; the same id with other content: BANKING_REQUEST_REPLAYED', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    let runs = 0;
    const counting: BankingRequestExecutor = async (_context, request) => {
      runs += 1;
      return { accountId: request.clientId.accountId, balance: String(runs) };
    };
    const sealed = await sealTestBankingRequest(bank, device, session, balance);
    const first = await answerBankingRequest(context, sealed.body, counting);
    const firstRow = await requestRow(sealed.requestId);
    // A copy of it, byte for byte: nothing. Signed again by the device: its recorded answer.
    expect(await rejectedCodeOf(answerBankingRequest(context, sealed.body, counting))).toBe(
      'BANKING_REQUEST_REPLAYED',
    );
    const resealed = await sealTestBankingRequest(bank, device, session, balance, {
      requestId: sealed.requestId,
    });
    const replayed = await answerBankingRequest(context, resealed.body, counting);
    expect(runs).toBe(1);
    const expected = { accountId: device.clientId.accountId, balance: '1' };
    for (const answered of [first, replayed]) {
      expect(answered.requestId).toBe(sealed.requestId);
      const content = await openTestBankingAnswer(bank, device, session, answered.answer);
      expect(content).toMatchObject({ requestId: sealed.requestId, kind: 'balance', result: expected });
    }
    // The same request id and content signed again (another nonce, another lifetime), over HTTP.
    const again = await sendTestBankingRequest(bank, device, session, balance, {
      requestId: sealed.requestId,
    });
    expect(again.answer.status).toBe(200);
    expect(again.content).toMatchObject({ requestId: sealed.requestId, result: expected });
    expect(runs).toBe(1);
    // A retry records nothing: the first signed answer stays the evidence.
    expect(await requestRow(sealed.requestId)).toEqual(firstRow);
    // The same id with other content (another kind, another account of the binding): a replay.
    const other = await sendTestBankingRequest(
      bank,
      device,
      session,
      { kind: 'devices' },
      { requestId: sealed.requestId },
    );
    expect(other.answer.status).toBe(409);
    expect(errorCodeOf(other.answer)).toBe('BANKING_REQUEST_REPLAYED');
    // The same kind with another body: a replay too.
    const statement = await sealTestBankingRequest(bank, device, session, { kind: 'statement' });
    expect((await deviceCall(bank, '/banking/requests', statement.body)).status).toBe(200);
    const otherPage = await sendTestBankingRequest(
      bank,
      device,
      session,
      { kind: 'statement', pageSize: 1 },
      { requestId: statement.requestId },
    );
    expect(errorCodeOf(otherPage.answer)).toBe('BANKING_REQUEST_REPLAYED');
    const { rows } = await bank.database.query('SELECT id FROM banking_requests WHERE session_id = $1', [
      session.sessionId,
    ]);
    expect(rows).toHaveLength(2);
  });

  it('the same nonce in the session under another id: replayed', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    await claimBankingRequest(context, request, bank.now());
    const sameNonce = { ...request, requestId: crypto.randomUUID() };
    expect(await rejectedCodeOf(claimBankingRequest(context, sameNonce, bank.now()))).toBe(
      'BANKING_REQUEST_REPLAYED',
    );
  });
});

describe('a request that is not its session device’s', () => {
  it('another device’s ID_C, another device’s key, an account the binding does not name: BANKING_REQUEST_INVALID', async () => {
    const { device, session } = await customerWithSession();
    const second = await addTestBankingDevice(bank, device);
    const notBound = await bank.openAccount('customer', 'EUR', device.partyId);
    for (const overrides of [
      { clientId: second.clientId },
      { clientId: { ...device.clientId, sim: second.clientId.sim } },
      { signing: second.key.signing },
      { signing: second.key.signing, clientId: second.clientId },
      { clientId: { ...device.clientId, accountId: notBound } },
    ]) {
      const sent = await sendTestBankingRequest(bank, device, session, balance, overrides);
      expect(sent.answer.status).toBe(403);
      expect(sent.answer.body).toEqual({
        error: { code: 'BANKING_REQUEST_INVALID', message: 'The banking request could not be verified.' },
      });
      expect(await requestRow(sent.requestId)).toBeUndefined();
    }
    // The second phone works in its own session.
    const own = await loginTestDevice(bank, second);
    expect((await sendTestBankingRequest(bank, second, own, balance)).answer.status).toBe(200);
  });

  it('a request for another session: signed for one, sealed for the other (invalid) or posted to it (undecryptable)', async () => {
    const { device, session } = await customerWithSession();
    const other = await loginTestDevice(bank, device);
    const signedForFirst = await sendTestBankingRequest(bank, device, other, balance, {
      signedSessionId: session.sessionId,
    });
    expect(errorCodeOf(signedForFirst.answer)).toBe('BANKING_REQUEST_INVALID');
    const postedToOther = await sendTestBankingRequest(bank, device, session, balance, {
      postedSessionId: other.sessionId,
    });
    expect(errorCodeOf(postedToOther.answer)).toBe('CRYPTO_DECRYPTION_FAILED');
    // Another customer's session with this customer's key and session key: nothing opens.
    const stranger = await customerWithSession();
    const crossed = await sendTestBankingRequest(bank, device, session, balance, {
      postedSessionId: stranger.session.sessionId,
      sessionKey: stranger.session.sessionKey,
    });
    expect(errorCodeOf(crossed.answer)).toBe('BANKING_REQUEST_INVALID');
  });

  it('a signature over more than the request, or with a txn that is no request id: BANKING_REQUEST_INVALID', async () => {
    const { device, session } = await customerWithSession();
    const banking = { request: { kind: 'balance' }, clientId: device.clientId, sessionId: session.sessionId };
    const sign = (payload: Record<string, unknown>, transactionId: string) =>
      signPayload(
        payload,
        {
          issuer: device.partyId,
          audience: bank.name,
          transactionId,
          expiresInSeconds: 60,
          now: () => bank.now().getTime(),
        },
        device.key.signing.privateJwk,
      );
    const statements = [
      await sign({ banking, note: 'extra' }, crypto.randomUUID()),
      await sign({ banking: { ...banking, extra: 1 } }, crypto.randomUUID()),
      await sign({ banking }, 'not-a-uuid'),
      await sign({ banking: { ...banking, request: { kind: 'balance', extra: 1 } } }, crypto.randomUUID()),
    ];
    for (const jws of statements) {
      const request = await encryptDirect(jws, session.sessionKey, { kid: session.sessionId });
      const answer = await deviceCall(bank, '/banking/requests', { sessionId: session.sessionId, request });
      expect(errorCodeOf(answer)).toBe('BANKING_REQUEST_INVALID');
    }
    expect(await sign({ banking }, crypto.randomUUID())).toMatch(/\./);
  });

  it('does not decrypt: one generic answer whatever is wrong', async () => {
    const { device, session } = await customerWithSession();
    const sealed = await sealTestBankingRequest(bank, device, session, balance);
    const [header, , iv, ciphertext, tag] = sealed.body.request.split('.');
    const flipped = `${tag?.startsWith('A') ? 'B' : 'A'}${tag?.slice(1)}`;
    const bodies = [
      `${header}..${iv}.${ciphertext}.${flipped}`,
      await encryptDirect(sealed.jws, new Uint8Array(32).fill(1), { kid: session.sessionId }),
      await encryptDirect(sealed.jws, session.sessionKey, { kid: crypto.randomUUID() }),
      await encryptDirect(new Uint8Array([0xff, 0xfe]), session.sessionKey, { kid: session.sessionId }),
      'eyJhbGciOiJub25lIn0..AAAA.AAAA.AAAA',
    ];
    const answers = await Promise.all(
      bodies.map((request) =>
        deviceCall(bank, '/banking/requests', { sessionId: session.sessionId, request }),
      ),
    );
    for (const answer of answers) {
      expect(answer.body).toEqual({
        error: { code: 'CRYPTO_DECRYPTION_FAILED', message: 'The message could not be decrypted.' },
      });
    }
  });
});

describe('time', () => {
  it('an expired request: BANKING_REQUEST_EXPIRED; a lifetime beyond requestLifetimeSecondsMax: invalid', async () => {
    const { device, session } = await customerWithSession();
    const sealed = await sealTestBankingRequest(bank, device, session, balance, { expiresInSeconds: 30 });
    const { requestLifetimeSecondsMax } = testBankingContext(bank).banking.limits;
    const long = await sendTestBankingRequest(bank, device, session, balance, {
      expiresInSeconds: requestLifetimeSecondsMax + 1,
    });
    expect(errorCodeOf(long.answer)).toBe('BANKING_REQUEST_INVALID');
    // Past exp by more than the clock skew the bank grants (60 s).
    bank.advanceSeconds(30 + 61);
    const expired = await deviceCall(bank, '/banking/requests', sealed.body);
    expect(expired.status).toBe(422);
    expect(errorCodeOf(expired)).toBe('BANKING_REQUEST_EXPIRED');
    expect(await requestRow(sealed.requestId)).toBeUndefined();
  });

  it('a request that expires between opening and claiming is not claimed', async () => {
    const { device, session } = await customerWithSession();
    const sealed = await sealTestBankingRequest(bank, device, session, balance, { expiresInSeconds: 5 });
    const context = testBankingContext(bank);
    const request = await openBankingRequest(context, sealed.body, bank.now());
    bank.advanceSeconds(5 + 60);
    expect(await rejectedCodeOf(claimBankingRequest(context, request, bank.now()))).toBe(
      'BANKING_REQUEST_EXPIRED',
    );
    expect(await requestRow(request.requestId)).toBeUndefined();
  });

  it('an idle session: refused after sessionIdleSeconds without a request; each request restarts the wait', async () => {
    const { device, session } = await customerWithSession();
    const { sessionIdleSeconds } = testBankingContext(bank).banking.limits;
    bank.advanceSeconds(sessionIdleSeconds - 1);
    expect((await sendTestBankingRequest(bank, device, session, balance)).answer.status).toBe(200);
    bank.advanceSeconds(sessionIdleSeconds - 1);
    expect((await sendTestBankingRequest(bank, device, session, balance)).answer.status).toBe(200);
    bank.advanceSeconds(sessionIdleSeconds);
    const idle = await sendTestBankingRequest(bank, device, session, balance);
    expect(idle.answer.status).toBe(401);
    expect(errorCodeOf(idle.answer)).toBe('BANKING_SESSION_INVALID');
  });

  it('an expired session: refused after sessionLifetimeSeconds, however busy', async () => {
    const { device, session } = await customerWithSession();
    const { sessionIdleSeconds, sessionLifetimeSeconds } = testBankingContext(bank).banking.limits;
    const step = sessionIdleSeconds - 1;
    let elapsed = 0;
    while (elapsed + step < sessionLifetimeSeconds) {
      bank.advanceSeconds(step);
      elapsed += step;
      expect((await sendTestBankingRequest(bank, device, session, balance)).answer.status).toBe(200);
    }
    bank.advanceSeconds(sessionLifetimeSeconds - elapsed);
    const expired = await sendTestBankingRequest(bank, device, session, balance);
    expect(errorCodeOf(expired.answer)).toBe('BANKING_SESSION_INVALID');
  });

  it('a session that went idle between opening and claiming is not claimed', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    bank.advanceSeconds(context.banking.limits.sessionIdleSeconds);
    expect(await rejectedCodeOf(claimBankingRequest(context, request, bank.now()))).toBe(
      'BANKING_SESSION_INVALID',
    );
  });
});

describe('sessions and bindings', () => {
  it('an unknown or malformed session id', async () => {
    const { device, session } = await customerWithSession();
    const sealed = await sealTestBankingRequest(bank, device, session, balance);
    const unknown = await deviceCall(bank, '/banking/requests', {
      ...sealed.body,
      sessionId: crypto.randomUUID(),
    });
    expect(errorCodeOf(unknown)).toBe('BANKING_SESSION_INVALID');
    const malformed = await deviceCall(bank, '/banking/requests', { ...sealed.body, sessionId: 'x' });
    expect(malformed.status).toBe(400);
    const extra = await deviceCall(bank, '/banking/requests', { ...sealed.body, extra: 1 });
    expect(extra.status).toBe(400);
  });

  it('a login that is not yet a session is no session', async () => {
    const { device } = await customerWithSession();
    const { rows } = await bank.database.query<{ id: string }>(
      "SELECT id::text AS id FROM banking_sessions WHERE party_id = $1 AND state = 'active'",
      [device.partyId],
    );
    await bank.database.query("UPDATE banking_sessions SET state = 'code_sent' WHERE id = $1", [rows[0]?.id]);
    const session = {
      sessionId: rows[0]?.id ?? '',
      sessionKey: new Uint8Array(32),
      expiresAt: '',
      statement: '',
    };
    const sent = await sendTestBankingRequest(bank, device, session, balance);
    expect(errorCodeOf(sent.answer)).toBe('BANKING_SESSION_INVALID');
  });

  it('closeSessionsOfSerial closes the binding’s sessions and refuses its logins waiting for a code', async () => {
    const { device, session } = await customerWithSession();
    const second = await loginTestDevice(bank, device);
    const waiting = await startTestLogin(bank, device.userId, device.password);
    expect((await finishTestLogin(bank, device, waiting)).answer.status).toBe(200);
    const closed = await bank.database.transaction((sql) =>
      closeSessionsOfSerial(sql, device.key.serial, 'revoked', bank.now()),
    );
    expect(closed).toBe(3);
    const refused = await bank.database.query('SELECT state, code_hash FROM banking_sessions WHERE id = $1', [
      waiting.loginId,
    ]);
    expect(refused.rows).toEqual([{ state: 'refused', code_hash: null }]);
    const { rows } = await bank.database.query(
      'SELECT state, closed_reason, sealed_session_key FROM banking_sessions WHERE id = ANY($1::uuid[])',
      [[session.sessionId, second.sessionId]],
    );
    expect(rows).toEqual([
      { state: 'closed', closed_reason: 'revoked', sealed_session_key: null },
      { state: 'closed', closed_reason: 'revoked', sealed_session_key: null },
    ]);
    expect(errorCodeOf((await sendTestBankingRequest(bank, device, session, balance)).answer)).toBe(
      'BANKING_SESSION_INVALID',
    );
  });

  it('a key revoked after the request was opened is refused when it is claimed', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    expect((await revoke(device.key.serial)).status).toBe(201);
    expect(await rejectedCodeOf(claimBankingRequest(context, request, bank.now()))).toBe(
      'BANKING_REQUEST_INVALID',
    );
    expect(await requestRow(request.requestId)).toBeUndefined();
    // And a request opened after the revocation does not open (the session itself is left to the KMS to close).
    expect(await rejectedCodeOf(opened(device, session))).toBe('BANKING_REQUEST_INVALID');
  });

  it('a key revoked after the claim is refused by lockSessionBinding in the money request’s transaction', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    await claimBankingRequest(context, request, bank.now());
    const bound = await bank.database.transaction((sql) =>
      lockSessionBinding(sql, context, request, bank.now()),
    );
    expect(bound.serial).toBe(device.key.serial);
    expect((await revoke(device.key.serial)).status).toBe(201);
    expect(
      await rejectedCodeOf(
        bank.database.transaction((sql) => lockSessionBinding(sql, context, request, bank.now())),
      ),
    ).toBe('BANKING_REQUEST_INVALID');
  });
});

describe('logout', () => {
  it('closes the session at the bank: answered sealed under its key, its stored key erased, later requests refused', async () => {
    const { device, session } = await customerWithSession();
    const sent = await sendTestBankingRequest(bank, device, session, { kind: 'logout' });
    expect(sent.answer.status).toBe(200);
    expect(sent.content).toMatchObject({ sessionId: session.sessionId, kind: 'logout' });
    expect(Object.keys(sent.content?.result ?? {}).sort()).toEqual(['closedAt', 'sessionId']);
    expect(sent.content?.result.sessionId).toBe(session.sessionId);
    expect(Number.isNaN(Date.parse(String(sent.content?.result.closedAt)))).toBe(false);
    const { rows } = await bank.database.query(
      'SELECT state, closed_reason, sealed_session_key FROM banking_sessions WHERE id = $1',
      [session.sessionId],
    );
    expect(rows).toEqual([{ state: 'closed', closed_reason: 'logged out', sealed_session_key: null }]);
    expect(await requestRow(sent.requestId)).toMatchObject({ kind: 'logout', outcome: 'OK' });
    const after = await sendTestBankingRequest(bank, device, session, balance);
    expect(after.answer.status).toBe(401);
    expect(errorCodeOf(after.answer)).toBe('BANKING_SESSION_INVALID');
    expect(
      errorCodeOf((await sendTestBankingRequest(bank, device, session, { kind: 'logout' })).answer),
    ).toBe('BANKING_SESSION_INVALID');
  });

  it('a logout request with members besides its kind is invalid, and the session stays open', async () => {
    const { device, session } = await customerWithSession();
    const sent = await sendTestBankingRequest(bank, device, session, {
      kind: 'logout',
      everywhere: true,
    } as unknown as BankingRequest);
    expect(errorCodeOf(sent.answer)).toBe('BANKING_REQUEST_INVALID');
    expect((await sendTestBankingRequest(bank, device, session, balance)).answer.status).toBe(200);
  });

  it('a request claimed before the logout is refused by lockSessionBinding: BANKING_SESSION_INVALID', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    await claimBankingRequest(context, request, bank.now());
    expect((await sendTestBankingRequest(bank, device, session, { kind: 'logout' })).answer.status).toBe(200);
    expect(
      await rejectedCodeOf(
        bank.database.transaction((sql) => lockSessionBinding(sql, context, request, bank.now())),
      ),
    ).toBe('BANKING_SESSION_INVALID');
  });

  it('a request claimed before its binding’s sessions were closed is refused by lockSessionBinding', async () => {
    const { device, session } = await customerWithSession();
    const context = testBankingContext(bank);
    const request = await opened(device, session);
    await claimBankingRequest(context, request, bank.now());
    await bank.database.transaction((sql) =>
      closeSessionsOfSerial(sql, device.key.serial, 'device revoked: lost', bank.now()),
    );
    expect(
      await rejectedCodeOf(
        bank.database.transaction((sql) => lockSessionBinding(sql, context, request, bank.now())),
      ),
    ).toBe('BANKING_SESSION_INVALID');
  });
});
