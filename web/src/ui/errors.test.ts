import {
  type ErrorCategory,
  type ErrorCode,
  errorCatalogue,
  errorCategoryOf,
  MpayError,
} from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { type ErrorText, errorText, pageErrorText } from './error-text.ts';
import { describeError, PageError, type PageErrorCode } from './errors.ts';

const catalogueCodes = Object.keys(errorCatalogue) as ErrorCode[];
const pageCodes = Object.keys(pageErrorText) as PageErrorCode[];
const titleLengthMax = 60;
const adviceLengthMax = 240;

/** Words of the protocol and its machinery that a person reading a phone screen does not know. */
const internalWords = [
  'JWS',
  'JWE',
  'HSM',
  'OPAQUE',
  'nonce',
  'schema',
  'idempotency',
  'Merkle',
  'MPASP',
  'XML',
  'DTD',
  'EMV',
  'CRC',
  'canonical',
  'undefined',
  'null',
];

/** Where a text falls short of what the page may show, or undefined. */
function fault(code: string, text: ErrorText): string | undefined {
  if (text.title.trim() === '') return 'empty title';
  if (text.title.length > titleLengthMax) return `title of ${text.title.length} characters`;
  if (text.advice.trim() === '') return 'empty advice';
  if (text.advice.length > adviceLengthMax) return `advice of ${text.advice.length} characters`;
  const both = `${text.title}\n${text.advice}`.toLowerCase();
  if (both.includes(code.toLowerCase())) return 'names its code';
  const word = internalWords.find((internal) => both.includes(internal.toLowerCase()));
  if (word !== undefined) return `says "${word}"`;
  return undefined;
}

const moneyMoved = /nothing was paid|nothing was refunded|no money moved/i;

/** The catalogue codes by category, at least one of each. */
function codesOf(category: ErrorCategory): ErrorCode[] {
  return catalogueCodes.filter((code) => errorCategoryOf(code) === category);
}

describe('errorText', () => {
  it('has a title and advice for exactly the codes of the catalogue', () => {
    expect(Object.keys(errorText).sort()).toEqual([...catalogueCodes].sort());
    expect(catalogueCodes.length).toBeGreaterThan(100);
  });

  it.each(catalogueCodes)('%s reads as a person reads it', (code) => {
    expect(fault(code, errorText[code])).toBeUndefined();
  });

  it.each(pageCodes)('the page code %s reads as a person reads it', (code) => {
    expect(fault(code, pageErrorText[code])).toBeUndefined();
  });

  it('the checks refuse what they must (a test that cannot fail is a defect)', () => {
    expect(fault('X', { title: '', advice: 'a' })).toBe('empty title');
    expect(fault('X', { title: 'a'.repeat(61), advice: 'a' })).toBe('title of 61 characters');
    expect(fault('X', { title: 'a', advice: ' ' })).toBe('empty advice');
    expect(fault('X', { title: 'a', advice: 'a'.repeat(241) })).toBe('advice of 241 characters');
    expect(fault('PIN_BLOCKED', { title: 'a', advice: 'code pin_blocked' })).toBe('names its code');
    expect(fault('X', { title: 'The JWE failed', advice: 'a' })).toBe('says "JWE"');
    expect(fault('X', { title: 'a', advice: 'the nonce was reused' })).toBe('says "nonce"');
  });

  it('every retryable code says that trying again is safe', () => {
    const retryable = codesOf('retryable');
    expect(retryable.length).toBeGreaterThan(0);
    for (const code of retryable) expect(errorText[code].advice, code).toMatch(/trying again is safe/i);
  });

  it('the codes raised before any money moved say that nothing was paid', () => {
    const nothingMoved: readonly ErrorCode[] = [
      'INSUFFICIENT_FUNDS',
      'LIMIT_EXCEEDED',
      'PAYMENT_DECLINED',
      'PAYMENT_EXPIRED',
      'PAYMENT_CANCELLED',
      'PAYEE_UNKNOWN',
      'ACCOUNT_CLOSED',
      'QR_SIGNATURE_INVALID',
      'QR_EXPIRED',
      'PIN_BLOCKED',
      'SECOND_FACTOR_INVALID',
      'FUNDS_TRANSFER_EXPIRED',
      'REFUND_NOT_ALLOWED',
    ];
    for (const code of nothingMoved) expect(errorText[code].advice, code).toMatch(moneyMoved);
  });

  it('the codes where money may have moved or be held never say that nothing was paid', () => {
    const mayHaveMoved: readonly ErrorCode[] = [
      'INTERBANK_PENDING',
      'BANK_UNAVAILABLE',
      'BANK_ANSWER_INVALID',
      'BANK_APPROVAL_MISSING',
      'SERVICE_UNAVAILABLE',
      'INTERNAL',
      'PAYMENT_STATE_INVALID',
      'PAYMENT_MESSAGE_MISMATCH',
      'MESSAGE_REPLAYED',
      'IDEMPOTENCY_KEY_REUSED',
      'IDEMPOTENCY_REQUEST_IN_PROGRESS',
      'MACRO_APPROVAL_REPLAYED',
      'MACRO_PAY_ACK_INVALID',
      'BANKING_REQUEST_REPLAYED',
    ];
    for (const code of mayHaveMoved) expect(errorText[code].advice, code).not.toMatch(moneyMoved);
  });

  it('a payment request that fails to verify tells the person not to pay it', () => {
    for (const text of [errorText.CRYPTO_VERIFICATION_FAILED, pageErrorText.REQUEST_UNVERIFIED]) {
      expect(text.advice).toMatch(/do not pay it/i);
      expect(text.advice).toMatch(/merchant/i);
    }
    expect(errorText.QR_SIGNATURE_INVALID.advice).toMatch(/do not pay/i);
  });

  it('the page codes CONNECTION_LOST and QR_UNREADABLE may be retried, the others not', () => {
    const retryable = pageCodes.filter((code) => pageErrorText[code].retryable === true).sort();
    expect(retryable).toEqual(['CONNECTION_LOST', 'QR_UNREADABLE']);
  });
});

