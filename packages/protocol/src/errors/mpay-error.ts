import { type ErrorCategory, type ErrorCode, errorCategoryOf, errorMessageOf } from './catalogue.ts';

export interface MpayErrorOptions {
  cause?: unknown;
  /**
   * A hint for the client: retry after this many seconds. The HTTP edge sends
   * it as the `Retry-After` header. A whole number of seconds, at least 0.
   */
  retryAfterSeconds?: number;
}

/**
 * The one error type mpay code throws for operating conditions (bad input,
 * failed verification, insufficient funds). Programmer errors are assertions.
 * `detail` is for logs and non-secret hints (a field name), never for secrets
 * or for which cryptographic check failed.
 */
export class MpayError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, detail?: string, options?: MpayErrorOptions) {
    super(
      errorMessageOf(code),
      options !== undefined && 'cause' in options ? { cause: options.cause } : undefined,
    );
    const retryAfterSeconds = options?.retryAfterSeconds;
    assert(
      retryAfterSeconds === undefined || (Number.isSafeInteger(retryAfterSeconds) && retryAfterSeconds >= 0),
      'retryAfterSeconds is a whole number of seconds, at least 0',
    );
    this.name = 'MpayError';
    this.code = code;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The code's category: refused, retryable or final. */
  get category(): ErrorCategory {
    return errorCategoryOf(this.code);
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
