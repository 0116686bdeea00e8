import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical/index.ts';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import { createAmount } from '../money/index.ts';
import {
  createSession,
  createTranId,
  createTransactionData,
  hashTransactionData,
  type MacroMessageKind,
  macroAmountOf,
  macroMessageKinds,
  macroMessageRoutes,
  macroPartyKinds,
  parseMacroMessage,
  parsePAppRespContent,
  parseTransactionData,
  timeOfTranId,
  transactionDataOfConsent,
} from './messages.ts';
import {
  amount,
  macroMessageSamples,
  parties,
  seconds,
  sessionId,
  sha256,
  t0,
  transactionData,
  transactionDataHash,
  transactionId,
} from './scenario.test-helper.ts';

function refusal(run: () => unknown): ErrorCode | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

function failure(run: () => unknown): [ErrorCode | 'none', string | undefined] {
  try {
    run();
    return ['none', undefined];
  } catch (error) {
    if (isMpayError(error)) return [error.code, error.detail];
    throw error;
  }
}

const expiresAt = seconds(300).toISOString();

/** One valid content of every kind, for one payment (client xbank, merchant ybank). */
const samples = macroMessageSamples;

const kinds = Object.keys(samples) as MacroMessageKind[];

describe('macro message contents', () => {
  it('has one sample per kind, and every sample parses to an equal, frozen copy', () => {
    expect([...kinds].sort()).toEqual([...macroMessageKinds].sort());
    for (const kind of kinds) {
      const parsed = parseMacroMessage(samples[kind], sha256, kind);
      expect(parsed, kind).toEqual(samples[kind]);
      expect(parsed).not.toBe(samples[kind]);
      expect(Object.isFrozen(parsed)).toBe(true);
    }
  });

  it('names sender, recipient, ID_T or SID_T, the amount and the expiry in every message (hardened channels)', () => {
    for (const kind of kinds) {
      const sample: Record<string, unknown> = samples[kind];
      for (const field of ['from', 'to', 'amount', 'expiresAt'])
        expect(Object.hasOwn(sample, field), `${kind}.${field}`).toBe(true);
      // Step 1 is sent before ID_T exists: it names the client's request id instead.
      const named = [
        'transactionId',
        'sessionId',
        ...(kind === 'macro_payment_request' ? ['requestId'] : []),
      ];
      expect(
        named.some((field) => Object.hasOwn(sample, field)),
        kind,
      ).toBe(true);
    }
  });

  it('never lets one message stand for another: every kind refuses every other kind', () => {
    for (const kind of kinds)
      for (const other of kinds) {
        const code = refusal(() => parseMacroMessage({ ...samples[other], kind }, sha256));
        if (kind === other) expect(code).toBe('none');
        // FT and Pay_Ack name the same fields in opposite directions: one read as the other fails on its banks.
        else
          expect(
            ['MESSAGE_INVALID', 'PARTY_ID_INVALID', 'PAYMENT_MESSAGE_MISMATCH'],
            `${other} as ${kind}`,
          ).toContain(code);
        if (kind !== other)
          expect(
            refusal(() => parseMacroMessage(samples[other], sha256, kind)),
            `${other} as ${kind}`,
          ).toBe('MESSAGE_INVALID');
      }
    const canonical = new Set(kinds.map((kind) => canonicalize(samples[kind])));
    expect(canonical.size).toBe(kinds.length);
  });

  it('refuses an unknown field, a missing field, an inherited field and a non-object, with the field path', () => {
    for (const kind of kinds) {
      const sample: Record<string, unknown> = samples[kind];
      const extra = refusal(() => parseMacroMessage({ ...sample, note: 'x' }, sha256));
      expect(extra, kind).toBe('MESSAGE_INVALID');
      for (const field of Object.keys(sample)) {
        const { [field]: _removed, ...rest } = sample;
        expect(
          refusal(() => parseMacroMessage(rest, sha256)),
          `${kind} without ${field}`,
        ).toBe('MESSAGE_INVALID');
      }
      expect(refusal(() => parseMacroMessage(Object.create(sample), sha256))).toBe('MESSAGE_INVALID');
    }
    for (const value of [null, 'macro_pay_ack', [samples.macro_pay_ack], 42])
      expect(refusal(() => parseMacroMessage(value, sha256))).toBe('MESSAGE_INVALID');
    expect(
      failure(() =>
        parseMacroMessage({ ...samples.macro_papp_resp, merchantAccount: 'DE89370400440532013000' }, sha256),
      ),
    ).toEqual(['MESSAGE_INVALID', 'merchantAccount']);
  });

  it('checks that sender and recipient are parties of the kind the paper names, in canonical form', () => {
    for (const kind of kinds) {
      const route = macroMessageRoutes[kind];
      const wrongFrom = route.from === 'C' ? parties.merchant : parties.client;
      const wrongTo = route.to === 'C' ? parties.mpasp : parties.client;
      expect(
        refusal(() => parseMacroMessage({ ...samples[kind], from: wrongFrom }, sha256)),
        kind,
      ).toBe('PARTY_ID_INVALID');
      expect(
        refusal(() => parseMacroMessage({ ...samples[kind], to: wrongTo }, sha256)),
        kind,
      ).toBe('PARTY_ID_INVALID');
      const upper = samples[kind].from.toUpperCase();
      expect(
        refusal(() => parseMacroMessage({ ...samples[kind], from: upper }, sha256)),
        kind,
      ).toBe('PARTY_ID_INVALID');
      expect(macroPartyKinds[route.from]).toMatch(/macro_client|fsp|bank|merchant/);
    }
  });

  it("takes ID_C only as the client bank issues it (C + 12 digits + . + bank), never a person's party id", () => {
    const request = samples.macro_payment_request;
    const bankRequest = samples.macro_client_bank_request;
    for (const clientId of [
      'john.bernard@person.xbank',
      'C04291736502.xbank',
      'C0429173650281.xbank',
      'c042917365028.xbank',
      'C042917365028.',
      'C042917365028.Xbank',
      'C042917365028.xbank ',
    ]) {
      expect(
        refusal(() => parseMacroMessage({ ...request, from: clientId }, sha256)),
        clientId,
      ).toBe('PARTY_ID_INVALID');
      expect(
        refusal(() => parseMacroMessage({ ...bankRequest, clientId }, sha256)),
        clientId,
      ).toBe('PARTY_ID_INVALID');
      expect(
        refusal(() => createTranId(clientId, t0, new Uint8Array(16))),
        clientId,
      ).toBe('PARTY_ID_INVALID');
    }
    // ID_CB is the bank the client id names: the request to another bank does not match.
    expect(parseMacroMessage({ ...bankRequest, clientId: 'C000000000001.xbank' }, sha256).to).toBe('xbank');
    expect(
      failure(() => parseMacroMessage({ ...bankRequest, clientId: 'C000000000001.ybank' }, sha256)),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'to']);
  });

  it('refuses malformed amounts, ids, instants and hashes with their codes', () => {
    const papp = samples.macro_papp_resp;
    const cases: [Record<string, unknown>, ErrorCode][] = [
      [{ amount: { currency: 'EUR', value: '1250' } }, 'AMOUNT_INVALID'],
      [{ amount: { currency: 'EUR', value: 1250 } }, 'AMOUNT_INVALID'],
      [{ amount: { currency: 'XXX', value: '1250.00' } }, 'CURRENCY_INVALID'],
      [{ amount: { currency: 'EUR', value: '1250.00', minor: '125000' } }, 'MESSAGE_INVALID'],
      [{ sessionId: sessionId.toUpperCase() }, 'MESSAGE_INVALID'],
      [{ transactionId: 'not-a-uuid' }, 'MESSAGE_INVALID'],
      [{ expiresAt: '2026-12-02T10:05:00Z' }, 'MESSAGE_INVALID'],
      [{ expiresAt: '2026-02-30T10:05:00.000Z' }, 'MESSAGE_INVALID'],
      [{ transactionDataHash: transactionDataHash.toUpperCase() }, 'MESSAGE_INVALID'],
      [{ decision: 'maybe' }, 'MESSAGE_INVALID'],
    ];
    for (const [change, code] of cases)
      expect(
        refusal(() => parseMacroMessage({ ...papp, ...change }, sha256)),
        JSON.stringify(change),
      ).toBe(code);
    const question = samples.macro_challenge;
    for (const secretQuestion of ['', 'a\u0000b', 'x'.repeat(257), 'abc\u202edef'])
      expect(refusal(() => parseMacroMessage({ ...question, secretQuestion }, sha256))).toBe(
        'MESSAGE_INVALID',
      );
  });

  it('checks the fields of one message against each other: banks of the parties, T_EXP > T_iS', () => {
    const cases: [MacroMessageKind, Record<string, unknown>, string][] = [
      ['macro_challenge', { challengedAt: expiresAt }, 'challengedAt'],
      ['macro_client_bank_request', { to: parties.merchantBank }, 'to'],
      ['macro_papp_req', { from: parties.merchantBank }, 'from'],
      ['macro_papp_resp', { to: parties.merchantBank }, 'to'],
      ['macro_papp_resp', { merchantBankId: parties.clientBank }, 'merchantBankId'],
      ['macro_funds_transfer', { to: parties.clientBank }, 'to'],
      ['macro_funds_transfer', { from: parties.merchantBank }, 'from'],
      ['macro_pay_ack', { from: parties.clientBank }, 'from'],
      ['macro_pay_ack', { to: parties.merchantBank }, 'to'],
      ['macro_pay_confirm_to_merchant', { from: parties.clientBank }, 'from'],
      ['macro_pay_confirm_to_client', { from: parties.merchantBank }, 'from'],
    ];
    for (const [kind, change, field] of cases)
      expect(
        failure(() => parseMacroMessage({ ...samples[kind], ...change }, sha256)),
        `${kind} ${JSON.stringify(change)}`,
      ).toEqual(['PAYMENT_MESSAGE_MISMATCH', field]);
  });

  it("binds the consent's merchant to h(TransactionData): another merchant, date or amount does not match", () => {
    const consent = samples.macro_papp_resp;
    expect(hashTransactionData(transactionDataOfConsent(consent), sha256)).toBe(consent.transactionDataHash);
    const otherMerchant = 'other.shop@merchant.ybank';
    const changes: Record<string, unknown>[] = [
      { merchantId: otherMerchant },
      { transactionDate: seconds(1).toISOString() },
      { amount: macroAmountOf(createAmount('EUR', 1_250_01n)) },
    ];
    for (const change of changes)
      expect(
        refusal(() => parsePAppRespContent({ ...consent, ...change }, sha256)),
        JSON.stringify(change),
      ).toBe('PAYMENT_MESSAGE_MISMATCH');
  });
});

