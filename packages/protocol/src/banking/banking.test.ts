import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import {
  bankingLoginTable,
  bankingRequestToJson,
  createBankingLimits,
  defaultBankingLimits,
  isPhoneId,
  isSimSerial,
  luhnCheckDigit,
  luhnValid,
  maskMsisdn,
  parseBankingClientId,
  parseBankingRequest,
  parseBankingSignedRequest,
  startBankingLoginTry,
  stepBankingLogin,
} from './index.ts';

const accountId = '0b8a3c52-7f2e-4b8e-9c1d-2f4e6a8b0c1d';
// The IMEI of 3GPP TS 23.003's and Wikipedia's worked example; its check digit is 8.
const imei = '490154203237518';
const iccid = `8938501000000000${luhnCheckDigit('893850100000000')}`.slice(0, 16);

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return isMpayError(error) ? `${error.code} ${error.detail ?? ''}`.trim() : 'thrown';
  }
}

describe('ID_C (SIM + PHID + ACCID, §4.2)', () => {
  it('checks the Luhn digit of published identifiers', () => {
    expect(luhnValid(imei)).toBe(true);
    expect(luhnValid('490154203237517')).toBe(false);
    // The credit card number of ISO/IEC 7812's usual example.
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnCheckDigit('7992739871')).toBe('3');
  });

  it('accepts an ICCID of 19 digits with its check digit and an IMEI of 15', () => {
    const sim = `893850100000000001${luhnCheckDigit('893850100000000001')}`;
    expect(isSimSerial(sim)).toBe(true);
    expect(isPhoneId(imei)).toBe(true);
    expect(parseBankingClientId({ sim, phoneId: imei, accountId }, 'clientId')).toEqual({
      sim,
      phoneId: imei,
      accountId,
    });
    expect(iccid.length).toBe(16);
    expect(isSimSerial(iccid)).toBe(false);
  });

  it('refuses a wrong check digit, a member more or less, and a non-UUID account, naming the field', () => {
    const sim = `893850100000000001${luhnCheckDigit('893850100000000001')}`;
    const wrongSim = `${sim.slice(0, -1)}${(Number(sim.at(-1)) + 1) % 10}`;
    expect(codeOf(() => parseBankingClientId({ sim: wrongSim, phoneId: imei, accountId }, 'c'))).toBe(
      'MESSAGE_INVALID c.sim',
    );
    expect(codeOf(() => parseBankingClientId({ sim, phoneId: '490154203237517', accountId }, 'c'))).toBe(
      'MESSAGE_INVALID c.phoneId',
    );
    expect(codeOf(() => parseBankingClientId({ sim, phoneId: imei, accountId: 'A' }, 'c'))).toBe(
      'MESSAGE_INVALID c.accountId',
    );
    expect(codeOf(() => parseBankingClientId({ sim, phoneId: imei }, 'c'))).toBe(
      'MESSAGE_INVALID c.accountId',
    );
    expect(codeOf(() => parseBankingClientId({ sim, phoneId: imei, accountId, x: 1 }, 'c'))).toBe(
      'MESSAGE_INVALID c.x',
    );
  });
});

