import { readFileSync } from 'node:fs';
import {
  bankingRequestToJson,
  canonicalize,
  checkTillCodeTime,
  completeTillCode,
  createAmount,
  currencyExponents,
  emvAmountOf,
  emvCrcOf,
  formatDecimalAmount,
  imsFromJson,
  imsFromXml,
  imsPrivateDataFromJson,
  imsPrivateDataFromText,
  imsPrivateDataToText,
  imsToJson,
  imsToXml,
  luhnCheckDigit,
  MpayError,
  parseBankingAnswerContent,
  parseBankingClientId,
  parseBankingCodeContent,
  parseBankingDeviceContent,
  parseBankingLoginContent,
  parseBankingLoginStartContent,
  parseBankingPasswordContent,
  parseBankingRequest,
  parseBankingSignedRequest,
  parseCompactReceipt,
  parseCurrencyCode,
  parseDecimalAmount,
  parseEmvPayload,
  parseMacroChannelConfirmation,
  parseMacroClientIdContent,
  parseMacroMessage,
  parseMacroPaymentRequestBody,
  parseMacroPaymentStatus,
  parseMacroRegistration,
  parseMinorUnits,
  parseMsisdn,
  parsePartyId,
  parsePushSignatureClaims,
  parseSecretAnswer,
  parseTillCode,
  parseTransactionData,
  prepareTillCode,
} from '@mpay/protocol';
import fc from 'fast-check';
import {
  imsMessageArbitrary,
  sampleImsJson,
} from '../../packages/protocol/src/ims/arbitraries.test-helper.ts';
import {
  amount,
  parties,
  sha256,
  transactionData,
} from '../../packages/protocol/src/macro/scenario.test-helper.ts';
import { type Campaign, campaign } from '../harness.ts';
import { arbitraryText, type Json, jsonInputs, mutatedText, textInputs } from '../mutate.ts';
import { macroSamples } from './macro-samples.ts';

/** A few hundred valid iMS messages at every stage of the signing chain, always the same ones. */
function imsSeeds() {
  return [...fc.sample(imsMessageArbitrary, { numRuns: 40, seed: 13 }), imsFromJson(sampleImsJson())];
}

const xmlTokens = [
  '<iMS>',
  '</iMS>',
  '<address>',
  '</address>',
  '<from>',
  '</from>',
  '<data>',
  '<amount>',
  '</amount>',
  '<sealed>',
  '<protections>',
  '<description>',
  '</description>',
  '<sign/>',
  '<a b="c">',
  '&quot;',
  '&apos;',
  '&#x41;',
  '&#65;',
  '&#xD800;',
  'EUR',
  'JPY',
];

const imsXml = campaign(
  'ims-xml',
  'imsFromXml (parseXmlDocument, then the iMS schema and imsFromJson)',
  async () => {
    const seeds = imsSeeds().map((message) => imsToXml(message));
    return {
      arbitrary: textInputs(seeds, {
        tokens: xmlTokens,
        nestPairs: [
          ['<a>', '</a>'],
          ['<data>', '</data>'],
          ['<![CDATA[', ']]>'],
          ['<!--', '-->'],
        ],
      }),
      run: (text: string) => imsFromXml(text),
    };
  },
);

const imsJsonTokens = [
  'small',
  'medium',
  'large',
  'm-commerce',
  'm-trade',
  'pin',
  'EUR',
  '1000.00',
  'person',
  'merchant',
];

const imsJson = campaign(
  'ims-json',
  'imsFromJson on JSON values (structural and text mutations of valid messages)',
  async () => {
    const seeds = imsSeeds().map((message) => imsToJson(message) as unknown as Json);
    return { arbitrary: jsonInputs(seeds, imsJsonTokens), run: (value: Json) => imsFromJson(value) };
  },
);

const imsPushClaims = campaign(
  'ims-push-claims',
  'parsePushSignatureClaims (push/v2: the claims beside the detached merchant and FSP signatures)',
  async () => {
    const claims = { iat: 1_796_362_243, exp: 1_796_362_543, nonce: 'R2rpXm2rD2ORDmx-D0vkwA' };
    const seeds: Json[] = [{ merchant: claims, fsp: { ...claims, nonce: 'hTwHi06Oq9-sQ9554GpMUg' } }];
    return {
      arbitrary: jsonInputs(seeds, ['iat', 'exp', 'nonce', 'merchant', 'fsp']),
      run: (value: Json) => parsePushSignatureClaims(value),
    };
  },
);

