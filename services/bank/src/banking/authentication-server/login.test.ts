import { decodeBase64url, encodeBase64url, verifyPayload } from '@mpay/envelope';
import { maskMsisdn } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';
import {
  addTestBankingDevice,
  deviceCall,
  finishTestLogin,
  loginTestDevice,
  registerTestBankingCustomer,
  registerTestPassword,
  sendTestLoginCode,
  signTestLoginStart,
  startTestLogin,
  type TestBankingDevice,
  testBankingContext,
  testSimAndPhoneId,
  testSmsCode,
} from './banking.test-helper.ts';
import { loginCodeHash } from './code.ts';

/**
 * The three-step login of SA2pMP §4.2 over HTTP against a real bank: every
 * factor (password by OPAQUE, device signature under its binding with its
 * registered ID_C, the registered phone number, the code by SMS), tries
 * counted per customer across devices and logins, the block at the limit.
 *
 * The count (banking_customers.failed_logins): a try is counted when the
 * first step, signed by a registered device of the customer, is answered
 * (OPAQUE's KE2 lets the client test one password guess by itself); a start
 * without such a statement gets a decoy KE2 and is neither counted nor ever
 * blocked; a failed factor at the second step is not counted again, it
 * blocks when the count is full; a wrong code (one that opened under the
 * session key) counts once more; only a proved code resets the count. A
 * signed start that finds the count full blocks the customer and is refused.
 */

let bank: TestBank;

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
});

afterAll(async () => {
  await bank.close();
});

async function customerRow(partyId: string): Promise<{ failed_logins: number; blocked_at: unknown }> {
  const { rows } = await bank.database.query<{ failed_logins: number; blocked_at: unknown }>(
    'SELECT failed_logins, blocked_at FROM banking_customers WHERE party_id = $1',
    [partyId],
  );
  if (rows[0] === undefined) throw new Error('no customer');
  return rows[0];
}

async function failedLogins(partyId: string): Promise<number> {
  return (await customerRow(partyId)).failed_logins;
}

async function sessionRow(id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await bank.database.query('SELECT * FROM banking_sessions WHERE id = $1', [id]);
  return rows[0];
}

/** The unblock route's effect (the operator route belongs to the business logic server). */
async function unblock(partyId: string): Promise<void> {
  await bank.database.query(
    'UPDATE banking_customers SET failed_logins = 0, blocked_at = NULL WHERE party_id = $1',
    [partyId],
  );
}

/** A login that reached code_sent: its id, the device's session key and the code the SMS carried. */
async function loginToCode(device: TestBankingDevice) {
  const started = await startTestLogin(bank, device.userId, device.password);
  const finished = await finishTestLogin(bank, device, started);
  expect(finished.answer.status).toBe(200);
  if (finished.sessionKey === undefined) throw new Error('no session key');
  return {
    loginId: started.loginId,
    sessionKey: finished.sessionKey,
    code: testSmsCode(bank, device.msisdn),
  };
}

/** Another code of the same length than `code`. */
function otherCode(code: string): string {
  return code.replace(/^./, (digit) => String((Number(digit) + 1) % 10));
}

