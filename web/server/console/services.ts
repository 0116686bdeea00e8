import type { PrivateJwk } from '@mpay/envelope';
import {
  errorFromAnswer,
  fetchFor,
  readBounded,
  requestJson,
  signRequest,
  withRequestDeadline,
} from '@mpay/http-client';
import { type ErrorCode, MpayError } from '@mpay/protocol';
import type { ConsoleLimits } from './limits.ts';

/**
 * The console's calls to the services, with the operator's credentials that
 * never leave this process: the gateway's operator API (Bearer token) and
 * each bank's operator API (requests signed with that bank's operator key).
 */

/** A bank as the console calls it: where, and the operator's signing identity there. */
export interface ConsoleBank {
  readonly id: string;
  readonly url: string;
  /** The operator's party id at the bank (`operator.<bank>`). */
  readonly operatorId: string;
  readonly operatorKey: PrivateJwk;
  /** The account opening balances are paid from; absent: customers are opened without one. */
  readonly fundingAccountId?: string | undefined;
}

export interface OperatorClient {
  readonly id: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown, headers?: Readonly<Record<string, string>>): Promise<T>;
}

function requestOptions(limits: ConsoleLimits) {
  return { timeoutMs: limits.serviceTimeoutMs, responseBytesMax: limits.serviceAnswerBytesMax };
}

/** The gateway's operator API: `Authorization: Bearer <operator token>`. */
export function gatewayOperator(url: string, operatorToken: string, limits: ConsoleLimits): OperatorClient {
  const authorization = `Bearer ${operatorToken}`;
  return {
    id: 'gateway',
    get: async <T>(path: string) =>
      (await requestJson<T>(`${url}${path}`, { ...requestOptions(limits), headers: { authorization } })).body,
    post: async <T>(path: string, body: unknown, headers: Readonly<Record<string, string>> = {}) =>
      (
        await requestJson<T>(`${url}${path}`, {
          ...requestOptions(limits),
          body: JSON.stringify(body),
          contentType: 'application/json',
          headers: { ...headers, authorization },
        })
      ).body,
  };
}

/** A bank's operator API: each request signed for its method, path and body with the operator's key. */
export function bankOperator(bank: ConsoleBank, limits: ConsoleLimits): OperatorClient {
  const call = async <T>(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    unreachable: ErrorCode,
  ) => {
    const authorization = await signRequest(
      { method, path, body: body ?? '' },
      { issuer: bank.operatorId, audience: bank.id, key: bank.operatorKey },
    );
    const answer = await requestJson<T>(
      `${bank.url}${path}`,
      {
        ...requestOptions(limits),
        headers: { authorization },
        ...(body === undefined ? {} : { body, contentType: 'application/json' }),
      },
      unreachable,
    );
    return answer.body;
  };
  return {
    id: bank.id,
    get: <T>(path: string) => call<T>('GET', path, undefined, 'BANK_UNAVAILABLE'),
    post: <T>(path: string, body: unknown) => call<T>('POST', path, JSON.stringify(body), 'BANK_UNAVAILABLE'),
  };
}

/** A text answer (a metrics exposition, a signed note), bounded in time and size; a non-2xx is its error. */
export async function fetchBoundedText(
  url: string,
  headers: Readonly<Record<string, string>>,
  limits: ConsoleLimits,
): Promise<string> {
  // One deadline for the answer's head and body.
  const { response, text } = await withRequestDeadline(limits.serviceTimeoutMs, async (signal) => {
    let response: Response;
    try {
      response = await fetchFor(undefined)(url, { headers, signal });
    } catch (error) {
      throw new MpayError('SERVICE_UNAVAILABLE', new URL(url).host, { cause: error });
    }
    const text = await readBounded(response, limits.serviceAnswerBytesMax).catch((error: unknown) => {
      throw new MpayError('SERVICE_UNAVAILABLE', 'answer interrupted', { cause: error });
    });
    return { response, text };
  });
  if (text === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'answer too large');
  if (response.ok) return text;
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the status says enough.
  }
  throw errorFromAnswer(body, response.status);
}