const imsCompactReceipt = campaign(
  'ims-compact-receipt',
  "parseCompactReceipt (receipt/v2: the FSP's detached receipt signature, its claims, the members the payer cannot derive)",
  async () => {
    const seeds: Json[] = [
      {
        sign: 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImZzcCIsInR5cCI6Im1wYXkrandzIn0..c2lnbmF0dXJlLW9mLXRoZS1mc3A',
        claims: { iat: 1_796_362_243, exp: 1_796_448_643, nonce: 'R2rpXm2rD2ORDmx-D0vkwA' },
        receipt: {
          bankTransferId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
          customerSignature: 'Y3VzdG9tZXItc2lnbmF0dXJl',
          bankAnswer: 'YmFuay1hbnN3ZXI',
          completedAt: '2026-12-04T10:30:00.000Z',
        },
      },
    ];
    return {
      arbitrary: jsonInputs(seeds, [
        'sign',
        'claims',
        'receipt',
        'iat',
        'exp',
        'nonce',
        'bankAnswer',
        'paymentId',
      ]),
      run: (value: Json) => parseCompactReceipt(value),
    };
  },
);

const imsPrivate = campaign(
  'ims-private-data',
  'imsPrivateDataFromText (the opened sealed private fields) and imsPrivateDataFromJson',
  async () => {
    const transactionId = '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d';
    const seeds = [
      imsPrivateDataToText({ transactionId, description: 'Two tickets, row 7 \u00e9 <&>' }),
      imsPrivateDataToText({
        transactionId,
        orderLines: [
          { name: 'Coffee', quantity: 2, unitAmount: createAmount('EUR', 350n) },
          { name: 'Cake \u{1f370}', quantity: 1, unitAmount: createAmount('EUR', 425n) },
        ],
      }),
    ];
    const values = seeds.map((text) => JSON.parse(text) as Json);
    return {
      arbitrary: fc.oneof(
        textInputs(seeds).map((text) => ({ text })),
        jsonInputs(values).map((value) => ({ value })),
      ),
      run: (input: { text: string } | { value: Json }) =>
        'text' in input ? imsPrivateDataFromText(input.text) : imsPrivateDataFromJson(input.value),
    };
  },
);

const canonicalJson = campaign(
  'canonical-json',
  'canonicalize (RFC 8785) of any JSON a body parses to: depth limit, numbers, strings, __proto__ keys',
  async () => {
    const seeds = [
      '{"b":[1,2.5,-0,1e21,"x"],"a":{"\\u00e9":null,"__proto__":true},"c":"\\ud83d\\ude00"}',
      JSON.stringify(sampleImsJson()),
      '[[[[[[[[[[[[]]]]]]]]]]]]',
      '{"n":123456789012345678901234567890,"m":5e-324,"k":1.7976931348623157e308}',
    ];
    return {
      arbitrary: fc.oneof(
        textInputs(seeds, {
          nestPairs: [
            ['[', ']'],
            ['{"a":', '}'],
          ],
        }).map((text) => ({ text })),
        jsonInputs(seeds.map((text) => JSON.parse(text) as Json)).map((value) => ({ value })),
      ),
      run: (input: { text: string } | { value: Json }) => {
        if ('value' in input) return canonicalize(input.value);
        let value: unknown;
        try {
          value = JSON.parse(input.text);
        } catch {
          return undefined; // Not JSON: the caller refuses it before canonicalizing.
        }
        return canonicalize(value);
      },
    };
  },
);

const currencies = Object.keys(currencyExponents);

