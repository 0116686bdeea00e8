import fc from 'fast-check';
import { amountMinorMax, type CurrencyCode, createAmount, currencyExponents } from '../money/index.ts';
import { formatPartyId, type PartyId, reservedBankNames } from '../party/index.ts';
import { defaultSecurityPolicy } from '../payment/index.ts';
import { accountNumberPattern, parseDescription } from './fields.ts';
import type { ImsJson } from './json.ts';
import type { ImsMessage } from './message.ts';

/** Test data: the example of the paper's Figure 3 in today's form, and fast-check arbitraries of valid messages. */

/** A compact JWE's shape (what the customer seals its one-time code into). */
export const sampleSealedSecondFactor = 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.Y2lwaGVy.dGFndGFndGFn';

/** The shape of sealed private fields (what the merchant seals for the customer and the banks). */
export const sampleSealedData = {
  content: 'eyJhbGciOiJkaXIifQ..aXZpdml2aXZpdg.Y29udGVudA.dGFndGFndGFn',
  customer: sampleSealedSecondFactor,
  payerBank: sampleSealedSecondFactor,
  payeeBank: sampleSealedSecondFactor,
};

export const sampleSignatures = {
  merchant: 'eyJhbGciOiJFUzI1NiJ9..bWVyY2hhbnQtc2lnbmF0dXJl',
  fsp: 'eyJhbGciOiJFUzI1NiJ9..ZnNwLXNpZ25hdHVyZQ',
  customer: 'eyJhbGciOiJFUzI1NiJ9.e30.Y3VzdG9tZXItc2lnbmF0dXJl',
};

/** A fully signed message (customer-signed stage), as the JSON wire form. */
export function sampleImsJson(): ImsJson {
  return {
    type: 'medium',
    protections: ['merchant_signature', 'fsp_countersignature', 'customer_signature', 'pin'],
    transactionId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
    procedure: 'm-commerce',
    address: {
      from: { id: 'john.bernard@person.xbank', sign: sampleSignatures.customer },
      to: { id: 'merkur.trade@merchant.xbank', sign: sampleSignatures.merchant },
      fspSign: sampleSignatures.fsp,
      timestamp: '2002-05-27T12:34:34Z',
    },
    data: {
      accountPayable: '1234-5678-9abc',
      accountReceivable: '9876-543-21de',
      amount: { currency: 'EUR', value: '1000.00' },
    },
  };
}

const base64url = (minLength: number) =>
  fc.string({
    unit: fc.constantFrom(...'ABCXYZabcxyz0189-_'.split('')),
    minLength,
    maxLength: 40,
  });
const signature = fc.tuple(base64url(1), base64url(0), base64url(1)).map((parts) => parts.join('.'));

const bankName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/)
  .filter((name) => !reservedBankNames.includes(name));
const partyName = fc.stringMatching(/^[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,6}){0,2}$/);
const partyId = (kind: 'person' | 'merchant'): fc.Arbitrary<PartyId> =>
  fc.tuple(partyName, bankName).map(([name, bank]) => formatPartyId({ kind, name, bank }));

const timestamp = fc
  .date({
    min: new Date('2000-01-01T00:00:00Z'),
    max: new Date('2099-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .chain((date) => fc.constantFrom(date.toISOString(), date.toISOString().replace(/\.[0-9]{3}Z$/, 'Z')));

const amount = fc
  .constantFrom(...(Object.keys(currencyExponents) as CurrencyCode[]))
  .chain((currency) =>
    fc.bigInt({ min: 1n, max: amountMinorMax }).map((minor) => createAmount(currency, minor)),
  );

function isDescription(text: string): boolean {
  try {
    parseDescription(text, 'description');
    return true;
  } catch {
    return false;
  }
}

/** Descriptions with the characters XML must escape, and any printable text. */
const description = fc
  .oneof(
    fc.string({
      unit: fc.constantFrom('<', '>', '&', ']]>', '"', "'", '&amp;', 'a', ' ', 'é', '😀'),
      minLength: 1,
    }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
  )
  .filter(isDescription);

/** Valid messages at every stage of the signing chain. */
export const imsMessageArbitrary: fc.Arbitrary<ImsMessage> = fc
  .record({
    type: fc.constantFrom('small', 'medium', 'large' as const),
    transactionId: fc.uuid(),
    procedure: fc.constantFrom('m-commerce', 'm-trade' as const),
    from: fc.oneof(partyId('person'), partyId('merchant')),
    to: partyId('merchant'),
    signatures: fc.tuple(signature, signature, signature),
    stage: fc.integer({ min: 0, max: 3 }),
    accounts: fc.option(
      fc.tuple(fc.stringMatching(accountNumberPattern), fc.stringMatching(accountNumberPattern)),
    ),
    timestamp,
    amount,
    description: fc.option(description),
    sealed: fc.boolean(),
    secondFactor: fc.option(fc.constantFrom(sampleSealedSecondFactor)),
  })
  .filter((r) => r.from !== r.to)
  .map((r) => {
    const [merchantSign, fspSign, customerSign] = r.signatures;
    const protections = r.stage >= 2 ? defaultSecurityPolicy.levels[r.type] : undefined;
    // At a sealing level the FSP fills in no account and the description travels sealed only.
    const sealedLevel = protections?.includes('private_data_sealed') === true;
    const accounts = sealedLevel
      ? null
      : r.stage >= 2
        ? (r.accounts ?? ['ACC-0001', 'ACC-0002'])
        : r.accounts;
    const sealed = r.sealed || (sealedLevel && r.description !== null);
    return {
      type: r.type,
      ...(protections === undefined ? {} : { protections }),
      transactionId: r.transactionId,
      procedure: r.procedure,
      address: {
        from:
          r.stage >= 3
            ? {
                id: r.from,
                sign: customerSign,
                ...(r.secondFactor === null ? {} : { secondFactor: r.secondFactor }),
              }
            : { id: r.from },
        to: r.stage >= 1 ? { id: r.to, sign: merchantSign } : { id: r.to },
        ...(r.stage >= 2 ? { fspSign } : {}),
        timestamp: r.timestamp,
      },
      data: {
        ...(accounts === null ? {} : { accountPayable: accounts[0], accountReceivable: accounts[1] }),
        amount: r.amount,
        ...(r.description === null || sealed ? {} : { description: r.description }),
        ...(sealed ? { sealed: sampleSealedData } : {}),
      },
    };
  });
