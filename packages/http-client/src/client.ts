import { type ErrorCode, isErrorCode, MpayError } from '@mpay/protocol';
import { withRequestDeadline } from './deadline.ts';
import { currentRequestId, requestIdHeader } from './request-id.ts';
import { type ExchangeAnswer, exchangeFor, type FetchFunction } from './transport.ts';

/**
 * How long a call waits for its answer unless told otherwise: longer than a
 * service waits on a held database lock (10 s, @mpay/storage's lockTimeoutMs),
 * so that a busy service's 503 "database busy" reaches the caller instead of
 * the caller giving up first and reporting the service unreachable.
 */
export const defaultRequestTimeoutMs = 15_000;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Text, or bytes (a body in a content coding: say which in `headers`). */
  body?: string | Uint8Array<ArrayBuffer>;
  contentType?: string;
  headers?: Record<string, string>;
  /** Default defaultRequestTimeoutMs. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. */
  responseBytesMax?: number;
  /** The fetch to call with (a TLS client's, transport.ts); default: the registered source's, else the global fetch. */
  fetch?: FetchFunction;
  /** Ends the request early besides the timeout (the caller gave up: a stream closed, a wallet locked). */
  signal?: AbortSignal;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/** An answer read whole as text (`requestText`). */
export interface TextAnswer {
  readonly status: number;
  /** The Content-Type header, '' when there is none. */
  readonly contentType: string;
  /** A header of the answer by its name (any case), undefined when absent: Retry-After, say. */
  header(name: string): string | undefined;
  readonly text: string;
}

/** The answer bytes a call reads unless told otherwise (RequestOptions.responseBytesMax). */
export const defaultResponseBytesMax = 1024 * 1024;

/**
 * One call (the exchange of the fetch it goes through, transport.ts) with a
 * timeout and a response size limit, answering whatever the server answered
 * (any status) as text. A network failure, a body that is interrupted, or
 * one over the limit (read no further than it) becomes `unreachableCode`
 * (default SERVICE_UNAVAILABLE); the deadline covers the body as well as the
 * head.
 */
export async function requestText(
  url: string,
  options: RequestOptions = {},
  unreachableCode: ErrorCode = 'SERVICE_UNAVAILABLE',
): Promise<TextAnswer> {
  return withRequestDeadline(
    options.timeoutMs ?? defaultRequestTimeoutMs,
    (signal) => textWithin(url, options, unreachableCode, signal),
    options.signal,
  );
}

/** requestText's call, its answer read, under `signal` (the call's deadline). */
async function textWithin(
  url: string,
  options: RequestOptions,
  unreachableCode: ErrorCode,
  signal: AbortSignal,
): Promise<TextAnswer> {
  let answer: ExchangeAnswer;
  const requestId = currentRequestId();
  try {
    answer = await exchangeFor(options.fetch)(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(options.contentType ? { 'content-type': options.contentType } : {}),
        // The work this call is part of, for the logs of the service called.
        ...(requestId === undefined ? {} : { [requestIdHeader]: requestId }),
        ...options.headers,
      },
      body: options.body,
      signal,
    });
  } catch (error) {
    throw new MpayError(unreachableCode, new URL(url).host, { cause: error });
  }
  const text = await answer
    .read(options.responseBytesMax ?? defaultResponseBytesMax)
    .catch((error: unknown) => {
      throw new MpayError(unreachableCode, 'response interrupted', { cause: error });
    });
  if (text === undefined) throw new MpayError(unreachableCode, 'response too large');
  return {
    status: answer.status,
    contentType: answer.contentType,
    header: (name) => answer.header(name),
    text,
  };
}

/**
 * `requestText` answering whatever the server answered (any status) as parsed
 * JSON: an answer that is not JSON becomes `unreachableCode` too, so nothing
 * unbounded or unparsed reaches the caller.
 */
export async function requestAnswer(
  url: string,
  options: RequestOptions = {},
  unreachableCode: ErrorCode = 'SERVICE_UNAVAILABLE',
): Promise<JsonResponse<unknown>> {
  const { status, text } = await requestText(url, options, unreachableCode);
  try {
    return { status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  } catch (error) {
    throw new MpayError(unreachableCode, 'response is not JSON', { cause: error });
  }
}

/**
 * `requestAnswer` for a success: a JSON `{error:{code}}` answer becomes the
 * same MpayError on the client side. The body's shape is the caller's to
 * check (`T` is what the caller expects, not a guarantee).
 */
export async function requestJson<T>(
  url: string,
  options: RequestOptions = {},
  unreachableCode: ErrorCode = 'SERVICE_UNAVAILABLE',
): Promise<JsonResponse<T>> {
  const answer = await requestAnswer(url, options, unreachableCode);
  if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer.body, answer.status);
  return { status: answer.status, body: answer.body as T };
}

/**
 * `requestJson` for an answer that must be a JSON object: a 2xx answer whose
 * body is anything else (empty, `null`, an array, a string, a number)
 * becomes `unreachableCode`, as an answer that is not JSON does, so that the
 * caller reads its fields without a TypeError. The fields' types are still
 * the caller's to check.
 */
export async function requestObject<T extends object>(
  url: string,
  options: RequestOptions = {},
  unreachableCode: ErrorCode = 'SERVICE_UNAVAILABLE',
): Promise<JsonResponse<T>> {
  const answer = await requestJson<unknown>(url, options, unreachableCode);
  if (!isJsonObject(answer.body)) throw new MpayError(unreachableCode, 'response is not a JSON object');
  return { status: answer.status, body: answer.body as T };
}

/** Whether a parsed JSON value is an object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The MpayError a non-2xx answer stands for: its stable code when it has one. */
export function errorFromAnswer(body: unknown, status: number): MpayError {
  const error = (body as { error?: { code?: unknown; detail?: unknown } } | null)?.error;
  if (error && isErrorCode(error.code)) {
    return new MpayError(error.code, typeof error.detail === 'string' ? error.detail : undefined);
  }
  return new MpayError(status >= 500 ? 'SERVICE_UNAVAILABLE' : 'REQUEST_INVALID', `HTTP ${status}`);
}
