import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptDirect, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { isPhoneId, isSimSerial, MpayError } from '@mpay/protocol';
import type { BankingSessionState } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginCodeText } from '../../../services/bank/src/banking/authentication-server/code.ts';
import { renewalNoticeText } from '../../../services/bank/src/banking/key-management-server/renewal-notices.ts';
import { type BankingCommand, parseBankingArguments, typedBankingAmount } from './banking/arguments.ts';
import { describeBankingError } from './banking/errors.ts';
import { readSessionFile, sessionPathOf, writeSessionFile } from './banking/files.ts';
import { describeBalance, describeTransfer, jsonText } from './banking/format.ts';
import { generatedPhoneId, generatedSimSerial } from './banking/identifiers.ts';
import { type BankingTerminal, passwordOf } from './banking/prompt.ts';
import { receiptTextOf } from './banking/receipts.ts';
import { loginCodeOf, renewalNoticePrefixOf } from './banking/sms.ts';
import { describeExchange, type TraceKeys } from './banking/trace.ts';
import { bankingUsage, runBankingCommand } from './banking.ts';

const account = '0b0a0000-0000-4000-8000-00000000abcd';
const known = new Map([['john.bernard@person.xbank', '0b0a0000-0000-4000-8000-000000001234']]);

function parsed(...args: string[]): BankingCommand {
  const result = parseBankingArguments(args, known);
  if (result.problem !== undefined) throw new Error(`unexpected problem: ${result.problem}`);
  return result.command;
}

function problemOf(...args: string[]): string | undefined {
  return parseBankingArguments(args, known).problem;
}

