import { describe, expect, it } from 'vitest';
import {
  type ErrorCategory,
  type ErrorCode,
  errorCatalogue,
  errorCategoryOf,
  errorMessageOf,
  isErrorCode,
} from './catalogue.ts';
import { MpayError } from './mpay-error.ts';

const categories: readonly ErrorCategory[] = ['refused', 'retryable', 'final'];
const codes = Object.keys(errorCatalogue) as ErrorCode[];

describe('the error catalogue', () => {
  it('gives every code a message and one of the three categories', () => {
    expect(codes.length).toBeGreaterThan(90);
    for (const code of codes) {
      expect(isErrorCode(code)).toBe(true);
      expect(categories, code).toContain(errorCategoryOf(code));
      expect(errorMessageOf(code), code).toMatch(/^\S.*\.$/);
    }
  });

  it.each<[ErrorCategory, ErrorCode[]]>([
    [
      'refused',
      [
        'INSUFFICIENT_FUNDS',
        'LIMIT_EXCEEDED',
        'ACCOUNT_CLOSED',
        'ACCOUNT_UNKNOWN',
        'CURRENCY_MISMATCH',
        'AMOUNT_INVALID',
        'FUNDS_TRANSFER_EXPIRED',
        'PAYMENT_DECLINED',
        'PAYEE_UNKNOWN',
        'CUSTOMER_AUTHORISATION_REQUIRED',
        'CUSTOMER_AUTHORISATION_INVALID',
      ],
    ],
    [
      'retryable',
      [
        'BANK_UNAVAILABLE',
        'SERVICE_UNAVAILABLE',
        'INTERNAL',
        'IDEMPOTENCY_REQUEST_IN_PROGRESS',
        'REQUEST_RATE_LIMITED',
        'SERVICE_OVERLOADED',
        'BANK_ANSWER_INVALID',
        'PKI_BUSY',
      ],
    ],
    [
      'final',
      [
        'REQUEST_INVALID',
        'AUTHENTICATION_FAILED',
        'CRYPTO_VERIFICATION_FAILED',
        'MESSAGE_REPLAYED',
        'PAYMENT_STATE_INVALID',
        'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        'ENROLMENT_FAILED',
        'ENROLMENT_BLOCKED',
        'KEY_BINDING_INVALID',
        'KEY_BINDING_REVOKED',
        'KEY_BINDING_EXPIRED',
        'PAYMENT_CANCELLED',
      ],
    ],
  ])('puts the anchors of %s where they belong', (category, anchors) => {
    for (const code of anchors) expect(errorCategoryOf(code), code).toBe(category);
  });

  it('keeps the catalogue read-only and unknown strings out', () => {
    expect(Object.isFrozen(errorCatalogue)).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('NO_SUCH_CODE')).toBe(false);
  });
});

describe('MpayError', () => {
  it('carries the catalogue message and category, and no retry hint unless given', () => {
    const error = new MpayError('INSUFFICIENT_FUNDS', 'account a');
    expect(error.message).toBe(errorMessageOf('INSUFFICIENT_FUNDS'));
    expect(error.category).toBe('refused');
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(error.toJSON()).toEqual({
      code: 'INSUFFICIENT_FUNDS',
      message: errorMessageOf('INSUFFICIENT_FUNDS'),
      detail: 'account a',
    });
  });

  it('keeps a cause and a whole-second retry hint, and refuses a broken hint', () => {
    const cause = new Error('socket');
    const error = new MpayError('SERVICE_OVERLOADED', undefined, { cause, retryAfterSeconds: 3 });
    expect(error.cause).toBe(cause);
    expect(error.retryAfterSeconds).toBe(3);
    for (const retryAfterSeconds of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new MpayError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds })).toThrow(
        /assertion failed/,
      );
    }
  });
});
