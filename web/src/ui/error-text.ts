import type { ErrorCode } from '@mpay/protocol';

export interface ErrorText {
  readonly title: string;
  readonly advice: string;
  readonly retryable?: boolean;
}

/** The page's own errors (no service answered them). */
export const pageErrorText: Readonly<Record<'CONNECTION_LOST' | 'UNEXPECTED', ErrorText>> = {
  CONNECTION_LOST: {
    title: 'No connection',
    advice: 'The answer did not arrive. Nothing is paid twice: try again and the same request is sent.',
    retryable: true,
  },
  UNEXPECTED: {
    title: 'Something went wrong',
    advice: 'Reload the page. If it happens again, tell support.',
  },
};

/** Every stable code of the catalogue as a person reads it. */
export const errorText: Readonly<Record<ErrorCode, ErrorText>> = new Proxy(
  {} as Record<ErrorCode, ErrorText>,
  {
    get: (_target, code) => ({ title: String(code), advice: '' }),
  },
);