describe('banking requests', () => {
  it('reads each kind strictly and round-trips through its JSON form', () => {
    const transfer = parseBankingRequest({
      kind: 'transfer',
      payeeId: 'merkur.trade@merchant.ybank',
      amount: '1250',
      currency: 'EUR',
      reference: 'rent March',
    });
    expect(transfer).toEqual({
      kind: 'transfer',
      payeeId: 'merkur.trade@merchant.ybank',
      amount: 1250n,
      currency: 'EUR',
      reference: 'rent March',
    });
    expect(parseBankingRequest(bankingRequestToJson(transfer))).toEqual(transfer);
    expect(parseBankingRequest({ kind: 'statement', pageSize: 5 })).toEqual({
      kind: 'statement',
      pageSize: 5,
    });
    expect(parseBankingRequest({ kind: 'balance' })).toEqual({ kind: 'balance' });
  });

  it('refuses what a forged or careless client could send', () => {
    const base = {
      kind: 'transfer',
      payeeId: 'x@person.ybank',
      amount: '100',
      currency: 'EUR',
      reference: 'r',
    };
    expect(codeOf(() => parseBankingRequest({ ...base, amount: 100 }))).toMatch(/^MESSAGE_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, amount: '-1' }))).toMatch(/^AMOUNT_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, amount: '0' }))).toMatch(/^AMOUNT_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, payeeId: 'ybank' }))).toMatch(/^MESSAGE_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, reference: ' padded' }))).toMatch(/^MESSAGE_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, reference: 'a\u202eb' }))).toMatch(/^MESSAGE_INVALID/);
    expect(codeOf(() => parseBankingRequest({ ...base, extra: true }))).toBe('MESSAGE_INVALID request.extra');
    expect(codeOf(() => parseBankingRequest({ kind: 'balance', accountId }))).toBe(
      'MESSAGE_INVALID request.accountId',
    );
    expect(codeOf(() => parseBankingRequest({ kind: 'wire' }))).toBe('MESSAGE_INVALID request.kind');
    expect(codeOf(() => parseBankingRequest({ kind: 'statement', pageSize: 0 }))).toBe(
      'MESSAGE_INVALID request.pageSize',
    );
    expect(codeOf(() => parseBankingRequest({ kind: 'revoke_device', serial: 'abc', reason: 'bored' }))).toBe(
      'MESSAGE_INVALID request.reason',
    );
  });

  // Regression (fuzz campaign banking-request): a key nested thousands of levels deep made the size
  // check's JSON.stringify throw RangeError instead of refusing the request.
  it('refuses a renewal key nested too deep to measure, as MESSAGE_INVALID', () => {
    let deep: unknown = 'x';
    for (let level = 0; level < 20_000; level += 1) deep = { a: deep };
    const jwk = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' };
    const renewal = {
      kind: 'renew_key',
      noticeId: accountId,
      signingJwk: deep,
      encryptionJwk: jwk,
      proof: 'a.b.c',
    };
    expect(codeOf(() => parseBankingRequest(renewal))).toBe('MESSAGE_INVALID request.signingJwk');
  });

  // Regression (fuzz campaign banking-request): String() of a payee id nested thousands of arrays
  // deep threw RangeError before the type was checked.
  it('refuses a payee id that is a deeply nested array, as MESSAGE_INVALID', () => {
    let deep: unknown = null;
    for (let level = 0; level < 20_000; level += 1) deep = [deep];
    const transfer = { kind: 'transfer', payeeId: deep, amount: '1250', currency: 'EUR', reference: 'rent' };
    expect(codeOf(() => parseBankingRequest(transfer))).toBe('MESSAGE_INVALID request.payeeId');
    expect(codeOf(() => parseBankingRequest({ ...transfer, payeeId: 42 }))).toBe(
      'MESSAGE_INVALID request.payeeId',
    );
  });

  it('binds msg, ID_C and the session in the signed content, and nothing else', () => {
    const sim = `893850100000000001${luhnCheckDigit('893850100000000001')}`;
    const banking = {
      request: { kind: 'balance' },
      clientId: { sim, phoneId: imei, accountId },
      sessionId: accountId,
    };
    expect(parseBankingSignedRequest(banking).clientId.sim).toBe(sim);
    expect(codeOf(() => parseBankingSignedRequest({ ...banking, accountId }))).toBe(
      'MESSAGE_INVALID banking.accountId',
    );
    expect(codeOf(() => parseBankingSignedRequest({ request: banking.request, sessionId: accountId }))).toBe(
      'MESSAGE_INVALID banking.clientId',
    );
  });

  it('masks a phone number to its country code and last three digits', () => {
    expect(maskMsisdn('+38970123456')).toBe('+389*****456');
  });
});