describe('a full login', () => {
  it('proves every factor, sends the code to the registered number, opens a session with a statement', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    expect(started.answer.status).toBe(200);
    expect(Object.keys(started.answer.body).sort()).toEqual(['loginId', 'loginResponse']);
    expect((await sessionRow(started.loginId))?.state).toBe('password_started');
    // KE2 answered: the try is counted before the password is proved.
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 1, blocked_at: null });

    const finished = await finishTestLogin(bank, device, started);
    expect(finished.answer.status).toBe(200);
    expect(finished.answer.body.loginId).toBe(started.loginId);
    const { payload } = await verifyPayload(
      finished.answer.body.answer,
      () => testBankingContext(bank).bank.publicJwk,
      { audience: device.partyId, issuer: bank.name, transactionId: started.loginId },
      { now: () => bank.now().getTime() },
    );
    const answer = payload.bankingLoginAnswer as Record<string, unknown>;
    expect(answer.codeSentTo).toBe(maskMsisdn(device.msisdn));
    expect(Date.parse(answer.codeExpiresAt as string) - bank.now().getTime()).toBeGreaterThan(290_000);

    // The SMS went to the registered number, with the spec's text; only its hash is kept.
    const sms = bank.sms.latest(device.msisdn);
    expect(sms?.text).toMatch(
      /^xbank: your mobile banking login code is [0-9]{6}\. It expires in 5 minutes\. Never share it\.$/,
    );
    const code = testSmsCode(bank, device.msisdn);
    const row = await sessionRow(started.loginId);
    expect(row).toMatchObject({ state: 'code_sent', serial: device.key.serial, server_login_state: null });
    expect(row?.code_hash).toBe(loginCodeHash(started.loginId, code));
    expect(JSON.stringify(row)).not.toContain(encodeBase64url(finished.sessionKey ?? new Uint8Array()));
    // The proved password, device and number do not reset the count: only the code does.
    expect(await failedLogins(device.partyId)).toBe(1);

    const opened = await sendTestLoginCode(
      bank,
      started.loginId,
      finished.sessionKey ?? new Uint8Array(),
      code,
    );
    expect(opened.status).toBe(201);
    expect(opened.body.sessionId).toBe(started.loginId);
    const statement = await verifyPayload(
      opened.body.statement,
      () => testBankingContext(bank).bank.publicJwk,
      { audience: device.partyId, issuer: bank.name, transactionId: started.loginId },
      { now: () => bank.now().getTime(), maxAgeSeconds: 86_400 },
    );
    expect(statement.payload.bankingSession).toEqual({
      sessionId: started.loginId,
      partyId: device.partyId,
      serial: device.key.serial,
      clientId: device.clientId,
      expiresAt: opened.body.expiresAt,
    });
    const active = await sessionRow(started.loginId);
    expect(active).toMatchObject({ state: 'active', code_hash: null });
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 0, blocked_at: null });
    // The session key is kept only sealed to the bank's encryption key (a JWE with five parts).
    expect(String(active?.sealed_session_key).split('.')).toHaveLength(5);
  });

  it('a login started and abandoned leaves its one counted try; a completed login resets the count', async () => {
    const device = await registerTestBankingCustomer(bank);
    const abandoned = await startTestLogin(bank, device.userId, device.password);
    expect(abandoned.answer.status).toBe(200);
    expect(await failedLogins(device.partyId)).toBe(1);
    // Even its lifetime passing takes nothing back.
    bank.advanceSeconds(testBankingContext(bank).banking.limits.loginLifetimeSeconds);
    expect(await failedLogins(device.partyId)).toBe(1);
    expect((await sessionRow(abandoned.loginId))?.state).toBe('password_started');
    await loginTestDevice(bank, device);
    expect(await failedLogins(device.partyId)).toBe(0);
  });

  it('answers a code replayed after success with the generic refusal, not counted', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginId, sessionKey, code } = await loginToCode(device);
    expect(await failedLogins(device.partyId)).toBe(1);
    expect((await sendTestLoginCode(bank, loginId, sessionKey, code)).status).toBe(201);
    expect(await failedLogins(device.partyId)).toBe(0);
    const replayed = await sendTestLoginCode(bank, loginId, sessionKey, code);
    expect(replayed.status).toBe(401);
    expect(errorCodeOf(replayed)).toBe('BANKING_LOGIN_FAILED');
    expect((await customerRow(device.partyId)).failed_logins).toBe(0);
    expect((await sessionRow(loginId))?.state).toBe('active');
  });

  it('refuses a finish replayed on a login past its second step, not counted again', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    const finished = await finishTestLogin(bank, device, started);
    expect(finished.answer.status).toBe(200);
    expect(await failedLogins(device.partyId)).toBe(1);
    const again = await finishTestLogin(bank, device, started);
    expect(errorCodeOf(again.answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await failedLogins(device.partyId)).toBe(1);
    expect((await sessionRow(started.loginId))?.state).toBe('code_sent');
    // The first finish's code still opens the session, and the count is reset.
    const opened = await sendTestLoginCode(
      bank,
      started.loginId,
      finished.sessionKey ?? new Uint8Array(),
      testSmsCode(bank, device.msisdn),
    );
    expect(opened.status).toBe(201);
    const replayed = await finishTestLogin(bank, device, started);
    expect(errorCodeOf(replayed.answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await failedLogins(device.partyId)).toBe(0);
  });
});