describe('describeError', () => {
  it.each([
    ['refused', 'INSUFFICIENT_FUNDS', false],
    ['retryable', 'SERVICE_UNAVAILABLE', true],
    ['final', 'PIN_BLOCKED', false],
  ] as const)('an MpayError of the %s category: %s', (category, code, retryable) => {
    expect(errorCategoryOf(code)).toBe(category);
    const described = describeError(new MpayError(code, 'a detail the page never shows'));
    expect(described).toEqual({
      code,
      title: errorText[code].title,
      advice: errorText[code].advice,
      retryable,
    });
    expect(JSON.stringify(described)).not.toContain('a detail the page never shows');
  });

  it('every catalogue code, thrown as an MpayError, is retryable exactly when its category is', () => {
    for (const code of catalogueCodes) {
      const described = describeError(new MpayError(code));
      expect(described.code, code).toBe(code);
      expect(described.title, code).toBe(errorText[code].title);
      expect(described.retryable, code).toBe(errorCategoryOf(code) === 'retryable');
    }
  });

  it('a {code} object, as a service answers, by its code', () => {
    expect(describeError({ code: 'BANK_UNAVAILABLE', message: 'The bank could not be reached.' })).toEqual({
      code: 'BANK_UNAVAILABLE',
      title: errorText.BANK_UNAVAILABLE.title,
      advice: errorText.BANK_UNAVAILABLE.advice,
      retryable: true,
    });
    expect(describeError({ code: 'QR_EXPIRED' })).toMatchObject({
      code: 'QR_EXPIRED',
      title: errorText.QR_EXPIRED.title,
      retryable: false,
    });
  });

  it('a {code} object with a code outside the catalogue is unexpected', () => {
    expect(describeError({ code: 'NOT_A_CODE' })).toMatchObject({ code: 'UNEXPECTED', retryable: false });
    expect(describeError({ code: 'toString' })).toMatchObject({ code: 'UNEXPECTED', retryable: false });
  });

  it('a TypeError (a fetch that got no answer) is a lost connection, which may be retried', () => {
    expect(describeError(new TypeError('Failed to fetch'))).toEqual({
      code: 'CONNECTION_LOST',
      title: pageErrorText.CONNECTION_LOST.title,
      advice: pageErrorText.CONNECTION_LOST.advice,
      retryable: true,
    });
  });

  it('a PageError by its page code', () => {
    expect(describeError(new PageError('RECEIPT_PROOF_FAILED'))).toEqual({
      code: 'RECEIPT_PROOF_FAILED',
      title: pageErrorText.RECEIPT_PROOF_FAILED.title,
      advice: pageErrorText.RECEIPT_PROOF_FAILED.advice,
      retryable: false,
    });
    expect(describeError(new PageError('QR_UNREADABLE'))).toMatchObject({
      code: 'QR_UNREADABLE',
      retryable: true,
    });
    expect(describeError(new PageError('REQUEST_UNVERIFIED'))).toMatchObject({
      code: 'REQUEST_UNVERIFIED',
      retryable: false,
    });
  });

  it.each([
    ['an Error', new Error('stack trace material')],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
  ])('anything else (%s) is unexpected, never its message', (_name, thrown) => {
    const described = describeError(thrown);
    expect(described).toEqual({
      code: 'UNEXPECTED',
      title: pageErrorText.UNEXPECTED.title,
      advice: pageErrorText.UNEXPECTED.advice,
      retryable: false,
    });
    expect(JSON.stringify(described)).not.toContain('stack trace material');
  });
});
