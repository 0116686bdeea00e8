import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { imsMessageArbitrary, sampleImsJson, sampleSignatures } from './arbitraries.test-helper.ts';
import { imsDescriptionLengthMax, imsSignatureLengthMax } from './fields.ts';
import { type ImsJson, imsFromJson, imsToJson, validateImsMessage } from './json.ts';
import { imsSigningStage } from './message.ts';

const sample = sampleImsJson();
const remove = Symbol('remove');

/** The sample with the value at a dotted path replaced (or removed). */
function changed(path: string, value: unknown): Record<string, unknown> {
  const json: Record<string, unknown> = structuredClone(sampleImsJson());
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let object = json;
  for (const key of keys) object = object[key] as Record<string, unknown>;
  if (value === remove) delete object[last];
  else object[last] = value;
  return json;
}

/** The error code and detail imsFromJson gives for `json`. */
function failure(json: unknown): string {
  try {
    imsFromJson(json);
  } catch (error) {
    if (isMpayError(error)) return `${error.code} ${error.detail}`;
    throw error;
  }
  return 'accepted';
}

describe('imsFromJson', () => {
  it('reads the sample into the typed model', () => {
    const message = imsFromJson(sampleImsJson());
    expect(message.data.amount).toEqual({ currency: 'EUR', minor: 100000n });
    expect(message.address.to.id).toBe('merkur.trade@merchant.xbank');
    expect(imsSigningStage(message)).toBe('customer-signed');
    expect(
      Object.isFrozen(message) && Object.isFrozen(message.address.from) && Object.isFrozen(message.data),
    ).toBe(true);
    expect(imsToJson(message)).toEqual(sampleImsJson());
  });

  it('normalises party ids to lower case', () => {
    const json = sampleImsJson();
    json.address.from.id = 'John.Bernard@person.xbank';
    expect(imsFromJson(json).address.from.id).toBe('john.bernard@person.xbank');
  });

  it.each<[string, string, unknown, string]>([
    ['unknown top-level field', 'extra', 1, 'MESSAGE_INVALID extra'],
    ['unknown nested field', 'address.from.name', 'x', 'MESSAGE_INVALID address.from.name'],
    ['missing type', 'type', remove, 'MESSAGE_INVALID type'],
    ['missing amount', 'data.amount', remove, 'MESSAGE_INVALID data.amount'],
    ['explicit undefined is not absent', 'data.description', undefined, 'MESSAGE_INVALID data.description'],
    ['null section', 'data', null, 'MESSAGE_INVALID data'],
    ['array section', 'address', [], 'MESSAGE_INVALID address'],
    ['unknown level', 'type', 'huge', 'MESSAGE_INVALID type'],
    ['level in upper case', 'type', 'MEDIUM', 'MESSAGE_INVALID type'],
    ['unknown procedure', 'procedure', 'p2p', 'MESSAGE_INVALID procedure'],
    ['upper-case UUID', 'transactionId', sample.transactionId.toUpperCase(), 'MESSAGE_INVALID transactionId'],
    ['nil UUID', 'transactionId', '00000000-0000-0000-0000-000000000000', 'MESSAGE_INVALID transactionId'],
    ['UUID in braces', 'transactionId', `{${sample.transactionId}}`, 'MESSAGE_INVALID transactionId'],
    ['paper timestamp', 'address.timestamp', '27.05.2002 12:34:34', 'MESSAGE_INVALID address.timestamp'],
    [
      'timestamp with offset',
      'address.timestamp',
      '2002-05-27T12:34:34+02:00',
      'MESSAGE_INVALID address.timestamp',
    ],
    [
      'timestamp without zone',
      'address.timestamp',
      '2002-05-27T12:34:34',
      'MESSAGE_INVALID address.timestamp',
    ],
    ['impossible date', 'address.timestamp', '2002-02-30T12:34:34Z', 'MESSAGE_INVALID address.timestamp'],
    ['hour 24', 'address.timestamp', '2002-05-27T24:00:00Z', 'MESSAGE_INVALID address.timestamp'],
    ['microseconds', 'address.timestamp', '2002-05-27T12:34:34.123456Z', 'MESSAGE_INVALID address.timestamp'],
    ['number timestamp', 'address.timestamp', 1022502874000, 'MESSAGE_INVALID address.timestamp'],
    ['bad payer id', 'address.from.id', 'john', 'MESSAGE_INVALID address.from.id'],
    ['malformed payer id', 'address.from.id', 'john@@x', 'PARTY_ID_INVALID address.from.id'],
    ['msisdn as payer', 'address.from.id', '+38970123456', 'PARTY_ID_INVALID address.from.id'],
    ['number as id', 'address.to.id', 42, 'PARTY_ID_INVALID address.to.id'],
    ['payee is a person', 'address.to.id', 'ann@person.xbank', 'MESSAGE_INVALID address.to.id'],
    ['payer is the payee', 'address.from.id', sample.address.to.id, 'MESSAGE_INVALID address.to.id'],
    ['payer is a bank', 'address.from.id', 'xbank', 'MESSAGE_INVALID address.from.id'],
    [
      'signature with spaces (Figure 3)',
      'address.to.sign',
      ' abc78dfd6fd454aabcdeehee4ead2a',
      'MESSAGE_INVALID address.to.sign',
    ],
    ['signature not JWS', 'address.fspSign', 'abc78d454aab', 'MESSAGE_INVALID address.fspSign'],
    [
      'signature too long',
      'address.fspSign',
      `a.b.${'c'.repeat(imsSignatureLengthMax)}`,
      'MESSAGE_INVALID address.fspSign',
    ],
    ['empty signature', 'address.from.sign', '', 'MESSAGE_INVALID address.from.sign'],
    ['account with space', 'data.accountPayable', '1234 5678', 'MESSAGE_INVALID data.accountPayable'],
    ['account too short', 'data.accountReceivable', 'abc', 'MESSAGE_INVALID data.accountReceivable'],
    ['account too long', 'data.accountReceivable', 'A'.repeat(37), 'MESSAGE_INVALID data.accountReceivable'],
    [
      'account with underscore',
      'data.accountReceivable',
      'ACC_1234',
      'MESSAGE_INVALID data.accountReceivable',
    ],
    ['negative amount', 'data.amount.value', '-1.00', 'AMOUNT_INVALID data.amount.value'],
    ['zero amount', 'data.amount.value', '0.00', 'AMOUNT_INVALID data.amount.value'],
    ['three fraction digits', 'data.amount.value', '1.001', 'AMOUNT_INVALID data.amount.value'],
    ['exponent', 'data.amount.value', '1e3', 'AMOUNT_INVALID data.amount.value'],
    ['amount as number', 'data.amount.value', 1000, 'AMOUNT_INVALID data.amount.value'],
    ['amount as fraction number', 'data.amount.value', 10.5, 'AMOUNT_INVALID data.amount.value'],
    [
      'amount as minor units',
      'data.amount',
      { currency: 'EUR', minor: '100000' },
      'MESSAGE_INVALID data.amount.minor',
    ],
    ['amount too large', 'data.amount.value', '99999999999999.00', 'AMOUNT_TOO_LARGE data.amount.value'],
    ['unknown currency', 'data.amount.currency', 'XXX', 'CURRENCY_INVALID data.amount.currency'],
    ['lower-case currency', 'data.amount.currency', 'eur', 'CURRENCY_INVALID data.amount.currency'],
    ['empty description', 'data.description', '', 'MESSAGE_INVALID data.description'],
    [
      'long description',
      'data.description',
      'x'.repeat(imsDescriptionLengthMax + 1),
      'MESSAGE_INVALID data.description',
    ],
    ['newline in description', 'data.description', 'a\nb', 'MESSAGE_INVALID data.description'],
    [
      'bidi override in description',
      'data.description',
      'pay \u202Eroodlaer',
      'MESSAGE_INVALID data.description',
    ],
    ['lone surrogate in description', 'data.description', 'a\uD800', 'MESSAGE_INVALID data.description'],
    ['receivable without payable', 'data.accountPayable', remove, 'MESSAGE_INVALID data.accountPayable'],
    [
      'FSP signature without accounts',
      'data',
      { amount: sample.data.amount },
      'MESSAGE_INVALID address.fspSign',
    ],
    ['FSP signature before the merchant', 'address.to.sign', remove, 'MESSAGE_INVALID address.fspSign'],
    ['customer before the FSP', 'address.fspSign', remove, 'MESSAGE_INVALID address.from.sign'],
  ])('%s', (_name, path, value, expected) => {
    expect(failure(changed(path, value))).toBe(expected);
  });

  it('rejects an own __proto__ key as an unknown field', () => {
    expect(failure(JSON.parse('{"__proto__": {}}'))).toBe('MESSAGE_INVALID __proto__');
    const json = changed('data.description', 'x');
    const data = json.data as Record<string, unknown>;
    Object.defineProperty(data, '__proto__', { value: {}, enumerable: true });
    expect(failure(json)).toBe('MESSAGE_INVALID data.__proto__');
  });

  it('rejects values that are not objects at all', () => {
    for (const value of [null, undefined, 'x', 1, [], new Date(), new Map()]) {
      expect(() => imsFromJson(value)).toThrow(expect.objectContaining({ code: 'MESSAGE_INVALID' }));
    }
  });

  it('accepts the earlier stages of the signing chain', () => {
    const json: ImsJson = sampleImsJson();
    delete json.address.from.sign;
    expect(imsSigningStage(imsFromJson(json))).toBe('fsp-signed');
    delete json.data.accountReceivable;
    expect(imsSigningStage(imsFromJson(json))).toBe('fsp-signed');
    delete json.address.fspSign;
    expect(imsSigningStage(imsFromJson(json))).toBe('merchant-signed');
    delete json.data.accountPayable;
    delete json.data.accountReceivable;
    delete json.address.to.sign;
    expect(() => imsFromJson(json)).toThrow(expect.objectContaining({ detail: 'protections' }));
    delete json.protections;
    expect(imsSigningStage(imsFromJson(json))).toBe('unsigned');
    expect(
      imsFromJson({ ...json, address: { ...json.address, timestamp: '2002-05-27T12:34:34.120Z' } }),
    ).toBeTruthy();
    expect(sampleSignatures.customer).toContain('.e30.');
  });
});