describe('a failed factor', () => {
  it('a wrong password: generic refusal, counted once (at its start), the login refused', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, 'not the password');
    expect(started.answer.status).toBe(200);
    expect(await failedLogins(device.partyId)).toBe(1);
    const finished = await finishTestLogin(bank, device, started, { password: 'not the password' });
    expect(finished.answer.status).toBe(401);
    expect(finished.answer.body.error).toEqual({
      code: 'BANKING_LOGIN_FAILED',
      message: 'The login failed.',
    });
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 1, blocked_at: null });
    expect(await sessionRow(started.loginId)).toMatchObject({ state: 'refused', server_login_state: null });
    expect(bank.sms.latest(device.msisdn)).toBeUndefined();
  });

  it('another phone number than the registered one: refused, counted once, no SMS to either', async () => {
    const device = await registerTestBankingCustomer(bank);
    const sent = bank.sms.messages.length;
    const started = await startTestLogin(bank, device.userId, device.password);
    const finished = await finishTestLogin(bank, device, started, { msisdn: '+38970999999' });
    expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_FAILED');
    expect((await customerRow(device.partyId)).failed_logins).toBe(1);
    expect(bank.sms.messages.length).toBe(sent);
  });

  it('a device whose ID_C differs from its registration: refused, counted', async () => {
    const device = await registerTestBankingCustomer(bank);
    const otherPhone = { ...testSimAndPhoneId(), accountId: device.clientId.accountId };
    for (const clientId of [
      { ...device.clientId, sim: otherPhone.sim },
      { ...device.clientId, phoneId: otherPhone.phoneId },
    ]) {
      const started = await startTestLogin(bank, device.userId, device.password);
      const finished = await finishTestLogin(bank, device, started, { clientId });
      expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_FAILED');
    }
    // One counted try per login, whatever factor failed.
    expect(await failedLogins(device.partyId)).toBe(2);
    // The same device with its registered ID_C logs in (and the count starts again).
    await loginTestDevice(bank, device);
    expect((await customerRow(device.partyId)).failed_logins).toBe(0);
  });

  it('an account the binding does not name, a key not registered for banking, another customer’s key', async () => {
    const device = await registerTestBankingCustomer(bank);
    const unregistered = await addTestBankingDevice(bank, device, { registerDevice: false });
    const stranger = await registerTestBankingCustomer(bank);
    const foreignAccount = await bank.openAccount('customer', 'EUR', device.partyId);
    const attempts = [
      { clientId: { ...device.clientId, accountId: foreignAccount } },
      { signing: unregistered.key.signing, clientId: unregistered.clientId },
      { signing: stranger.key.signing },
    ];
    for (const overrides of attempts) {
      const started = await startTestLogin(bank, device.userId, device.password);
      const finished = await finishTestLogin(bank, device, started, overrides);
      expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_FAILED');
    }
    expect((await customerRow(device.partyId)).failed_logins).toBe(attempts.length);
  });

  it('a second registered phone logs in with its own ID_C, not with the first one’s', async () => {
    const device = await registerTestBankingCustomer(bank);
    const second = await addTestBankingDevice(bank, device);
    const started = await startTestLogin(bank, device.userId, device.password);
    const crossed = await finishTestLogin(bank, second, started, { clientId: device.clientId });
    expect(errorCodeOf(crossed.answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await failedLogins(device.partyId)).toBe(1);
    await loginTestDevice(bank, second);
    expect(await failedLogins(device.partyId)).toBe(0);
  });

  it('a wrong code: refused and counted once more than the start; the login ends after codeTriesPerLoginMax', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginId, sessionKey, code } = await loginToCode(device);
    const { codeTriesPerLoginMax, loginFailuresMax } = testBankingContext(bank).banking.limits;
    // The start's try and every wrong code stay below the block.
    expect(1 + codeTriesPerLoginMax).toBeLessThan(loginFailuresMax);
    expect(await failedLogins(device.partyId)).toBe(1);
    for (let attempt = 1; attempt <= codeTriesPerLoginMax; attempt += 1) {
      const wrong = await sendTestLoginCode(bank, loginId, sessionKey, otherCode(code));
      expect(errorCodeOf(wrong)).toBe('BANKING_LOGIN_FAILED');
      expect(await sessionRow(loginId)).toMatchObject({
        state: attempt < codeTriesPerLoginMax ? 'code_sent' : 'refused',
        code_failures: attempt,
      });
      expect(await failedLogins(device.partyId)).toBe(1 + attempt);
    }
    // The right code after the login ended opens nothing, and is not counted.
    expect(errorCodeOf(await sendTestLoginCode(bank, loginId, sessionKey, code))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    expect(await customerRow(device.partyId)).toMatchObject({
      failed_logins: 1 + codeTriesPerLoginMax,
      blocked_at: null,
    });
  });

  it('a code sealed under another key (or malformed inside) tests nothing: refused, not counted; the right one still opens', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginId, sessionKey, code } = await loginToCode(device);
    const otherKey = new Uint8Array(32).fill(7);
    for (
      let attempt = 0;
      attempt <= testBankingContext(bank).banking.limits.codeTriesPerLoginMax;
      attempt += 1
    ) {
      expect(errorCodeOf(await sendTestLoginCode(bank, loginId, otherKey, code))).toBe(
        'BANKING_LOGIN_FAILED',
      );
    }
    // Under the session key but not a code of this login: not a guess either.
    expect(errorCodeOf(await sendTestLoginCode(bank, loginId, sessionKey, `${code}x`))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    // Only the start's try; the login still takes its code.
    expect(await failedLogins(device.partyId)).toBe(1);
    expect(await sessionRow(loginId)).toMatchObject({ state: 'code_sent', code_failures: 0 });
    expect((await sendTestLoginCode(bank, loginId, sessionKey, code)).status).toBe(201);
    expect(await failedLogins(device.partyId)).toBe(0);
  });

  it('a code after its expiry opens nothing and is not counted (the start’s try stays)', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginId, sessionKey, code } = await loginToCode(device);
    bank.advanceSeconds(testBankingContext(bank).banking.limits.codeLifetimeSeconds);
    expect(errorCodeOf(await sendTestLoginCode(bank, loginId, sessionKey, code))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    expect(await sessionRow(loginId)).toMatchObject({ state: 'refused', closed_reason: 'code expired' });
    expect(await failedLogins(device.partyId)).toBe(1);
  });

  it('a code after the device’s key was revoked opens nothing and is not counted (the start’s try stays)', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginId, sessionKey, code } = await loginToCode(device);
    const revoked = await bank.call(
      'POST',
      `/key-bindings/${device.key.serial}/revocation`,
      { reason: 'stolen' },
      { 'idempotency-key': crypto.randomUUID() },
    );
    expect(revoked.status).toBe(201);
    expect(errorCodeOf(await sendTestLoginCode(bank, loginId, sessionKey, code))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    expect(await sessionRow(loginId)).toMatchObject({
      state: 'refused',
      closed_reason: 'binding not active',
    });
    expect(await failedLogins(device.partyId)).toBe(1);
  });

  it('a finish after the bank reset the password proves nothing (not even the old password), not counted again', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    await bank.database.query('UPDATE banking_customers SET opaque_record = NULL WHERE party_id = $1', [
      device.partyId,
    ]);
    const finished = await finishTestLogin(bank, device, started);
    expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await sessionRow(started.loginId)).toMatchObject({
      state: 'refused',
      closed_reason: 'password reset',
    });
    expect(await failedLogins(device.partyId)).toBe(1);
  });

  it('a login past its lifetime proves nothing at its finish, and still cost its start’s try', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    expect(await failedLogins(device.partyId)).toBe(1);
    bank.advanceSeconds(testBankingContext(bank).banking.limits.loginLifetimeSeconds);
    const finished = await finishTestLogin(bank, device, started);
    expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await sessionRow(started.loginId)).toMatchObject({ state: 'refused', closed_reason: 'expired' });
    expect(await failedLogins(device.partyId)).toBe(1);
    expect(bank.sms.latest(device.msisdn)).toBeUndefined();
  });
});