const amountDecimal = campaign(
  'amount-decimal',
  'parseDecimalAmount, parseMinorUnits, parseCurrencyCode, emvAmountOf, formatDecimalAmount of what parsed',
  async () => {
    const seeds = ['1000.00', '0.01', '1', '12', '999999999999999.99', '1250', '0', '1.5', '100'];
    const currency = fc.oneof(fc.constantFrom(...currencies), arbitraryText([], 6));
    return {
      arbitrary: fc.record({
        text: textInputs(seeds, { tokens: ['.', '00', '-', '+', 'e', ','] }),
        currency,
      }),
      run: ({ text, currency }: { text: string; currency: string }) => {
        for (const parse of [
          () => formatDecimalAmount(parseDecimalAmount(text, currency)),
          () => parseMinorUnits(text),
          () => parseCurrencyCode(currency),
          () => emvAmountOf(text, parseCurrencyCode(currency)),
        ]) {
          try {
            parse();
          } catch (error) {
            if (!(error instanceof MpayError)) throw error;
          }
        }
      },
    };
  },
);

const partyIds = campaign('party-id', 'parsePartyId, parseMsisdn, parseBankingClientId', async () => {
  const seeds = [
    'john.bernard@person.xbank',
    'merkur.trade@merchant.ybank',
    'xbank',
    'fsp.mpay',
    'C042917365028.xbank',
    '+38970123456',
    '38970123456',
  ];
  const sim = `893850100000000001${luhnCheckDigit('893850100000000001')}`;
  const clientIds: Json[] = [
    { sim, phoneId: '490154203237518', accountId: '0a1b2c3d-0000-4000-8000-000000000001' },
  ];
  return {
    arbitrary: fc.oneof(
      textInputs(seeds, { tokens: ['@', '.', 'person', 'merchant', 'bank', '+', '00'] }).map((text) => ({
        text,
      })),
      jsonInputs(clientIds).map((value) => ({ value })),
    ),
    run: (input: { text: string } | { value: Json }) => {
      if ('value' in input) return parseBankingClientId(input.value, 'clientId');
      try {
        parsePartyId(input.text);
      } catch (error) {
        if (!(error instanceof MpayError)) throw error;
      }
      return parseMsisdn(input.text);
    },
  };
});

interface EmvSamples {
  valid: { payload: string }[];
  invalid: { payload: string }[];
}