describe('TransactionData and h(TransactionData)', () => {
  it('is SHA-256 over the RFC 8785 form (vector checked with sha256sum over the canonical text)', () => {
    expect(canonicalize(transactionData)).toBe(
      '{"amount":{"currency":"EUR","value":"1250.00"},"date":"2026-12-02T10:00:00.000Z",' +
        '"kind":"macro_transaction_data","merchantBankId":"ybank","merchantId":"merkur.trade@merchant.ybank"}',
    );
    expect(transactionDataHash).toBe('57eb6091e82df907f5e048341be3283e3babca6b0e35115ec185deb4cbc1fffa');
  });

  it('does not depend on the order of the fields, and changes with every field', () => {
    const reordered = {
      merchantId: transactionData.merchantId,
      amount: { value: '1250.00', currency: 'EUR' },
      merchantBankId: transactionData.merchantBankId,
      date: transactionData.date,
      kind: 'macro_transaction_data',
    } as const;
    expect(hashTransactionData(reordered, sha256)).toBe(transactionDataHash);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 10 ** 12 }),
        fc.constantFrom('merkur.trade@merchant.ybank', 'other.shop@merchant.ybank', 'kiosk@merchant.zbank'),
        (minor, offsetMs, merchantId) => {
          const data = createTransactionData({
            date: new Date(t0.getTime() + offsetMs),
            amount: createAmount('EUR', minor),
            merchantId,
          });
          const same = minor === amount.minor && offsetMs === 0 && merchantId === parties.merchant;
          expect(hashTransactionData(data, sha256) === transactionDataHash).toBe(same);
        },
      ),
    );
  });

  it('derives ID_MB from ID_M and refuses a TransactionData that names another bank or an unknown field', () => {
    expect(transactionData.merchantBankId).toBe('ybank');
    expect(refusal(() => parseTransactionData({ ...transactionData, merchantBankId: 'xbank' }))).toBe(
      'PAYMENT_MESSAGE_MISMATCH',
    );
    expect(refusal(() => parseTransactionData({ ...transactionData, account: 'x' }))).toBe('MESSAGE_INVALID');
    expect(refusal(() => parseTransactionData({ ...transactionData, kind: 'macro_papp_resp' }))).toBe(
      'MESSAGE_INVALID',
    );
    expect(refusal(() => createTransactionData({ date: t0, amount, merchantId: parties.client }))).toBe(
      'PARTY_ID_INVALID',
    );
  });

  it('refuses a digest function that does not return 32 bytes (a programmer error)', () => {
    expect(() => hashTransactionData(transactionData, () => new Uint8Array(20))).toThrow(/assertion failed/);
  });
});