describe('parseBankingArguments', () => {
  it('reads each customer command into its typed form', () => {
    expect(parsed('balance', '--user', 'ana.k')).toEqual({
      name: 'balance',
      userId: 'ana.k',
      json: false,
      data: undefined,
    });
    expect(parsed('transfer', 'marko@person.ybank', '12.5', '--user', 'ana.k', '--json')).toMatchObject({
      name: 'transfer',
      payeeId: 'marko@person.ybank',
      amount: { currency: 'EUR', minor: 12_50n },
      reference: 'mobile banking transfer',
      json: true,
    });
    expect(parsed('pay-bill', 'city-water', 'WATER-2026-0042', '42.30', '--user=ana.k')).toMatchObject({
      name: 'pay-bill',
      billerId: 'city-water',
      customerReference: 'WATER-2026-0042',
      amount: { currency: 'EUR', minor: 42_30n },
    });
    expect(parsed('statement', '--user', 'ana.k', '--receipts', 'out', '--cursor', 'abc_123')).toMatchObject({
      name: 'statement',
      receiptsDir: 'out',
      cursor: 'abc_123',
    });
    expect(parsed('revoke', 'a1b2-c3', '--user', 'ana.k')).toMatchObject({
      serial: 'a1b2-c3',
      reason: 'lost',
    });
    expect(parsed('revoke', 'a1b2-c3', '--user', 'ana.k', '--reason', 'stolen')).toMatchObject({
      reason: 'stolen',
    });
    expect(parsed('login', '--user', 'ana.k', '--code-from-sms')).toMatchObject({
      name: 'login',
      codeFromSms: true,
    });
    expect(parsed('login', '--user', 'ana.k')).toMatchObject({ codeFromSms: false });
    expect(parsed('renew', '--user', 'ana.k', '--data', '/tmp/x')).toMatchObject({
      name: 'renew',
      data: '/tmp/x',
    });
  });

  it('reads enrol, taking SIM and IMEI only when they are well-formed', () => {
    const sim = generatedSimSerial();
    const imei = generatedPhoneId();
    expect(
      parsed(
        'enrol',
        '--user',
        'ana.k',
        '--party',
        'ana.k@person.xbank',
        '--code',
        'AB12-CD34',
        '--msisdn',
        '+38970111222',
        '--sim',
        sim,
        '--phone-id',
        imei,
      ),
    ).toMatchObject({
      name: 'enrol',
      partyId: 'ana.k@person.xbank',
      code: 'AB12-CD34',
      sim,
      phoneId: imei,
      msisdn: '+38970111222',
    });
    const wrongSim = `${sim.slice(0, -1)}${(Number(sim.at(-1)) + 1) % 10}`;
    expect(
      problemOf(
        'enrol',
        '--user',
        'ana.k',
        '--party',
        'ana.k@person.xbank',
        '--code',
        'X1',
        '--msisdn',
        '+38970111222',
        '--sim',
        wrongSim,
      ),
    ).toMatch(/^--sim ".*" is not an ICCID/);
    expect(
      problemOf(
        'enrol',
        '--user',
        'ana.k',
        '--party',
        'ana.k@person.xbank',
        '--code',
        'X1',
        '--msisdn',
        '+38970111222',
        '--phone-id',
        '12345',
      ),
    ).toMatch(/^--phone-id "12345" is not an IMEI/);
    expect(problemOf('enrol', '--user', 'ana.k', '--party', 'ana.k@person.xbank', '--code', 'X1')).toBe(
      '--msisdn +E164 is required',
    );
  });

  it("reads the operator commands, the bank defaulting to the party's and the account to the seeded one", () => {
    expect(
      parsed('customer', 'add', 'john.bernard@person.xbank', '--user', 'john', '--msisdn', '+38970123456'),
    ).toMatchObject({
      name: 'customer-add',
      bank: 'xbank',
      accountIds: ['0b0a0000-0000-4000-8000-000000001234'],
    });
    expect(
      parsed(
        'customer',
        'add',
        'ana@person.xbank',
        '--user',
        'ana.k',
        '--msisdn',
        '+38970111222',
        '--account',
        `${account},0b0a0000-0000-4000-8000-00000000abce`,
      ),
    ).toMatchObject({
      accountIds: [account, '0b0a0000-0000-4000-8000-00000000abce'],
    });
    expect(
      problemOf('customer', 'add', 'ana@person.xbank', '--user', 'ana.k', '--msisdn', '+38970111222'),
    ).toMatch(/^--account ID is required/);
    expect(parsed('code', 'ana@person.ybank', '--account', account)).toMatchObject({
      name: 'code',
      bank: 'ybank',
    });
    expect(
      parsed('biller', 'add', 'city-water', '--name', 'City Water', '--payee', 'merkur.trade@merchant.ybank'),
    ).toMatchObject({
      name: 'biller-add',
      billerId: 'city-water',
      billerName: 'City Water',
      payeeId: 'merkur.trade@merchant.ybank',
      bank: 'xbank',
    });
    expect(parsed('notice', 'serial-1', '--bank', 'ybank')).toMatchObject({
      name: 'notice',
      serial: 'serial-1',
      bank: 'ybank',
      reason: 'key renewal requested by the bank',
    });
    expect(parsed('unblock', 'ana@person.xbank')).toMatchObject({
      name: 'unblock',
      partyId: 'ana@person.xbank',
      bank: 'xbank',
    });
  });

  it('says what is wrong, and never runs a half-understood command', () => {
    expect(problemOf('fly')).toBe('unknown command "fly"');
    expect(problemOf('balance')).toBe('--user USERID is required');
    expect(problemOf('balance', '--user', 'A')).toMatch(/^--user "A" is not a user id/);
    expect(problemOf('balance', '--user', 'ana.k', '--user', 'ana.l')).toBe('--user is given twice');
    expect(problemOf('balance', '--user', 'ana.k', '--reason', 'lost')).toBe('balance takes no --reason');
    expect(problemOf('balance', '--user', 'ana.k', '--colour', 'red')).toBe('unknown option --colour');
    expect(problemOf('balance', '--user')).toBe('--user needs a value');
    expect(problemOf('balance', '--user', 'ana.k', 'extra')).toBe('unexpected "extra": expected balance');
    expect(problemOf('transfer', 'xbank', '10', '--user', 'ana.k')).toMatch(
      /^PAYEE "xbank" is not a party id|must be a person or a merchant/,
    );
    expect(problemOf('transfer', 'ana@person.xbank', '--user', 'ana.k')).toBe(
      'expected transfer PAYEE AMOUNT',
    );
    expect(problemOf('revoke', 'a1', '--user', 'ana.k', '--reason', 'bored')).toBe(
      '--reason must be lost, stolen, replaced',
    );
    expect(problemOf('pay-bill', 'city-water', ' x', '1', '--user', 'ana.k')).toMatch(/^REFERENCE /);
    expect(
      problemOf('customer', 'add', 'ana@person.xbank', '--user', 'ana.k', '--msisdn', '0701234'),
    ).toMatch(/is not an MSISDN in E\.164/);
    expect(problemOf('biller', 'add', 'City Water', '--name', 'x', '--payee', 'm@merchant.ybank')).toMatch(
      /^biller id/,
    );
    expect(problemOf('login', '--user', 'ana.k', '--json=yes')).toBe('--json takes no value');
  });

  it('is help with no command, or with help or --help', () => {
    for (const args of [[], ['help'], ['balance', '--help']]) expect(parsed(...args).name).toBe('help');
  });
});

