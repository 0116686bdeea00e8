import { type ErrorCode, errorCatalogue } from './catalogue.ts';

/**
 * The one error type mpay code throws for operating conditions (bad input,
 * failed verification, insufficient funds). Programmer errors are assertions.
 * `detail` is for logs and non-secret hints (a field name), never for secrets
 * or for which cryptographic check failed.
 */
export class MpayError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(errorCatalogue[code], options);
    this.name = 'MpayError';
    this.code = code;
    this.detail = detail;
  }

  toJSON(): { code: ErrorCode; message: string; detail?: string } {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isMpayError(error: unknown, code?: ErrorCode): error is MpayError {
  return error instanceof MpayError && (code === undefined || error.code === code);
}

/** Assertion for programmer errors: a broken invariant crashes instead of continuing. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
