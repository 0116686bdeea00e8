import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../../test/vectors/path.ts';
import { isMpayError } from '../errors/index.ts';
import { currencyExponents } from '../money/index.ts';
import { crc16CcittFalse, emvCrcOf } from './crc.ts';
import { currencyNumericCodes, currencyOfNumericCode } from './currency.ts';
import { buildEmvPayload, emvPayloadLengthMax, parseEmvPayload } from './payload.ts';
import { type EmvDataObject, type EmvDataObjectInput, findDataObject } from './tlv.ts';

// EMVCo QRCPS-MPM Annex B and a public sample, copied unchanged from the shared vector store.
interface Samples {
  crc16_check: { input: string; crc: string };
  valid: { payload: string; notes: string }[];
  invalid: { payload: string; why: string }[];
}
const samples = JSON.parse(readFileSync(vectorPath('emvqr/samples.json'), 'utf8')) as Samples;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
  return 'accepted';
}

/** `body` (data objects without the CRC) with a correct CRC appended: tests the structure, not the checksum. */
function withCrc(body: string): string {
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

const tlv = (tag: string, value: string) =>
  `${tag}${String(Array.from(value).length).padStart(2, '0')}${value}`;

/** A minimal valid body: every mandatory data object once. */
const mandatory = [
  tlv('00', '01'),
  tlv('01', '12'),
  tlv('26', `${tlv('00', 'org.example')}${tlv('01', 'shop-1')}`),
  tlv('52', '5999'),
  tlv('53', '978'),
  tlv('54', '12.50'),
  tlv('58', 'MK'),
  tlv('59', 'Merkur Trade'),
  tlv('60', 'Skopje'),
];
const minimal = mandatory.join('');

describe('CRC-16/CCITT-FALSE', () => {
  it('gives the check value of the catalogue of CRCs for "123456789"', () => {
    expect(samples.crc16_check).toEqual({ input: '123456789', crc: '29B1' });
    expect(crc16CcittFalse(new TextEncoder().encode(samples.crc16_check.input))).toBe(0x29b1);
    expect(emvCrcOf(samples.crc16_check.input)).toBe('29B1');
    expect(crc16CcittFalse(new Uint8Array())).toBe(0xffff);
  });
});

describe('the EMVCo vectors', () => {
  it('has the two valid samples and three invalid ones', () => {
    expect(samples.valid).toHaveLength(2);
    expect(samples.invalid).toHaveLength(3);
  });

  it('reads the Annex B example: characters, not bytes, and every field', () => {
    const code = parseEmvPayload(samples.valid[0]!.payload);
    expect(code).toMatchObject({
      pointOfInitiation: 'dynamic',
      merchantCategoryCode: '4111',
      currencyNumeric: '156',
      currency: 'CNY',
      amountText: '23.72',
      amount: { currency: 'CNY', minor: 2372n },
      countryCode: 'CN',
      merchantName: 'BEST TRANSPORT',
      merchantCity: 'BEIJING',
      postalCode: undefined,
      crc: 'A13A',
    });
    expect(code.objects.map((object) => object.tag)).toEqual([
      '00',
      '01',
      '29',
      '31',
      '52',
      '58',
      '59',
      '60',
      '64',
      '54',
      '53',
      '55',
      '62',
      '91',
      '63',
    ]);
    expect(code.merchantAccounts.map((account) => account.children)).toEqual([
      [
        { tag: '00', value: 'D15600000000' },
        { tag: '05', value: 'A93FO3230Q' },
      ],
      [
        { tag: '00', value: 'D15600000001' },
        { tag: '03', value: '12345678' },
      ],
    ]);
    // Tag 64 holds 4 + 2 Chinese characters: its length counts them as characters (UTF-8 would be 3 bytes each).
    expect(findDataObject(code.objects, '64')?.children).toEqual([
      { tag: '00', value: 'ZH' },
      { tag: '01', value: '最佳运输' },
      { tag: '02', value: '北京' },
    ]);
    expect(code.additionalData).toEqual([
      { tag: '03', value: '1234' },
      { tag: '06', value: '***' },
      { tag: '07', value: 'A6008667' },
      { tag: '09', value: 'ME' },
    ]);
    expect(findDataObject(code.objects, '91')?.children).toEqual([
      { tag: '00', value: 'A011223344998877' },
      { tag: '07', value: '12345678' },
    ]);
  });

  it('reads the second sample: a primitive merchant account (15) and a currency without minor units', () => {
    const code = parseEmvPayload(samples.valid[1]!.payload);
    expect(code).toMatchObject({
      merchantCategoryCode: '5311',
      currency: 'JPY',
      amount: { currency: 'JPY', minor: 999n },
      countryCode: 'JP',
      merchantName: 'DONGRI',
      merchantCity: 'TOKYO',
      crc: '3FE6',
    });
    expect(code.merchantAccounts).toEqual([{ tag: '15', value: 'ABCDEF1234567890' }]);
    expect(findDataObject(code.additionalData, '05')?.value).toBe('fuga');
  });

  it.each([
    [0, 'QR_CRC_INVALID'],
    [1, 'QR_INVALID'],
    [2, 'QR_CRC_INVALID'],
  ])('refuses invalid sample %i with %s', (index, code) => {
    expect(codeOf(() => parseEmvPayload(samples.invalid[index]!.payload))).toBe(code);
  });

  it('refuses the third invalid sample for its structure too, once its CRC is made right', () => {
    // "tag 54 length says 4 but the amount changed length": with a correct CRC the structure still fails.
    const broken = samples.invalid[2]!.payload.slice(0, -8);
    expect(codeOf(() => parseEmvPayload(withCrc(broken)))).toBe('QR_INVALID');
  });
});

describe('strict parsing', () => {
  it('accepts the minimal payload and refuses each mandatory data object missing', () => {
    expect(parseEmvPayload(withCrc(minimal)).amount).toEqual({ currency: 'EUR', minor: 1250n });
    for (const [index, object] of mandatory.entries()) {
      if (['01', '54'].includes(object.slice(0, 2))) continue; // optional in EMV
      const without = mandatory.filter((_, other) => other !== index).join('');
      expect(
        codeOf(() => parseEmvPayload(withCrc(without))),
        object.slice(0, 2),
      ).toBe('QR_INVALID');
    }
  });

  it.each([
    ['a length that is not two digits', `${minimal}59A1x`],
    ['an ID that is not two digits', `${minimal}x102ab`],
    ['a value cut short', `${minimal}6510abc`],
    ['a data object cut inside its header', `${minimal}651`],
    ['an empty value', `${minimal}6500`],
    ['a duplicate ID', `${minimal}${tlv('59', 'Again')}`],
    ['a duplicate ID inside a template', `${minimal}${tlv('62', `${tlv('05', 'a')}${tlv('05', 'b')}`)}`],
    ['a template that is not a list of data objects', `${minimal}${tlv('62', 'not-tlv')}`],
    ['a nested template that is not a list', `${minimal}${tlv('62', tlv('50', 'xyz'))}`],
    ['a wrong payload format indicator', minimal.replace('000201', '000202')],
    ['the payload format indicator not first', `${mandatory.slice(1).join('')}${mandatory[0]}`],
    ['an unknown point of initiation', minimal.replace('010212', '010213')],
    ['a currency that is not three digits', minimal.replace('5303978', '5303EUR')],
    ['a country in lower case', minimal.replace('5802MK', '5802mk')],
    ['a merchant name longer than 25', minimal.replace(tlv('59', 'Merkur Trade'), tlv('59', 'M'.repeat(26)))],
    ['an amount with a sign', minimal.replace('540512.50', '5406+12.50')],
    ['an amount with leading zeros', minimal.replace('540512.50', '5406012.50')],
    ['an amount with more fraction digits than the currency has', minimal.replace('540512.50', '540612.505')],
    ['a zero amount', minimal.replace('540512.50', '54040.00')],
    ['an amount with a comma', minimal.replace('540512.50', '540512,50')],
    ['no merchant account', minimal.replace(mandatory[2]!, '')],
  ])('refuses %s (with a correct CRC) as QR_INVALID', (_, body) => {
    expect(codeOf(() => parseEmvPayload(withCrc(body)))).toBe('QR_INVALID');
  });

  it('refuses a CRC that is not a data object of its own, in lower case, or missing', () => {
    const crc = emvCrcOf(`${minimal}6304`);
    // The last 8 characters look like a CRC but belong to the value of 59.
    const swallowed = mandatory.slice(0, -2).join('') + tlv('60', 'Skopje') + tlv('59', `Merkur6304${crc}`);
    const body = swallowed.slice(0, -8);
    const fake = `${body}6304${emvCrcOf(`${body}6304`)}`;
    expect(codeOf(() => parseEmvPayload(fake))).toBe('QR_INVALID');
    // A body whose CRC has a letter in it, so that lower case differs.
    const lettered = [1, 2, 3, 4, 5, 6, 7, 8]
      .map((count) => minimal.replace(tlv('60', 'Skopje'), tlv('60', 'S'.repeat(count))))
      .find((body) => /[A-F]/.test(emvCrcOf(`${body}6304`)))!;
    expect(codeOf(() => parseEmvPayload(withCrc(lettered)))).toBe('accepted');
    expect(codeOf(() => parseEmvPayload(withCrc(lettered).toLowerCase()))).toBe('QR_INVALID');
    const lowerCrc = `${lettered}6304${emvCrcOf(`${lettered}6304`).toLowerCase()}`;
    expect(codeOf(() => parseEmvPayload(lowerCrc))).toBe('QR_INVALID');
    expect(codeOf(() => parseEmvPayload(minimal))).toBe('QR_INVALID');
    expect(codeOf(() => parseEmvPayload(`${minimal}6305${crc}0`))).toBe('QR_INVALID');
    expect(codeOf(() => parseEmvPayload(''))).toBe('QR_INVALID');
  });

  it('refuses what is not text, control characters and unpaired surrogates', () => {
    for (const value of [undefined, null, 42, {}, [minimal]]) {
      expect(codeOf(() => parseEmvPayload(value))).toBe('QR_INVALID');
    }
    for (const inserted of ['\n', '\u0000', '\u007f', '\u0085', '\ud800', '\udc00']) {
      const body = minimal.replace(tlv('60', 'Skopje'), tlv('60', `Sko${inserted}pje`));
      expect(
        codeOf(() => parseEmvPayload(withCrc(body))),
        JSON.stringify(inserted),
      ).toBe('QR_INVALID');
    }
    // A character outside the BMP (a surrogate pair) is one character.
    const emoji = minimal.replace(tlv('60', 'Skopje'), tlv('60', 'Skopje 🏔'));
    expect(parseEmvPayload(withCrc(emoji)).merchantCity).toBe('Skopje 🏔');
  });

  it('takes exactly 512 characters and refuses 513', () => {
    const room = emvPayloadLengthMax - minimal.length - 8;
    const fill = (characters: number) => {
      // Up to 99 characters per data object, in IDs reserved for future use (65–79): kept, not interpreted.
      // Each value 1–99 characters: a chunk never leaves fewer than 5 characters for the next one.
      let body = minimal;
      let left = characters;
      for (let tag = 65; left > 0; tag += 1) {
        const value = left > 103 ? Math.min(99, left - 9) : left - 4;
        body += tlv(String(tag), '北'.repeat(value));
        left -= value + 4;
      }
      return body;
    };
    const longest = withCrc(fill(room));
    expect(Array.from(longest)).toHaveLength(emvPayloadLengthMax);
    expect(findDataObject(parseEmvPayload(longest).objects, '65')?.value).toMatch(/^北+$/);
    const tooLong = withCrc(fill(room + 1));
    expect(Array.from(tooLong)).toHaveLength(emvPayloadLengthMax + 1);
    expect(() => parseEmvPayload(tooLong)).toThrow(
      expect.objectContaining({ code: 'QR_INVALID', detail: 'too long' }),
    );
    expect(codeOf(() => parseEmvPayload(`${'x'.repeat(100_000)}6304ABCD`))).toBe('QR_INVALID');
  });

  it('reads amounts in the currency exponent and keeps an unsupported currency as its number', () => {
    const amount = (text: string, numeric = '978') =>
      parseEmvPayload(
        withCrc(minimal.replace('540512.50', tlv('54', text)).replace('5303978', tlv('53', numeric))),
      ).amount;
    expect(amount('12.5')).toEqual({ currency: 'EUR', minor: 1250n });
    expect(amount('12')).toEqual({ currency: 'EUR', minor: 1200n });
    expect(amount('0.01')).toEqual({ currency: 'EUR', minor: 1n });
    expect(amount('1500', '392')).toEqual({ currency: 'JPY', minor: 1500n });
    expect(amount('1.5', '048')).toEqual({ currency: 'BHD', minor: 1500n });
    expect(amount('12.50', '999')).toBeUndefined();
    expect(codeOf(() => amount('1.5', '392'))).toBe('QR_INVALID');
    expect(codeOf(() => amount('1.'))).toBe('QR_INVALID');
    expect(codeOf(() => amount('9999999999999'))).toBe('accepted');
  });

  it('maps every supported currency to its ISO 4217 number and back', () => {
    expect(Object.keys(currencyNumericCodes).sort()).toEqual(Object.keys(currencyExponents).sort());
    const numbers = Object.values(currencyNumericCodes);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const [code, numeric] of Object.entries(currencyNumericCodes)) {
      expect(currencyOfNumericCode(numeric)).toBe(code);
    }
    expect(currencyNumericCodes.EUR).toBe('978');
    expect(currencyOfNumericCode('999')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const printable = fc.string({
  unit: fc.constantFrom(...'ABCXYZabcxyz0189 .-_/*&', '北', '京', 'é'),
  minLength: 1,
  maxLength: 20,
});

const merchantAccount: fc.Arbitrary<EmvDataObjectInput> = fc.record({
  tag: fc.integer({ min: 26, max: 51 }).map(String),
  children: fc.uniqueArray(
    fc.record({
      tag: fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0')),
      value: printable,
    }),
    { minLength: 1, maxLength: 3, selector: (child) => child.tag },
  ),
});

const payloadObjects: fc.Arbitrary<EmvDataObjectInput[]> = fc
  .record({
    account: merchantAccount,
    currency: fc.constantFrom('978', '392', '048', '840', '999'),
    amount: fc.option(fc.integer({ min: 1, max: 99_999 }).map(String), { nil: undefined }),
    name: printable.map((text) => text.slice(0, 25)),
    city: printable.map((text) => text.slice(0, 15)),
    reference: fc.option(printable, { nil: undefined }),
  })
  .map(({ account, currency, amount, name, city, reference }) => [
    { tag: '00', value: '01' },
    { tag: '01', value: '12' },
    account,
    { tag: '52', value: '5999' },
    { tag: '53', value: currency },
    ...(amount === undefined ? [] : [{ tag: '54', value: amount }]),
    { tag: '58', value: 'MK' },
    { tag: '59', value: name },
    { tag: '60', value: city },
    ...(reference === undefined ? [] : [{ tag: '62', children: [{ tag: '05', value: reference }] }]),
  ]);

/** What parse gives back, in the shape the builder takes. */
function asInput(object: EmvDataObject): EmvDataObjectInput {
  return object.children === undefined
    ? { tag: object.tag, value: object.value }
    : { tag: object.tag, children: object.children.map(asInput) };
}

describe('properties', () => {
  it('build → parse gives back every data object, in order, then the CRC', () => {
    fc.assert(
      fc.property(payloadObjects, (objects) => {
        const payload = buildEmvPayload(objects);
        const parsed = parseEmvPayload(payload);
        expect(parsed.objects.slice(0, -1).map(asInput)).toEqual(objects);
        expect(parsed.objects.at(-1)?.tag).toBe('63');
        expect(payload.endsWith(`6304${parsed.crc}`)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('any one ASCII character replaced by another is refused (a one-byte change never escapes the CRC)', () => {
    const ascii = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));
    fc.assert(
      fc.property(payloadObjects, fc.nat(), ascii, (objects, where, replacement) => {
        const characters = Array.from(buildEmvPayload(objects));
        const asciiPositions = characters.flatMap((character, index) =>
          character < '\u0080' ? [index] : [],
        );
        const position = asciiPositions[where % asciiPositions.length]!;
        fc.pre(characters[position] !== replacement);
        characters[position] = replacement;
        expect(['QR_CRC_INVALID', 'QR_INVALID']).toContain(
          codeOf(() => parseEmvPayload(characters.join(''))),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