describe('typedBankingAmount', () => {
  it("takes what a person types, at most the currency's decimals, more than zero", () => {
    expect(typedBankingAmount('12')).toEqual({ currency: 'EUR', minor: 12_00n });
    expect(typedBankingAmount('12.5')).toEqual({ currency: 'EUR', minor: 12_50n });
    expect(typedBankingAmount('0012.05')).toEqual({ currency: 'EUR', minor: 12_05n });
    expect(typedBankingAmount('1500', 'JPY')).toEqual({ currency: 'JPY', minor: 1500n });
    for (const [text, currency] of [
      ['12.505', 'EUR'],
      ['0', 'EUR'],
      ['0.00', 'EUR'],
      ['-1', 'EUR'],
      ['1e3', 'EUR'],
      ['12.5', 'JPY'],
      ['1,50', 'EUR'],
      ['', 'EUR'],
    ] as const)
      expect({
        text,
        currency,
        parsed: parseBankingArguments([
          'transfer',
          'a@person.xbank',
          text,
          '--user',
          'ana.k',
          '--currency',
          currency,
        ]).problem,
      }).toEqual({
        text,
        currency,
        parsed: expect.stringMatching(/^AMOUNT/),
      });
    expect(
      parseBankingArguments(['transfer', 'a@person.xbank', '1', '--user', 'ana.k', '--currency', 'XXQ'])
        .problem,
    ).toMatch(/^--currency "XXQ"/);
  });
});

describe('describeBankingError', () => {
  it('says what each stable code means here and what to do, with the code first', () => {
    expect(describeBankingError('BANKING_SESSION_INVALID', undefined, { userId: 'ana.k' })).toBe(
      'BANKING_SESSION_INVALID: the session has ended (expired, idle too long, or closed when a device was revoked or a key renewed): log in again with npx mpay banking login --user ana.k.',
    );
    expect(
      describeBankingError('BANKING_LOGIN_BLOCKED', undefined, { partyId: 'ana@person.xbank' }),
    ).toContain('npx mpay banking unblock ana@person.xbank');
    expect(describeBankingError('BANKING_LOGIN_FAILED', undefined)).toMatch(
      /^BANKING_LOGIN_FAILED: the login was refused: .* the bank does not say which/,
    );
    expect(describeBankingError('INSUFFICIENT_FUNDS', undefined)).toBe(
      'INSUFFICIENT_FUNDS: the account does not hold enough for this: nothing moved.',
    );
    expect(describeBankingError('LIMIT_EXCEEDED', undefined)).toMatch(
      /per-transaction or daily debit limit: nothing moved/,
    );
    expect(describeBankingError('BANKING_DEVICE_UNKNOWN', 'serial', { userId: 'ana.k' })).toBe(
      'BANKING_DEVICE_UNKNOWN: no device of this customer has that serial: npx mpay banking devices --user ana.k lists them. (serial)',
    );
  });

  it('falls back on the catalogue, then on a plain word for a code it does not know', () => {
    expect(describeBankingError('QR_EXPIRED', undefined)).toBe('QR_EXPIRED: The QR code has expired.');
    expect(describeBankingError('NOT_A_CODE', 'x')).toBe('NOT_A_CODE: unexpected error (x)');
  });
});

describe('the SMS the bank sends', () => {
  it("gives the login code of the bank's own text, and only from that bank", () => {
    const text = loginCodeText('xbank', '042917', 300);
    expect(loginCodeOf(text, 'xbank')).toBe('042917');
    expect(loginCodeOf(text, 'ybank')).toBeUndefined();
    expect(loginCodeOf(`${text.replace('xbank', 'xbank-evil')}`, 'xbank')).toBeUndefined();
    expect(loginCodeOf('xbank: your mobile banking key expires on 2027-01-01.', 'xbank')).toBeUndefined();
  });

  it("gives the notice's id prefix of the bank's renewal text", () => {
    const text = renewalNoticeText(
      'xbank',
      new Date('2027-01-01T00:00:00Z'),
      '1a2b3c4d-0000-4000-8000-000000000000',
    );
    expect(renewalNoticePrefixOf(text, 'xbank')).toBe('1a2b3c4d');
    expect(renewalNoticePrefixOf(text, 'ybank')).toBeUndefined();
    expect(loginCodeOf(text, 'xbank')).toBeUndefined();
  });
});