describe('the block', () => {
  it('blocks at the failure that finds loginFailuresMax tries counted, across logins, factors and devices; then refuses at the start', async () => {
    const device = await registerTestBankingCustomer(bank);
    const second = await addTestBankingDevice(bank, device);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    expect(loginFailuresMax).toBe(5);
    // 1: a wrong password on the first phone; 2: a wrong number on the second.
    for (const [phone, overrides] of [
      [device, { password: 'wrong' }],
      [second, { msisdn: '+38970111111' }],
    ] as const) {
      const started = await startTestLogin(bank, device.userId, overrides.password ?? device.password);
      expect(errorCodeOf((await finishTestLogin(bank, phone, started, overrides)).answer)).toBe(
        'BANKING_LOGIN_FAILED',
      );
    }
    expect(await failedLogins(device.partyId)).toBe(2);
    // 3: a login that reaches its code step (counted until its code is proved).
    const early = await loginToCode(device);
    // 4: a login of the second phone at its code step; 5: its wrong code, which blocks.
    const pending = await loginToCode(second);
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 4, blocked_at: null });
    const alerts = vi.spyOn(testBankingContext(bank).log, 'warn');
    const blocking = await sendTestLoginCode(
      bank,
      pending.loginId,
      pending.sessionKey,
      otherCode(pending.code),
    );
    expect(alerts).toHaveBeenCalledWith(
      { alert: 'banking_login_blocked', partyId: device.partyId, failedLogins: 5 },
      'mobile banking blocked after too many failed logins',
    );
    alerts.mockRestore();
    expect(blocking.status).toBe(423);
    expect(errorCodeOf(blocking)).toBe('BANKING_LOGIN_BLOCKED');
    const row = await customerRow(device.partyId);
    expect(row.failed_logins).toBe(5);
    expect(row.blocked_at).not.toBeNull();
    expect((await sessionRow(pending.loginId))?.state).toBe('refused');

    // A login already at its code step when the block comes proves nothing after it.
    expect(errorCodeOf(await sendTestLoginCode(bank, early.loginId, early.sessionKey, early.code))).toBe(
      'BANKING_LOGIN_BLOCKED',
    );
    expect((await sessionRow(early.loginId))?.state).toBe('refused');
    const refused = await startTestLogin(bank, device.userId, device.password);
    expect(refused.answer.status).toBe(423);
    expect(errorCodeOf(refused.answer)).toBe('BANKING_LOGIN_BLOCKED');
    expect(await failedLogins(device.partyId)).toBe(5);
    // The bank unblocks: the customer logs in again.
    await unblock(device.partyId);
    await loginTestDevice(bank, device);
    expect(await failedLogins(device.partyId)).toBe(0);
  });

  it('five started logins with wrong passwords: each counted at its start, the fifth finish blocks', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    for (let attempt = 1; attempt <= loginFailuresMax; attempt += 1) {
      const started = await startTestLogin(bank, device.userId, `wrong ${attempt}`);
      expect(started.answer.status).toBe(200);
      expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: attempt, blocked_at: null });
      const finished = await finishTestLogin(bank, device, started, { password: `wrong ${attempt}` });
      const last = attempt === loginFailuresMax;
      expect(finished.answer.status).toBe(last ? 423 : 401);
      expect(errorCodeOf(finished.answer)).toBe(last ? 'BANKING_LOGIN_BLOCKED' : 'BANKING_LOGIN_FAILED');
      // The failed finish is not counted again.
      expect(await failedLogins(device.partyId)).toBe(attempt);
    }
    expect((await customerRow(device.partyId)).blocked_at).not.toBeNull();
    expect(errorCodeOf((await startTestLogin(bank, device.userId, device.password)).answer)).toBe(
      'BANKING_LOGIN_BLOCKED',
    );
    expect(await failedLogins(device.partyId)).toBe(loginFailuresMax);
  });

  it('a block by a failed finish holds: a login already at its code step cannot prove its code and reset the count', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    const early = await loginToCode(device);
    expect(await failedLogins(device.partyId)).toBe(1);
    for (let attempt = 2; attempt <= loginFailuresMax; attempt += 1) {
      const started = await startTestLogin(bank, device.userId, `wrong ${attempt}`);
      const finished = await finishTestLogin(bank, device, started, { password: `wrong ${attempt}` });
      expect(errorCodeOf(finished.answer)).toBe(
        attempt === loginFailuresMax ? 'BANKING_LOGIN_BLOCKED' : 'BANKING_LOGIN_FAILED',
      );
    }
    expect((await customerRow(device.partyId)).blocked_at).not.toBeNull();
    expect(errorCodeOf(await sendTestLoginCode(bank, early.loginId, early.sessionKey, early.code))).toBe(
      'BANKING_LOGIN_BLOCKED',
    );
    expect(await sessionRow(early.loginId)).toMatchObject({ state: 'refused', closed_reason: 'blocked' });
    expect(await failedLogins(device.partyId)).toBe(loginFailuresMax);
  });

  it('one try short of the block, the right password, device, number and code still log in and reset the count', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    for (let attempt = 1; attempt < loginFailuresMax; attempt += 1) {
      expect((await startTestLogin(bank, device.userId, `guess ${attempt}`)).answer.status).toBe(200);
    }
    expect(await failedLogins(device.partyId)).toBe(loginFailuresMax - 1);
    const { loginId, sessionKey, code } = await loginToCode(device);
    expect(await customerRow(device.partyId)).toMatchObject({
      failed_logins: loginFailuresMax,
      blocked_at: null,
    });
    expect((await sendTestLoginCode(bank, loginId, sessionKey, code)).status).toBe(201);
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 0, blocked_at: null });
  });

  it('anonymous starts (no statement of the customer’s device) are never counted and never block, even a blocked customer', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    for (let attempt = 1; attempt <= loginFailuresMax + 2; attempt += 1) {
      const started = await startTestLogin(bank, device.userId, `guess ${attempt}`, { device: 'anonymous' });
      expect(started.answer.status).toBe(200);
      expect(Object.keys(started.answer.body).sort()).toEqual(['loginId', 'loginResponse']);
    }
    expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: 0, blocked_at: null });
    const { rows } = await bank.database.query('SELECT id FROM banking_sessions WHERE party_id = $1', [
      device.partyId,
    ]);
    expect(rows).toEqual([]);
    // The customer still logs in.
    await loginTestDevice(bank, device);

    // Blocked: an anonymous start is answered as any other (a decoy), not BANKING_LOGIN_BLOCKED.
    await bank.database.query('UPDATE banking_customers SET blocked_at = now() WHERE party_id = $1', [
      device.partyId,
    ]);
    const anonymous = await startTestLogin(bank, device.userId, device.password, { device: 'anonymous' });
    expect(anonymous.answer.status).toBe(200);
    const signed = await startTestLogin(bank, device.userId, device.password);
    expect(signed.answer.status).toBe(423);
    expect(errorCodeOf(signed.answer)).toBe('BANKING_LOGIN_BLOCKED');
    // The decoy's finish, even with the right password and the device's statement, proves nothing.
    expect(errorCodeOf((await finishTestLogin(bank, device, anonymous)).answer)).toBe('BANKING_LOGIN_FAILED');
    expect(await failedLogins(device.partyId)).toBe(0);
  });

  it('a start statement that does not hold is a decoy: not counted, nothing stored, its finish fails', async () => {
    const device = await registerTestBankingCustomer(bank);
    const unregistered = await addTestBankingDevice(bank, device, { registerDevice: false });
    const stranger = await registerTestBankingCustomer(bank);
    const revoked = await addTestBankingDevice(bank, device);
    expect(
      (
        await bank.call(
          'POST',
          `/key-bindings/${revoked.key.serial}/revocation`,
          { reason: 'stolen' },
          { 'idempotency-key': crypto.randomUUID() },
        )
      ).status,
    ).toBe(201);
    const variants = [
      { device: unregistered },
      { device: stranger },
      { device: revoked },
      { signedUserId: stranger.userId },
      { signedMessage: 'A'.repeat(96) },
      { transactionId: 'not-a-uuid' },
      { expiresInSeconds: 121 },
      { statement: 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl' },
    ];
    for (const variant of variants) {
      const txn = crypto.randomUUID();
      const started = await startTestLogin(bank, device.userId, device.password, {
        transactionId: txn,
        ...variant,
      });
      expect(started.answer.status, JSON.stringify(Object.keys(variant))).toBe(200);
      expect(started.loginId).not.toBe(txn);
      expect(await sessionRow(started.loginId)).toBeUndefined();
      expect(errorCodeOf((await finishTestLogin(bank, device, started)).answer)).toBe('BANKING_LOGIN_FAILED');
    }
    expect(await failedLogins(device.partyId)).toBe(0);
    // The same statement, well formed: counted, and the login id is its txn.
    const txn = crypto.randomUUID();
    const accepted = await startTestLogin(bank, device.userId, device.password, { transactionId: txn });
    expect(accepted.loginId).toBe(txn);
    expect(await failedLogins(device.partyId)).toBe(1);
  });

  it('a start statement is single-use: replayed, it gets a decoy, not counted', async () => {
    const device = await registerTestBankingCustomer(bank);
    const first = await startTestLogin(bank, device.userId, device.password);
    expect(first.answer.status).toBe(200);
    expect(await failedLogins(device.partyId)).toBe(1);
    // The same body again (as an eavesdropper would have it): its KE1 and statement.
    const replayed = await deviceCall(bank, '/banking/logins', {
      userId: device.userId,
      startLoginRequest: first.startLoginRequest,
      device: first.statement,
    });
    expect(replayed.status).toBe(200);
    expect(replayed.body.loginId).not.toBe(first.loginId);
    expect(await failedLogins(device.partyId)).toBe(1);
    const { rows } = await bank.database.query<{ id: string }>(
      'SELECT id FROM banking_sessions WHERE party_id = $1',
      [device.partyId],
    );
    expect(rows.map((row) => row.id)).toEqual([first.loginId]);
    // The first login goes on.
    expect((await finishTestLogin(bank, device, first)).answer.status).toBe(200);
  });

  it('device-signed starts with password guesses, never finished, are counted and block after loginFailuresMax', async () => {
    const device = await registerTestBankingCustomer(bank);
    const { loginFailuresMax } = testBankingContext(bank).banking.limits;
    // Each KE2 lets the device test one guess by itself: each signed start is a counted try.
    for (let attempt = 1; attempt < loginFailuresMax; attempt += 1) {
      const started = await startTestLogin(bank, device.userId, `guess ${attempt}`);
      expect(started.answer.status).toBe(200);
      expect(await customerRow(device.partyId)).toMatchObject({ failed_logins: attempt, blocked_at: null });
    }
    // The last allowed start (here with the right password) is answered and fills the count.
    const last = await startTestLogin(bank, device.userId, device.password);
    expect(last.answer.status).toBe(200);
    expect(await customerRow(device.partyId)).toMatchObject({
      failed_logins: loginFailuresMax,
      blocked_at: null,
    });

    // One more signed start: no KE2 (nothing to test a guess with), the customer blocked, an alert.
    const alerts = vi.spyOn(testBankingContext(bank).log, 'warn');
    const refused = await startTestLogin(bank, device.userId, 'one guess more');
    expect(alerts).toHaveBeenCalledWith(
      { alert: 'banking_login_blocked', partyId: device.partyId, failedLogins: loginFailuresMax },
      'mobile banking blocked after too many failed logins',
    );
    alerts.mockRestore();
    expect(refused.answer.status).toBe(423);
    expect(errorCodeOf(refused.answer)).toBe('BANKING_LOGIN_BLOCKED');
    expect(refused.answer.body.loginResponse).toBeUndefined();
    const row = await customerRow(device.partyId);
    expect(row.failed_logins).toBe(loginFailuresMax);
    expect(row.blocked_at).not.toBeNull();
    const { rows } = await bank.database.query<{ state: string }>(
      'SELECT state FROM banking_sessions WHERE party_id = $1',
      [device.partyId],
    );
    expect(rows.map((login) => login.state)).toEqual(Array(loginFailuresMax).fill('password_started'));

    // A login started before the block proves nothing after it, not even with the right password.
    const finished = await finishTestLogin(bank, device, last);
    expect(errorCodeOf(finished.answer)).toBe('BANKING_LOGIN_BLOCKED');
    expect(await sessionRow(last.loginId)).toMatchObject({ state: 'refused', closed_reason: 'blocked' });
    expect(bank.sms.latest(device.msisdn)).toBeUndefined();
    expect(errorCodeOf((await startTestLogin(bank, device.userId, device.password)).answer)).toBe(
      'BANKING_LOGIN_BLOCKED',
    );
    expect(await failedLogins(device.partyId)).toBe(loginFailuresMax);
  });
});

