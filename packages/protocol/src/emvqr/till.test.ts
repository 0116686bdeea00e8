import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { currencyExponents } from '../money/index.ts';
import { emvCrcOf } from './crc.ts';
import { buildEmvPayload, parseEmvPayload } from './payload.ts';
import {
  checkTillCodeTime,
  completeTillCode,
  parseTillCode,
  prepareTillCode,
  referenceLabelOf,
  type TillCodeFields,
  tillCodeLifetimeSecondsMax,
  tillSigningContext,
  transactionIdOfReferenceLabel,
} from './till.ts';
import type { EmvDataObject, EmvDataObjectInput } from './tlv.ts';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
  return 'accepted';
}

const fields: TillCodeFields = {
  merchantId: 'merkur.trade@merchant.ybank',
  amount: { currency: 'EUR', minor: 12_50n },
  transactionId: '0b6f1c1e-6f0a-4c43-9a57-3f1b0d2c9e11',
  expiresAt: new Date('2026-12-02T10:15:00Z'),
  keyId: 'K'.repeat(43),
  merchantName: 'Merkur Trade',
  merchantCity: 'Skopje',
  countryCode: 'MK',
  merchantCategoryCode: '5999',
};
/** Not a real signature (this package does no cryptography): 64 bytes' worth of base64url. */
const signature = `${'S'.repeat(85)}A`;

/** The layout, written out by hand from the specification in till.ts. */
const expectedSignedText = [
  '000201',
  '010212',
  '2643',
  '0008org.mpay',
  '0127merkur.trade@merchant.ybank',
  '52045999',
  '5303978',
  '540512.50',
  '5802MK',
  '5912Merkur Trade',
  '6006Skopje',
  '6226',
  '0522C28cHm8KTEOaVz8bDSyeEQ',
  '9077',
  '0008org.mpay',
  `0143${'K'.repeat(43)}`,
  '021420261202101500',
].join('');

function asInput(object: EmvDataObject): EmvDataObjectInput {
  return object.children === undefined
    ? { tag: object.tag, value: object.value }
    : { tag: object.tag, children: object.children.map(asInput) };
}

/** The payload's data objects (without the CRC) changed by `change`, re-encoded with a correct CRC. */
function rebuilt(payload: string, change: (objects: EmvDataObjectInput[]) => EmvDataObjectInput[]): string {
  const objects = parseEmvPayload(payload).objects.slice(0, -1).map(asInput);
  return buildEmvPayload(change(objects));
}

function replaced(objects: EmvDataObjectInput[], tag: string, value: string): EmvDataObjectInput[] {
  return objects.map((object) => (object.tag === tag ? { tag, value } : object));
}

const payload = completeTillCode(prepareTillCode(fields), signature);

