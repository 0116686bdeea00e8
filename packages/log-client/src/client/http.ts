import { requestText, type TextAnswer } from '@mpay/http-client';
import { type ErrorCode, isErrorCode, MpayError } from '@mpay/protocol';

/** Every request of the log client is bounded in time and in answer size. */
export interface ClientLimits {
  /** Each HTTP request is abandoned after this long. */
  readonly timeoutMs?: number | undefined;
}

export const clientDefaults = Object.freeze({ timeoutMs: 10_000, answerBytesMax: 2 * 1024 * 1024 });

export type { TextAnswer };

/**
 * One call with a timeout and a size limit (the answer is read no further
 * than `answerBytesMax`); network failures are SERVICE_UNAVAILABLE
 * (@mpay/http-client's requestText).
 */
export async function fetchText(
  url: string,
  init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> },
  limits: ClientLimits = {},
): Promise<TextAnswer> {
  return requestText(url, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: init.headers ?? {},
    timeoutMs: limits.timeoutMs ?? clientDefaults.timeoutMs,
    responseBytesMax: clientDefaults.answerBytesMax,
  });
}

/** The MpayError of an mpay JSON error answer, or one named by `fallback` for the status. */
export function errorOf(answer: TextAnswer, fallback: (status: number) => ErrorCode): MpayError {
  if (answer.contentType.startsWith('application/json')) {
    try {
      const error = (JSON.parse(answer.text) as { error?: { code?: unknown; detail?: unknown } }).error;
      if (error !== undefined && isErrorCode(error.code)) {
        return new MpayError(error.code, typeof error.detail === 'string' ? error.detail : undefined);
      }
    } catch {
      // not mpay's error format: fall through
    }
  }
  return new MpayError(fallback(answer.status), `HTTP ${answer.status}`);
}

export function defaultCode(status: number): ErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 401) return 'AUTHENTICATION_FAILED';
  return status >= 500 ? 'SERVICE_UNAVAILABLE' : 'REQUEST_INVALID';
}

/** The answer as JSON when it is a 2xx; the answer's error otherwise. */
export function jsonOf(answer: TextAnswer): unknown {
  if (answer.status < 200 || answer.status > 299) throw errorOf(answer, defaultCode);
  try {
    return JSON.parse(answer.text) as unknown;
  } catch {
    throw new MpayError('SERVICE_UNAVAILABLE', 'answer is not JSON');
  }
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