describe('imsToJson and validateImsMessage', () => {
  it('refuses a model built in code that breaks the rules', () => {
    const message = imsFromJson(sampleImsJson());
    const negative = {
      ...message,
      data: { ...message.data, amount: { currency: 'EUR' as const, minor: -1n } },
    };
    expect(() => imsToJson(negative)).toThrow(expect.objectContaining({ code: 'AMOUNT_INVALID' }));
    const unsigned = { ...message, address: { ...message.address, fspSign: undefined } };
    expect(() => validateImsMessage(unsigned)).toThrow(expect.objectContaining({ code: 'MESSAGE_INVALID' }));
  });

  it('a message imsFromJson built is valid as it is: returned itself, and frozen at every level, so it cannot change', () => {
    const deepFrozen = (value: unknown): boolean =>
      typeof value !== 'object' ||
      value === null ||
      (Object.isFrozen(value) && Object.values(value).every((member) => deepFrozen(member)));
    fc.assert(
      fc.property(imsMessageArbitrary, (built) => {
        // A model built in code is checked (a new, frozen message); the parsed one is taken as it is.
        const parsed = validateImsMessage(built);
        expect(validateImsMessage(parsed)).toBe(parsed);
        expect(deepFrozen(parsed)).toBe(true);
        expect(imsToJson(parsed)).toEqual(imsToJson(built));
      }),
      { numRuns: 100 },
    );
    // A copy of a parsed message is a new object: checked again.
    const message = imsFromJson(sampleImsJson());
    const copied = { ...message, address: { ...message.address, fspSign: undefined } };
    expect(() => validateImsMessage(copied)).toThrow(expect.objectContaining({ code: 'MESSAGE_INVALID' }));
  });

  it('property: model → JSON → model is the identity, and the JSON survives JSON.stringify', () => {
    fc.assert(
      fc.property(imsMessageArbitrary, (message) => {
        const json = imsToJson(message);
        expect(imsFromJson(json)).toEqual(message);
        expect(imsFromJson(JSON.parse(JSON.stringify(json)))).toEqual(message);
      }),
      { numRuns: 300 },
    );
  });
});