describe('the till code layout', () => {
  it('is exactly the documented layout, the signature template and the CRC last', () => {
    const unsigned = prepareTillCode(fields);
    expect(unsigned.signedText).toBe(expectedSignedText);
    expect(new TextDecoder().decode(unsigned.signingInput)).toBe(
      `${tillSigningContext}${expectedSignedText}`,
    );
    const tail = `9198${'0004mpay'}0186${signature}6304`;
    expect(payload).toBe(`${expectedSignedText}${tail}${emvCrcOf(`${expectedSignedText}${tail}`)}`);
    expect(Array.from(payload).length).toBeLessThanOrEqual(512);
  });

  it('reads back every field, and what the signature must cover', () => {
    const code = parseTillCode(payload);
    expect(code).toMatchObject({ ...fields, signature, signedText: expectedSignedText, payload });
    expect(code.signingInput).toEqual(prepareTillCode(fields).signingInput);
  });

  it('is a valid EMV code for any EMV reader', () => {
    const emv = parseEmvPayload(payload);
    expect(emv).toMatchObject({
      pointOfInitiation: 'dynamic',
      currency: 'EUR',
      amount: { currency: 'EUR', minor: 1250n },
      merchantName: 'Merkur Trade',
      merchantCity: 'Skopje',
      countryCode: 'MK',
    });
    expect(emv.objects.map((object) => object.tag)).toEqual([
      '00',
      '01',
      '26',
      '52',
      '53',
      '54',
      '58',
      '59',
      '60',
      '62',
      '90',
      '91',
      '63',
    ]);
  });

  it('carries the transaction id as the base64url of its 16 bytes (EMV allows 25 characters in 62.05)', () => {
    expect(referenceLabelOf(fields.transactionId)).toBe('C28cHm8KTEOaVz8bDSyeEQ');
    expect(Buffer.from('C28cHm8KTEOaVz8bDSyeEQ', 'base64url').toString('hex')).toBe(
      fields.transactionId.replaceAll('-', ''),
    );
    fc.assert(
      fc.property(fc.uuid(), (uuid) => {
        const label = referenceLabelOf(uuid);
        expect(label).toHaveLength(22);
        expect(transactionIdOfReferenceLabel(label)).toBe(uuid);
      }),
    );
    // Unused trailing bits set, a nil UUID (no version), too short, wrong alphabet.
    for (const label of [
      'C28cHm8KTEOaVz8bDSyeEB',
      'AAAAAAAAAAAAAAAAAAAAAA',
      'C28cHm8KTEOaVz8bDSyeE',
      'C28cHm8KTEOaVz8bDSye+Q',
    ]) {
      expect(transactionIdOfReferenceLabel(label), label).toBeUndefined();
    }
  });
});