describe('a user id without a password', () => {
  it('is answered like a known one at the start, refused like a wrong password at the finish, nothing stored', async () => {
    const known = await registerTestBankingCustomer(bank);
    const passwordless = await registerTestBankingCustomer(bank, { registerPassword: false });
    const knownStart = await startTestLogin(bank, known.userId, 'guess');
    const sessionsBefore = await bank.database.query('SELECT id FROM banking_sessions');
    for (const userId of ['nobody-here', passwordless.userId]) {
      const started = await startTestLogin(bank, userId, 'guess');
      expect(started.answer.status).toBe(knownStart.answer.status);
      expect(Object.keys(started.answer.body).sort()).toEqual(Object.keys(knownStart.answer.body).sort());
      expect(String(started.answer.body.loginId)).toMatch(/^[0-9a-f-]{36}$/);
      const response = started.answer.body.loginResponse as string;
      expect(decodeBase64url(response)?.length).toBe(
        decodeBase64url(knownStart.answer.body.loginResponse as string)?.length,
      );
      const finished = await finishTestLogin(bank, { ...passwordless, userId }, started, {
        password: 'guess',
      });
      expect(finished.answer.status).toBe(401);
      expect(finished.answer.body).toEqual(
        (
          await finishTestLogin(bank, known, await startTestLogin(bank, known.userId, 'guess'), {
            password: 'guess',
          })
        ).answer.body,
      );
    }
    const sessionsAfter = await bank.database.query('SELECT id FROM banking_sessions');
    // Only the known customer's two logins were stored.
    expect(sessionsAfter.rows.length - sessionsBefore.rows.length).toBe(2);
    // The known customer's three starts were counted (once each); nothing for the passwordless one.
    expect(await failedLogins(known.partyId)).toBe(3);
    expect(await customerRow(passwordless.partyId)).toMatchObject({ failed_logins: 0, blocked_at: null });
  });

  it('answers a login id nobody started like a refused login', async () => {
    const answer = await deviceCall(bank, `/banking/logins/${crypto.randomUUID()}/finish`, {
      finishLoginRequest: encodeBase64url(new Uint8Array(64)),
      device: 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl',
    });
    expect(answer.status).toBe(401);
    expect(errorCodeOf(answer)).toBe('BANKING_LOGIN_FAILED');
  });
});