describe('generated identifiers', () => {
  it('are valid ICCIDs and IMEIs, and one changed digit is not', () => {
    for (let index = 0; index < 50; index += 1) {
      const sim = generatedSimSerial();
      const imei = generatedPhoneId();
      expect({ sim: isSimSerial(sim), imei: isPhoneId(imei) }).toEqual({ sim: true, imei: true });
      const last = (text: string) => `${text.slice(0, -1)}${(Number(text.at(-1)) + 1) % 10}`;
      expect({ sim: isSimSerial(last(sim)), imei: isPhoneId(last(imei)) }).toEqual({
        sim: false,
        imei: false,
      });
    }
  });
});

describe('passwordOf', () => {
  const asked: string[] = [];
  const terminal = (answers: string[], interactive = true): BankingTerminal => ({
    interactive,
    askHidden: async (question) => {
      asked.push(question);
      return answers.shift() ?? '';
    },
    ask: async () => '',
  });

  it('takes MPAY_BANKING_PASSWORD, else asks without echo on a terminal, twice for a new one', async () => {
    expect(
      await passwordOf({ MPAY_BANKING_PASSWORD: 'from the env' }, terminal([]), { choosing: true }),
    ).toBe('from the env');
    expect(await passwordOf({}, terminal(['typed secret', 'typed secret']), { choosing: true })).toBe(
      'typed secret',
    );
    await expect(passwordOf({}, terminal(['one', 'two']), { choosing: true })).rejects.toThrow(MpayError);
    expect(await passwordOf({}, terminal(['once']), { choosing: false })).toBe('once');
  });

  it('refuses to guess without a terminal', async () => {
    await expect(passwordOf({}, terminal(['never asked'], false), { choosing: false })).rejects.toMatchObject(
      {
        code: 'REQUEST_INVALID',
        detail: 'no password: set MPAY_BANKING_PASSWORD or run on a terminal to be asked',
      },
    );
  });
});

describe('files', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-banking-files-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps a session readable by its owner only, and forgets a damaged one', async () => {
    const session: BankingSessionState = {
      sessionId: '1a2b3c4d-0000-4000-8000-000000000000',
      partyId: 'ana@person.xbank',
      serial: 'serial-1',
      clientId: { sim: generatedSimSerial(), phoneId: generatedPhoneId(), accountId: account },
      expiresAt: '2026-12-03T10:00:00.000Z',
      sessionKey: Buffer.alloc(32, 7).toString('base64url'),
    };
    await writeSessionFile(dataDir, 'ana.k', session);
    const path = sessionPathOf(dataDir, 'ana.k');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'banking', 'sessions'))).mode & 0o777).toBe(0o700);
    expect(await readSessionFile(dataDir, 'ana.k')).toEqual(session);
    await writeFile(path, '{"half":');
    expect(await readSessionFile(dataDir, 'ana.k')).toBeUndefined();
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('receiptTextOf', () => {
  it('takes the receipt as the bank gave it, text or object', () => {
    expect(receiptTextOf('{"a":1}')).toBe('{"a":1}');
    expect(receiptTextOf({ a: 1 })).toBe('{"a":1}');
    expect(receiptTextOf(undefined)).toBeUndefined();
    expect(() => receiptTextOf(['x'])).toThrow(MpayError);
  });
});

describe('format', () => {
  it('prints amounts in the currency, and JSON with amounts as minor units', () => {
    const balance = { accountId: account, currency: 'EUR', balance: -12_50n, available: 0n };
    expect(describeBalance(balance)).toBe(`account ${account}: balance EUR -12.50, available EUR 0.00\n`);
    expect(JSON.parse(jsonText(balance))).toEqual({
      accountId: account,
      currency: 'EUR',
      balance: '-1250',
      available: '0',
    });
    expect(
      describeTransfer({
        orderId: 'o-1',
        state: 'refused',
        refusalCode: 'PAYEE_UNKNOWN',
        payeeId: 'marko@person.ybank',
        amount: 25_00n,
        currency: 'EUR',
        reference: 'rent\u001b[31m',
      }),
    ).toBe(
      'transfer o-1: EUR 25.00 to marko@person.ybank ("rent\uFFFD[31m"): refused by the payee\'s bank (PAYEE_UNKNOWN); the hold was released\n',
    );
  });
});