describe('what a till code may not be', () => {
  it('refuses an EMV code that is not mpay’s as QR_UNSUPPORTED (the EMVCo samples)', () => {
    const annexB =
      '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';
    expect(codeOf(() => parseTillCode(annexB))).toBe('QR_UNSUPPORTED');
  });

  it.each<[string, (objects: EmvDataObjectInput[]) => EmvDataObjectInput[]]>([
    ['without its signature', (objects) => objects.filter((object) => object.tag !== '91')],
    ['without its signature parameters', (objects) => objects.filter((object) => object.tag !== '90')],
    ['without either', (objects) => objects.filter((object) => !['90', '91'].includes(object.tag))],
    [
      'with the signature before its parameters',
      (objects) => [...objects.slice(0, -2), objects.at(-1)!, objects.at(-2)!],
    ],
    [
      'with a data object after the signature',
      (objects) => [...objects, { tag: '92', children: [{ tag: '00', value: 'x' }] }],
    ],
    [
      'with a signature one character short',
      (objects) => [
        ...objects.slice(0, -1),
        {
          tag: '91',
          children: [
            { tag: '00', value: 'mpay' },
            { tag: '01', value: signature.slice(1) },
          ],
        },
      ],
    ],
    [
      'with another GUID on the signature',
      (objects) => [
        ...objects.slice(0, -1),
        {
          tag: '91',
          children: [
            { tag: '00', value: 'mpaz' },
            { tag: '01', value: signature },
          ],
        },
      ],
    ],
    [
      'with the signature under another sub-tag',
      (objects) => [
        ...objects.slice(0, -1),
        {
          tag: '91',
          children: [
            { tag: '00', value: 'mpay' },
            { tag: '02', value: signature },
          ],
        },
      ],
    ],
    [
      'with an impossible expiry',
      (objects) =>
        objects.map((object) =>
          object.tag === '90'
            ? {
                tag: '90',
                children: [
                  { tag: '00', value: 'org.mpay' },
                  { tag: '01', value: fields.keyId },
                  { tag: '02', value: '20261302101500' },
                ],
              }
            : object,
        ),
    ],
  ])('refuses a code %s as QR_SIGNATURE_INVALID', (_, change) => {
    expect(codeOf(() => parseTillCode(rebuilt(payload, change)))).toBe('QR_SIGNATURE_INVALID');
  });

  it.each<[string, (objects: EmvDataObjectInput[]) => EmvDataObjectInput[]]>([
    ['static (many payments)', (objects) => replaced(objects, '01', '11')],
    [
      'with a tip the customer could add',
      (objects) => [...objects.slice(0, -2), { tag: '55', value: '01' }, ...objects.slice(-2)],
    ],
    ['with an amount not in canonical form', (objects) => replaced(objects, '54', '12.5')],
    ['without an amount', (objects) => objects.filter((object) => object.tag !== '54')],
    ['in a currency mpay does not support', (objects) => replaced(objects, '53', '999')],
    [
      'with a transaction id that is not a UUID',
      (objects) =>
        objects.map((object) =>
          object.tag === '62'
            ? { tag: '62', children: [{ tag: '05', value: 'AAAAAAAAAAAAAAAAAAAAAA' }] }
            : object,
        ),
    ],
    [
      'without a transaction id',
      (objects) =>
        objects.map((object) =>
          object.tag === '62' ? { tag: '62', children: [{ tag: '01', value: 'bill' }] } : object,
        ),
    ],
    [
      'naming a person as the payee',
      (objects) =>
        objects.map((object) =>
          object.tag === '26'
            ? {
                tag: '26',
                children: [
                  { tag: '00', value: 'org.mpay' },
                  { tag: '01', value: 'john.bernard@person.xbank' },
                ],
              }
            : object,
        ),
    ],
    [
      'naming the payee in upper case',
      (objects) =>
        objects.map((object) =>
          object.tag === '26'
            ? {
                tag: '26',
                children: [
                  { tag: '00', value: 'org.mpay' },
                  { tag: '01', value: 'MERKUR.TRADE@merchant.ybank' },
                ],
              }
            : object,
        ),
    ],
    [
      'with two mpay merchant accounts',
      (objects) => [
        ...objects.slice(0, 3),
        {
          tag: '27',
          children: [
            { tag: '00', value: 'org.mpay' },
            { tag: '01', value: 'other@merchant.ybank' },
          ],
        },
        ...objects.slice(3),
      ],
    ],
    ['with a merchant name that is not ASCII', (objects) => replaced(objects, '59', 'Меркур')],
  ])('refuses a code %s as QR_INVALID', (_, change) => {
    expect(codeOf(() => parseTillCode(rebuilt(payload, change)))).toBe('QR_INVALID');
  });

  it('keeps other additional data (a terminal label) inside what is signed', () => {
    const withTerminal = rebuilt(payload, (objects) =>
      objects.map((object) =>
        object.tag === '62'
          ? {
              tag: '62',
              children: [
                { tag: '05', value: referenceLabelOf(fields.transactionId) },
                { tag: '07', value: 'till-3' },
              ],
            }
          : object,
      ),
    );
    const code = parseTillCode(withTerminal);
    expect(code.signedText).toContain('0706till-3');
    expect(code.signedText).not.toBe(expectedSignedText);
  });

  it('refuses to make a code of fields it cannot carry', () => {
    const make = (change: Partial<TillCodeFields>) => codeOf(() => prepareTillCode({ ...fields, ...change }));
    expect(make({ merchantId: 'john.bernard@person.xbank' })).toBe('QR_INVALID');
    // The longest party id (106 characters) does not fit template 26 (99).
    expect(make({ merchantId: `${'m'.repeat(64)}@merchant.${'b'.repeat(32)}` })).toBe('QR_INVALID');
    expect(make({ transactionId: 'not-a-uuid' })).toBe('QR_INVALID');
    expect(make({ transactionId: fields.transactionId.toUpperCase() })).toBe('QR_INVALID');
    expect(make({ amount: { currency: 'EUR', minor: 0n } })).toBe('AMOUNT_INVALID');
    expect(make({ amount: { currency: 'EUR', minor: 100_000_000_000_000n } })).toBe('QR_INVALID');
    expect(make({ expiresAt: new Date('2026-12-02T10:15:00.500Z') })).toBe('QR_INVALID');
    expect(make({ keyId: 'short' })).toBe('QR_INVALID');
    expect(make({ merchantName: 'M'.repeat(26) })).toBe('QR_INVALID');
    expect(make({ merchantCity: '' })).toBe('QR_INVALID');
    expect(make({ countryCode: 'mk' })).toBe('QR_INVALID');
    expect(make({ merchantCategoryCode: '599' })).toBe('QR_INVALID');
    expect(codeOf(() => completeTillCode(prepareTillCode(fields), 'S'.repeat(86)))).toBe(
      'QR_SIGNATURE_INVALID',
    );
  });
});