/** OPAQUE's evaluated OPRF element: the first 32 bytes of KE2 (RFC 9807 CredentialResponse), k·blinded. */
function evaluatedElement(started: { readonly answer: { readonly body: Record<string, unknown> } }): string {
  const bytes = decodeBase64url(started.answer.body.loginResponse as string);
  if (bytes === undefined) throw new Error('KE2 is base64url');
  return encodeBase64url(bytes.subarray(0, 32));
}

async function credentialIds(partyId: string) {
  const { rows } = await bank.database.query<{
    opaque_credential_id: string | null;
    opaque_pending_credential_id: string | null;
  }>('SELECT opaque_credential_id, opaque_pending_credential_id FROM banking_customers WHERE party_id = $1', [
    partyId,
  ]);
  return rows[0];
}

describe('the OPAQUE credential identifier (the per-user OPRF key)', () => {
  it('OPRF evaluations collected before the password was registered say nothing about the record', async () => {
    const device = await registerTestBankingCustomer(bank, { registerPassword: false });
    const { startLoginRequest } = await startTestLogin(bank, device.userId, 'guess');
    const probe = (options: Parameters<typeof signTestLoginStart>[3] = {}) =>
      signTestLoginStart(bank, device.userId, startLoginRequest, options).then(async (statement) => ({
        answer: await deviceCall(bank, '/banking/logins', {
          userId: device.userId,
          startLoginRequest,
          device: statement,
        }),
      }));
    // Before registration, anonymous and signed alike: the decoy key, stable per user id.
    const before = evaluatedElement(await probe({ device: 'anonymous' }));
    expect(evaluatedElement(await probe())).toBe(before);
    expect(evaluatedElement(await probe({ device: 'anonymous' }))).toBe(before);

    await registerTestPassword(bank, device);
    const ids = await credentialIds(device.partyId);
    expect(ids?.opaque_pending_credential_id).toBeNull();
    expect(ids?.opaque_credential_id).toMatch(
      new RegExp(`^${device.userId}:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
    );
    // The same KE1 now, signed: evaluated under the record's fresh identifier, another key.
    const real = evaluatedElement(await probe());
    expect(real).not.toBe(before);
    // Anonymous: still the decoy, never an evaluation under the record's key.
    expect(evaluatedElement(await probe({ device: 'anonymous' }))).toBe(before);
    expect(await failedLogins(device.partyId)).toBe(1);

    // Reset and register again: a new identifier, the old evaluations void too.
    await bank.database.query(
      `UPDATE banking_customers SET opaque_record = NULL, opaque_credential_id = NULL,
       opaque_pending_credential_id = NULL, failed_logins = 0 WHERE party_id = $1`,
      [device.partyId],
    );
    expect(evaluatedElement(await probe())).toBe(before);
    await registerTestPassword(bank, device, 'the new password');
    expect((await credentialIds(device.partyId))?.opaque_credential_id).not.toBe(ids?.opaque_credential_id);
    const again = evaluatedElement(await probe());
    expect([before, real]).not.toContain(again);
    await loginTestDevice(bank, { ...device, password: 'the new password' });
  });

  it('decoys differ between user ids and are the same for a known and an unknown one alike', async () => {
    const known = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, known.userId, 'guess', { device: 'anonymous' });
    const same = await deviceCall(bank, '/banking/logins', {
      userId: known.userId,
      startLoginRequest: started.startLoginRequest,
      device: await signTestLoginStart(bank, known.userId, started.startLoginRequest, {
        device: 'anonymous',
      }),
    });
    expect(evaluatedElement({ answer: same })).toBe(evaluatedElement(started));
    const other = await deviceCall(bank, '/banking/logins', {
      userId: 'nobody-at-all',
      startLoginRequest: started.startLoginRequest,
      device: await signTestLoginStart(bank, 'nobody-at-all', started.startLoginRequest),
    });
    expect(other.status).toBe(200);
    expect(evaluatedElement({ answer: other })).not.toBe(evaluatedElement(started));
    expect(await failedLogins(known.partyId)).toBe(0);
  });
});

describe('the SMS gateway', () => {
  it('refusing the code: SERVICE_UNAVAILABLE, the login refused and its try given back; a new login works', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    bank.sms.failing(true);
    try {
      const finished = await finishTestLogin(bank, device, started);
      expect(finished.answer.status).toBe(503);
      expect(errorCodeOf(finished.answer)).toBe('SERVICE_UNAVAILABLE');
    } finally {
      bank.sms.failing(false);
    }
    expect(await sessionRow(started.loginId)).toMatchObject({
      state: 'refused',
      closed_reason: 'sms not sent',
      code_hash: null,
      sealed_session_key: null,
    });
    // Every factor was proved: an SMS outage gives the start's try back, so it locks nobody out.
    expect(await failedLogins(device.partyId)).toBe(0);
    await loginTestDevice(bank, device);
    expect(await failedLogins(device.partyId)).toBe(0);
  });
});

describe('the request bodies', () => {
  it('are validated strictly: unknown members, malformed OPAQUE messages and ids are REQUEST_INVALID', async () => {
    const device = await registerTestBankingCustomer(bank);
    const started = await startTestLogin(bank, device.userId, device.password);
    expect(await failedLogins(device.partyId)).toBe(1);
    const bodies: [string, unknown][] = [
      ['/banking/logins', { userId: device.userId, startLoginRequest: 'AAAA', extra: 1 }],
      ['/banking/logins', { userId: device.userId, startLoginRequest: 'A'.repeat(43) }],
      [
        '/banking/logins',
        { userId: device.userId, startLoginRequest: 'A'.repeat(43), device: started.statement, extra: 1 },
      ],
      ['/banking/logins', { userId: 'UPPER', startLoginRequest: 'A'.repeat(43) }],
      ['/banking/logins', { userId: device.userId, startLoginRequest: 'A'.repeat(2049) }],
      ['/banking/logins/not-a-uuid/finish', { finishLoginRequest: 'A'.repeat(86), device: 'a.b.c' }],
      [`/banking/logins/${started.loginId}/code`, { code: 123456 }],
      [`/banking/logins/${started.loginId}/code`, { code: 'a.b.c.d.e' }],
    ];
    for (const [path, body] of bodies) {
      const answer = await deviceCall(bank, path, body);
      expect(answer.status, path).toBe(400);
    }
    // Refused before anything is counted: only the started login's try.
    expect(await failedLogins(device.partyId)).toBe(1);
  });
});