/** `body` (everything before the CRC) with a correct CRC, so a mutation gets past the checksum. */
function withCrc(payload: string): string {
  const body = payload.replace(/6304[0-9A-Fa-f]{0,4}$/, '');
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

const emvTokens = [
  '6304',
  '0002',
  '000201',
  '010212',
  '5303978',
  '5406',
  '5802',
  '5910',
  '6010',
  '62',
  '26',
  '80',
  '81',
];

const emvQr = campaign('emv-qr', 'parseEmvPayload (EMV merchant-presented QR, TLV and CRC)', async () => {
  const samples = JSON.parse(
    readFileSync(new URL('../../test/vectors/emvqr/samples.json', import.meta.url), 'utf8'),
  ) as EmvSamples;
  const seeds = [...samples.valid, ...samples.invalid].map((sample) => sample.payload);
  return {
    arbitrary: fc.oneof(
      textInputs(seeds, { tokens: emvTokens }),
      mutatedText(seeds, { tokens: emvTokens }).map(withCrc),
    ),
    run: (text: string) => parseEmvPayload(text),
  };
});

const tillQr = campaign(
  'till-qr',
  'parseTillCode (mpay till code: EMV layout, signature templates, reference label, expiry) and checkTillCodeTime',
  async () => {
    const now = new Date('2026-12-02T10:00:00.000Z');
    const signature = `${'Ab9_-'.repeat(17)}A`;
    const seeds = ['EUR', 'JPY', 'MKD'].map((currency, index) =>
      completeTillCode(
        prepareTillCode({
          merchantId: 'merkur.trade@merchant.ybank',
          amount: createAmount(currency, 1_250n + BigInt(index)),
          transactionId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
          expiresAt: new Date(now.getTime() + 300_000),
          keyId: 'k'.repeat(43),
          merchantName: 'Merkur Trade',
          merchantCity: 'Skopje',
          countryCode: 'MK',
          merchantCategoryCode: '5411',
        }),
        signature,
      ),
    );
    return {
      arbitrary: fc.oneof(
        textInputs(seeds, { tokens: emvTokens }),
        mutatedText(seeds, { tokens: emvTokens }).map(withCrc),
      ),
      run: (text: string) => checkTillCodeTime(parseTillCode(text), now),
    };
  },
);

const bankingRequest = campaign(
  'banking-request',
  'parseBankingSignedRequest, parseBankingRequest and the banking content parsers (answer, login, login start, code, device, password)',
  async () => {
    const accountId = '0a1b2c3d-0000-4000-8000-000000000001';
    const sim = `893850100000000001${luhnCheckDigit('893850100000000001')}`;
    const clientId = { sim, phoneId: '490154203237518', accountId };
    const requests: Json[] = [
      bankingRequestToJson({
        kind: 'transfer',
        payeeId: 'merkur.trade@merchant.ybank',
        amount: 1250n,
        currency: 'EUR',
        reference: 'rent March',
      }) as Json,
      { kind: 'bill_payment', billerId: 'evn', customerReference: '1234567', amount: '990', currency: 'EUR' },
      { kind: 'statement', cursor: 'abc', pageSize: 5 },
      { kind: 'balance' },
      { kind: 'revoke_device', serial: 'kb-000001', reason: 'lost' },
      {
        kind: 'renew_key',
        noticeId: accountId,
        signingJwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' },
        encryptionJwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' },
        proof: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
      },
    ];
    const seeds: Json[] = [
      ...requests.map((request) => ({ request, clientId, sessionId: accountId })),
      ...requests,
      { code: '123456' },
      { password: 'correct horse battery staple' },
      { deviceId: 'phone-1' },
    ];
    const parsers = [
      (value: unknown) => parseBankingSignedRequest(value),
      (value: unknown) => parseBankingRequest(value),
      (value: unknown) => parseBankingAnswerContent(value),
      (value: unknown) => parseBankingLoginContent(value),
      (value: unknown) => parseBankingLoginStartContent(value),
      (value: unknown) => parseBankingCodeContent(value, 6),
      (value: unknown) => parseBankingDeviceContent(value),
      (value: unknown) => parseBankingPasswordContent(value),
    ];
    return {
      arbitrary: fc.record({ parser: fc.nat({ max: parsers.length - 1 }), value: jsonInputs(seeds) }),
      run: ({ parser, value }: { parser: number; value: Json }) => parsers[parser]?.(value),
    };
  },
);

const macroMessages = campaign(
  'macro-messages',
  'parseMacroMessage (all 13 kinds), parseTransactionData, parseMacroPaymentRequestBody, parseMacroPaymentStatus, parseMacroRegistration, parseMacroClientIdContent, parseMacroChannelConfirmation, parseSecretAnswer',
  async () => {
    const seeds: Json[] = [
      ...(Object.values(macroSamples) as unknown as Json[]),
      transactionData as unknown as Json,
      { amount: amount.minor.toString(), clientId: parties.client },
    ];
    const parsers = [
      (value: unknown) => parseMacroMessage(value, sha256),
      (value: unknown) => parseTransactionData(value),
      (value: unknown) => parseMacroPaymentRequestBody(value),
      (value: unknown) => parseMacroPaymentStatus(value),
      (value: unknown) => parseMacroRegistration(value),
      (value: unknown) => parseMacroClientIdContent(value),
      (value: unknown) => parseMacroChannelConfirmation(value),
      (value: unknown) => parseSecretAnswer(value),
    ];
    return {
      arbitrary: fc.record({
        // The message parser most often: it has the seeds.
        parser: fc.oneof(
          { weight: 6, arbitrary: fc.constant(0) },
          { weight: 3, arbitrary: fc.nat({ max: parsers.length - 1 }) },
        ),
        value: jsonInputs(seeds, ['macro_pay_ack', 'xbank', 'ybank', 'fsp.mpay', 'EUR', '1250.00']),
      }),
      run: ({ parser, value }: { parser: number; value: Json }) => parsers[parser]?.(value),
    };
  },
);

export const protocolCampaigns: readonly Campaign[] = [
  imsXml,
  imsJson,
  imsPushClaims,
  imsCompactReceipt,
  imsPrivate,
  canonicalJson,
  amountDecimal,
  partyIds,
  emvQr,
  tillQr,
  bankingRequest,
  macroMessages,
];
