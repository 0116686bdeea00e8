import { errorCategoryOf, isErrorCode, isMpayError } from '@mpay/protocol';
import { type ErrorText, errorText, pageErrorText } from './error-text.ts';

/** What a page shows for an error: a title, what to do, the stable code, whether trying again may help. */
export interface DescribedError {
  readonly code: string;
  readonly title: string;
  readonly advice: string;
  readonly retryable: boolean;
}

/** Errors that happen in the page itself, not at a service (no catalogue code). */
export type PageErrorCode = keyof typeof pageErrorText;

/** An error raised by page code with one of the page's own codes. */
export class PageError extends Error {
  readonly code: PageErrorCode;
  constructor(code: PageErrorCode, options?: { cause?: unknown }) {
    super(pageErrorText[code].title, options);
    this.name = 'PageError';
    this.code = code;
  }
}

function described(code: string, text: ErrorText, retryable: boolean): DescribedError {
  return { code, title: text.title, advice: text.advice, retryable };
}

/**
 * Any thrown value as a person reads it. mpay's errors by their stable code
 * (every code in the catalogue has its text); a fetch that never got an answer
 * is a lost connection, which may be retried (the page retries with the same
 * idempotency key); anything else is shown as an unexpected error, never as a
 * stack trace.
 */
export function describeError(error: unknown): DescribedError {
  if (error instanceof PageError) {
    const text = pageErrorText[error.code];
    return described(error.code, text, text.retryable === true);
  }
  if (isMpayError(error))
    return described(error.code, errorText[error.code], errorCategoryOf(error.code) === 'retryable');
  if (typeof error === 'object' && error !== null && 'code' in error && isErrorCode(error.code))
    return described(error.code, errorText[error.code], errorCategoryOf(error.code) === 'retryable');
  if (error instanceof TypeError) return described('CONNECTION_LOST', pageErrorText.CONNECTION_LOST, true);
  return described('UNEXPECTED', pageErrorText.UNEXPECTED, false);
}