describe('describeExchange', () => {
  it('sizes both directions and names who signed and what a sealed request holds', async () => {
    const bank = await generateSigningKeyPair('ES256');
    const phone = await generateSigningKeyPair('ES256');
    const sessionId = '1a2b3c4d-0000-4000-8000-000000000000';
    const sessionKey = new Uint8Array(32).fill(9);
    const claims = {
      issuer: 'ana@person.xbank',
      audience: 'xbank',
      transactionId: sessionId,
      expiresInSeconds: 60,
    };
    const inner = await signPayload(
      { banking: { request: { kind: 'balance' }, clientId: {}, sessionId } },
      claims,
      phone.privateJwk,
    );
    const request = JSON.stringify({
      sessionId,
      request: await encryptDirect(inner, sessionKey, { kid: sessionId }),
    });
    const answerJws = await signPayload({ bankingLoginAnswer: {} }, claims, bank.privateJwk);
    const keys: TraceKeys = {
      signers: new Map([
        [bank.publicJwk.kid!, 'xbank'],
        [phone.publicJwk.kid!, 'the phone'],
      ]),
      sessionKeys: new Map([[sessionId, sessionKey]]),
      recipients: new Map(),
    };
    const lines = await describeExchange(
      {
        method: 'POST',
        path: `/banking/logins/${sessionId}/finish`,
        requestBody: request,
        status: 200,
        responseBody: JSON.stringify({ answer: answerJws }),
      },
      keys,
    );
    expect(lines[0]).toMatch(
      new RegExp(
        `^→ POST /banking/logins/1a2b3c4d…/finish ${Buffer.byteLength(request)} bytes: request JWE \\([0-9]+ bytes\\) sealed under the session key \\(dir, A256GCM, kid 1a2b3c4d-000…\\) holding a JWS \\(${inner.length} bytes\\) signed by the phone \\(ES256, kid .+\\) over \\{banking: balance request, ID_C, session\\}$`,
      ),
    );
    expect(lines[1]).toMatch(
      /^← 200 [0-9]+ bytes: answer JWS \([0-9]+ bytes\) signed by xbank \(ES256, kid .+\) over \{bankingLoginAnswer\}$/,
    );
    // Without the session key the demo says only that it is sealed; an unknown signer is said to be unknown.
    const blind = await describeExchange(
      {
        method: 'POST',
        path: '/banking/requests',
        requestBody: request,
        status: 401,
        responseBody: '{"error":{"code":"BANKING_SESSION_INVALID"}}',
      },
      { signers: new Map(), sessionKeys: new Map(), recipients: new Map() },
    );
    expect(blind[0]).toMatch(/sealed under the session key \(dir, A256GCM, kid 1a2b3c4d-000…\)$/);
    expect(blind[1]).toBe('← 401 44 bytes: refused: BANKING_SESSION_INVALID');
    const unknown = await describeExchange(
      {
        method: 'POST',
        path: '/x',
        requestBody: JSON.stringify({ answer: answerJws }),
        status: 200,
        responseBody: '',
      },
      { signers: new Map(), sessionKeys: new Map(), recipients: new Map() },
    );
    expect(unknown[0]).toContain('signed by a key the demo does not know');
  });
});

describe('runBankingCommand', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-banking-cli-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function run(args: string[]) {
    let stdout = '';
    let stderr = '';
    const status = await runBankingCommand(
      [...args, '--data', dataDir],
      { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) },
      { env: {}, terminal: { interactive: false, askHidden: async () => '', ask: async () => '' } },
    );
    return { status, stdout, stderr };
  }

  it("prints its usage (naming the private keys' file and its mode), or the problem and the usage with exit 2", async () => {
    expect(await run([])).toEqual({ status: 0, stdout: bankingUsage, stderr: '' });
    expect(bankingUsage).toContain(
      '<data>/banking/devices/U.json,\n      mode 0600: it holds the PRIVATE KEYS',
    );
    const wrong = await run(['balance']);
    expect(wrong).toMatchObject({ status: 2, stdout: '' });
    expect(wrong.stderr).toBe(`mpay banking: --user USERID is required\n\n${bankingUsage}`);
  });

  it('refuses a customer command on a device this data folder does not have, with the code and the next step', async () => {
    const result = await run(['balance', '--user', 'ana.k', '--json']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^mpay banking: KEY_UNKNOWN: The signing key is unknown\. \(no banking device of ana\.k in .* enrol it first \(npx mpay banking enrol\)\)\n$/,
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'KEY_UNKNOWN' } });
  });

  it('refuses an operator command without a running platform', async () => {
    const result = await run(['unblock', 'ana@person.xbank']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^mpay banking: SERVICE_UNAVAILABLE: .*no deployment in /);
  });
});
