import { type ErrorCode, isErrorCode, MpayError } from '@mpay/protocol';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. */
  responseBytesMax?: number;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/**
 * fetch with a timeout, a response size limit and mpay's error format: a JSON
 * `{error:{code}}` answer becomes the same MpayError on the client side; a
 * network failure becomes `unreachableCode` (default SERVICE_UNAVAILABLE).
 */
export async function requestJson<T>(
  url: string,
  options: RequestOptions = {},
  unreachableCode: ErrorCode = 'SERVICE_UNAVAILABLE',
): Promise<JsonResponse<T>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(options.contentType ? { 'content-type': options.contentType } : {}),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: options.body }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new MpayError(unreachableCode, new URL(url).host, { cause: error });
  }
  const text = await response.text();
  if (text.length > (options.responseBytesMax ?? 1024 * 1024))
    throw new MpayError(unreachableCode, 'response too large');
  const body: unknown = text === '' ? null : JSON.parse(text);
  if (!response.ok) throw errorFromBody(body, response.status);
  return { status: response.status, body: body as T };
}

function errorFromBody(body: unknown, status: number): MpayError {
  const error = (body as { error?: { code?: unknown; detail?: unknown } } | null)?.error;
  if (error && isErrorCode(error.code)) {
    return new MpayError(error.code, typeof error.detail === 'string' ? error.detail : undefined);
  }
  return new MpayError(status >= 500 ? 'SERVICE_UNAVAILABLE' : 'REQUEST_INVALID', `HTTP ${status}`);
}