describe('the time a till code is valid', () => {
  const at = (iso: string) => new Date(iso);
  it('accepts a code until its expiry plus the clock skew, then QR_EXPIRED', () => {
    const code = { expiresAt: fields.expiresAt };
    expect(codeOf(() => checkTillCodeTime(code, at('2026-12-02T10:10:00Z')))).toBe('accepted');
    expect(codeOf(() => checkTillCodeTime(code, at('2026-12-02T10:15:59Z')))).toBe('accepted');
    expect(codeOf(() => checkTillCodeTime(code, at('2026-12-02T10:16:00Z')))).toBe('QR_EXPIRED');
    expect(codeOf(() => checkTillCodeTime(code, at('2026-12-02T10:15:00Z'), { clockSkewSeconds: 0 }))).toBe(
      'QR_EXPIRED',
    );
  });

  it('refuses a code that claims to stay valid longer than the lifetime limit', () => {
    const code = { expiresAt: fields.expiresAt };
    const limit = tillCodeLifetimeSecondsMax + 60;
    const justInside = new Date(fields.expiresAt.getTime() - limit * 1000);
    expect(codeOf(() => checkTillCodeTime(code, justInside))).toBe('accepted');
    expect(codeOf(() => checkTillCodeTime(code, new Date(justInside.getTime() - 1000)))).toBe('QR_INVALID');
  });
});

describe('properties of till codes', () => {
  const currencies = Object.keys(currencyExponents) as (keyof typeof currencyExponents)[];
  const tillFields: fc.Arbitrary<TillCodeFields> = fc.record({
    merchantId: fc
      .stringMatching(/^[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?$/)
      .map((name) => `${name}@merchant.ybank`),
    amount: fc.record({
      currency: fc.constantFrom(...currencies),
      minor: fc.bigInt({ min: 1n, max: 999_999_999_999n }),
    }),
    transactionId: fc.uuid(),
    expiresAt: fc
      .integer({ min: 1_700_000_000, max: 4_000_000_000 })
      .map((seconds) => new Date(seconds * 1000)),
    keyId: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    merchantName: fc.stringMatching(/^[\x20-\x7e]{1,25}$/),
    merchantCity: fc.stringMatching(/^[\x20-\x7e]{1,15}$/),
    countryCode: fc.stringMatching(/^[A-Z]{2}$/),
    merchantCategoryCode: fc.stringMatching(/^[0-9]{4}$/),
  });
  const signatures = fc.stringMatching(/^[A-Za-z0-9_-]{85}[AQgw]$/);

  it('prepare → complete → parse gives back every field and the exact bytes that were signed', () => {
    fc.assert(
      fc.property(tillFields, signatures, (input, signed) => {
        const unsigned = prepareTillCode(input);
        const code = parseTillCode(completeTillCode(unsigned, signed));
        expect(code).toMatchObject({ ...input, signature: signed });
        expect(code.signingInput).toEqual(unsigned.signingInput);
      }),
      { numRuns: 300 },
    );
  });

  it('an amount, currency, payee, transaction id or expiry changed after signing changes the signed bytes', () => {
    fc.assert(
      fc.property(tillFields, tillFields, signatures, (input, other, signed) => {
        const original = completeTillCode(prepareTillCode(input), signed);
        const signingInput = parseTillCode(original).signingInput;
        for (const change of [
          { amount: other.amount },
          { merchantId: other.merchantId },
          { transactionId: other.transactionId },
          { expiresAt: other.expiresAt },
          { keyId: other.keyId },
        ]) {
          const changed = { ...input, ...change };
          // The attacker keeps the merchant's signature and fixes the CRC: only the signed bytes can tell.
          const altered = completeTillCode(prepareTillCode(changed), signed);
          if (altered === original) continue;
          expect(parseTillCode(altered).signingInput).not.toEqual(signingInput);
        }
      }),
      { numRuns: 200 },
    );
  });
});
