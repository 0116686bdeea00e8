import { type FetchFunction, readBounded, withRequestDeadline } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import {
  isSmsToken,
  messagesUrlOf,
  smsGatewayUrlProblem,
  smsTokenLengthMax,
  smsTokenLengthMin,
} from '../api.ts';
import { createSmsSenderLimits, type SmsSenderLimits } from '../limits.ts';
import { invalidSmsFieldOf, isSmsSenderId, type OutgoingSms } from '../message.ts';

export interface SmsSenderOptions {
  /** The gateway's base URL (messages go to `{url}/messages`): https, or http on loopback only. */
  url: string;
  /** The gateway's bearer token (a b64token of 16..512 characters). */
  token: string;
  /** The sender id the recipient sees: alphanumeric, at most 11 characters (`mpay`), or an MSISDN. */
  from: string;
  /** Overrides of the default limits, validated (see `SmsSenderLimits`). */
  limits?: Partial<SmsSenderLimits>;
  /**
   * The fetch to call the gateway with; absent: the global fetch (the
   * system's roots verify an https gateway). The platform gives the embedded
   * gateway of a TLS deployment a fetch that trusts the deployment's CA only.
   */
  fetch?: FetchFunction;
}

export interface SmsSender {
  /**
   * Sends one SMS and resolves with the gateway's id for it once the gateway
   * accepted it. Fails with a stable code: `REQUEST_INVALID` for a message this
   * sender will not send (a `to` that is not E.164, a text empty, too long or
   * with a control character other than `\n`), and for a gateway's final
   * refusal (4xx: a wrong token, a field it refuses); `SERVICE_UNAVAILABLE`
   * (retryable) when the gateway cannot be reached, times out, answers 408, 429
   * (with its Retry-After) or 5xx, or answers something that is not `{id}`.
   * The detail says which (`sms: to`, `sms gateway: HTTP 401 AUTHENTICATION_FAILED`).
   */
  send(sms: OutgoingSms): Promise<{ id: string }>;
}

/** A gateway's message id: short and printable, as it may be logged. */
const gatewayIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
/** An error code in a gateway's JSON answer, quoted in the detail only when it looks like one. */
const gatewayErrorCodePattern = /^[A-Z][A-Z0-9_]{0,63}$/;
/** A system error code of a failed connection (`ECONNREFUSED`), quoted in the detail. */
const systemErrorCodePattern = /^[A-Z][A-Z0-9_]{0,31}$/;

/** Answers after which the same message may be sent again later. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** The Retry-After of an answer in whole seconds (the delta-seconds form only), at most `max`. */
function retryAfterSecondsOf(header: string | null, max: number): number | undefined {
  if (header === null || !/^[0-9]{1,9}$/.test(header.trim())) return undefined;
  return Math.min(Number(header.trim()), max);
}

/** The stable code of a gateway's answer that is not a success. */
export function smsErrorOfAnswer(
  status: number,
  body: unknown,
  retryAfterSeconds: number | undefined,
): MpayError {
  const code = (body as { error?: { code?: unknown } } | null | undefined)?.error?.code;
  const quoted = typeof code === 'string' && gatewayErrorCodePattern.test(code) ? ` ${code}` : '';
  const detail = `sms gateway: HTTP ${status}${quoted}`;
  if (isRetryableStatus(status)) {
    return new MpayError(
      'SERVICE_UNAVAILABLE',
      detail,
      retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
    );
  }
  return new MpayError('REQUEST_INVALID', detail);
}

/** A failed fetch as a stable code: always retryable, the detail says what happened. */
function unreachable(error: unknown): MpayError {
  if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
    return new MpayError('SERVICE_UNAVAILABLE', 'sms gateway: timed out', { cause: error });
  }
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  const quoted = typeof code === 'string' && systemErrorCodePattern.test(code) ? ` (${code})` : '';
  return new MpayError('SERVICE_UNAVAILABLE', `sms gateway: unreachable${quoted}`, { cause: error });
}

function parseJsonOrUndefined(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function checkOptions(options: SmsSenderOptions): void {
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new Error('sms sender: fetch must be a function');
  }
  const problem = typeof options.url === 'string' ? smsGatewayUrlProblem(options.url) : 'must be a string';
  if (problem !== undefined) throw new Error(`sms sender: url ${problem}`);
  if (!isSmsToken(options.token)) {
    throw new Error(
      `sms sender: token must be a bearer token (b64token) of ${smsTokenLengthMin}..${smsTokenLengthMax} characters`,
    );
  }
  if (!isSmsSenderId(options.from)) {
    throw new Error(
      'sms sender: from must be an alphanumeric sender id (at most 11 characters) or an MSISDN',
    );
  }
}

/**
 * A sender through an HTTP SMS gateway (`api.ts`): one `POST {url}/messages`
 * per message, bounded by `requestTimeoutMs` from connecting to the last byte
 * of the answer, which is read up to `responseBytesMax` bytes. Redirects are
 * not followed (the token goes to the configured gateway only). A gateway that
 * accepted a message but whose answer was lost makes the caller send it again:
 * delivery is at least once.
 */
export function createSmsSender(options: SmsSenderOptions): SmsSender {
  checkOptions(options);
  const limits = createSmsSenderLimits(options.limits);
  const endpoint = messagesUrlOf(options.url);
  const authorization = `Bearer ${options.token}`;
  const from = options.from;
  const fetchWith: FetchFunction = options.fetch ?? ((url, init) => fetch(url, init));

  return Object.freeze({
    async send(sms: OutgoingSms): Promise<{ id: string }> {
      const invalid = invalidSmsFieldOf(sms ?? {}, limits.textCharactersMax);
      if (invalid !== undefined) throw new MpayError('REQUEST_INVALID', `sms: ${invalid}`);
      let response: Response;
      let text: string | undefined;
      try {
        // The same deadline bounds the answer's body: a gateway that trickles it out times out too.
        [response, text] = await withRequestDeadline(limits.requestTimeoutMs, async (signal) => {
          const answer = await fetchWith(endpoint, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ from, to: sms.to, text: sms.text }),
            redirect: 'manual',
            signal,
          });
          return [answer, await readBounded(answer, limits.responseBytesMax)] as const;
        });
      } catch (error) {
        throw unreachable(error);
      }
      const body = parseJsonOrUndefined(text);
      if (response.status < 200 || response.status > 299) {
        const retryAfter = retryAfterSecondsOf(
          response.headers.get('retry-after'),
          limits.retryAfterSecondsMax,
        );
        throw smsErrorOfAnswer(response.status, body, retryAfter);
      }
      const id = (body as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || !gatewayIdPattern.test(id)) {
        throw new MpayError(
          'SERVICE_UNAVAILABLE',
          `sms gateway: HTTP ${response.status} without a message id`,
        );
      }
      return { id };
    },
  });
}