describe('ID_T = create_TranId(ID_C) and SID_T = CreateSession(ID_T)', () => {
  it('makes ID_T a UUID version 7 that carries the time of the transaction, and SID_T a version 4', () => {
    expect(transactionId).toBe('01a23632-60e8-7a5a-9a5a-5a5a5a5a5a5a');
    expect(timeOfTranId(transactionId).toISOString()).toBe(seconds(1).toISOString());
    expect(sessionId).toBe('a5a5a5a5-a5a5-45a5-a5a5-a5a5a5a5a5a5');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 2 ** 47 }),
        (random, milliseconds) => {
          const id = createTranId(parties.client, new Date(milliseconds), random);
          expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          expect(timeOfTranId(id).getTime()).toBe(milliseconds);
          const session = createSession(id, random);
          expect(session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          expect(session).not.toBe(id);
        },
      ),
    );
  });

  it('takes a client id and 16 random bytes, and refuses anything else', () => {
    expect(refusal(() => createTranId(parties.merchant, t0, new Uint8Array(16)))).toBe('PARTY_ID_INVALID');
    expect(() => createTranId(parties.client, t0, new Uint8Array(15))).toThrow(/assertion failed/);
    expect(refusal(() => createSession('not-a-uuid', new Uint8Array(16)))).toBe('MESSAGE_INVALID');
    expect(refusal(() => timeOfTranId(sessionId))).toBe('MESSAGE_INVALID');
  });
});