describe('the login table (§4.2 multi-factor authentication)', () => {
  const limits = createBankingLimits();
  const start = { state: 'password_started' as const, codeFailures: 0, customerFailures: 0 };

  it('opens a session only after every factor, and resets the count then', () => {
    const proved = stepBankingLogin(start, { kind: 'factors_proved' }, limits);
    expect(proved.next.state).toBe('code_sent');
    expect(proved.effects).toEqual([{ kind: 'send_code' }]);
    const open = stepBankingLogin({ ...proved.next, customerFailures: 3 }, { kind: 'code_proved' }, limits);
    expect(open.next).toMatchObject({ state: 'active', customerFailures: 0 });
    expect(open.effects).toEqual([{ kind: 'reset_failures' }, { kind: 'open_session' }]);
  });

  it('ends a login after the last wrong code and blocks the customer at the fifth failure in a row', () => {
    let snapshot = stepBankingLogin(start, { kind: 'factors_proved' }, limits).next;
    for (let wrong = 1; wrong < limits.codeTriesPerLoginMax; wrong += 1) {
      snapshot = stepBankingLogin(snapshot, { kind: 'code_failed' }, limits).next;
      expect(snapshot.state).toBe('code_sent');
    }
    snapshot = stepBankingLogin(snapshot, { kind: 'code_failed' }, limits).next;
    expect(snapshot.state).toBe('refused');
    // A wrong password's try was counted when its first step was answered; the fifth blocks.
    const fifth = stepBankingLogin(
      { ...start, customerFailures: limits.loginFailuresMax },
      { kind: 'factor_failed' },
      limits,
    );
    expect(fifth.effects).toEqual([{ kind: 'block_customer' }]);
    const fourth = stepBankingLogin(
      { ...start, customerFailures: limits.loginFailuresMax - 1 },
      { kind: 'factor_failed' },
      limits,
    );
    expect(fourth).toMatchObject({ effects: [], next: { state: 'refused' } });
    const wrongCode = stepBankingLogin(
      { state: 'code_sent', codeFailures: 0, customerFailures: limits.loginFailuresMax - 1 },
      { kind: 'code_failed' },
      limits,
    );
    expect(wrongCode.effects).toEqual([{ kind: 'count_failure' }, { kind: 'block_customer' }]);
  });

  it('counts a try when the first step is answered, and answers nothing once the count is full', () => {
    expect(startBankingLoginTry(0, limits)).toEqual({ allowed: true, customerFailures: 1 });
    expect(startBankingLoginTry(limits.loginFailuresMax - 1, limits)).toEqual({
      allowed: true,
      customerFailures: limits.loginFailuresMax,
    });
    expect(startBankingLoginTry(limits.loginFailuresMax, limits)).toEqual({ allowed: false });
  });

  it('takes no event a state does not list: a code replayed after success is refused before it counts', () => {
    const active = { state: 'active' as const, codeFailures: 0, customerFailures: 0 };
    expect(() => stepBankingLogin(active, { kind: 'code_proved' }, limits)).toThrow(/assertion failed/);
    expect(() => stepBankingLogin(active, { kind: 'code_failed' }, limits)).toThrow(/assertion failed/);
    for (const [state, step] of Object.entries(bankingLoginTable)) {
      for (const next of step.next) expect(Object.keys(bankingLoginTable)).toContain(next);
      expect(state.length).toBeGreaterThan(0);
    }
  });

  it('validates its limits: codes of at least six digits, an idle time within the lifetime', () => {
    expect(codeOf(() => createBankingLimits({ codeDigits: 4 }))).toMatch(/^REQUEST_INVALID/);
    expect(
      codeOf(() => createBankingLimits({ sessionIdleSeconds: 900, sessionLifetimeSeconds: 600 })),
    ).toMatch(/^REQUEST_INVALID/);
    expect(createBankingLimits({})).toEqual(defaultBankingLimits);
  });
});
