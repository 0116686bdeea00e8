import { errorFromAnswer, requestAnswer } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import { answerInvalid, exactRecord } from './json.ts';

/**
 * The Communication Module (CM) of SA2pMP's mobile client (seed 003 §5.1):
 * "in charge of the network link. We propose the use of HTTP. The CM handles
 * information exchange between the mobile client application and the mobile
 * banking server." Every call is bounded (a timeout, a largest answer); the
 * bank's problem answers become the same MpayError here (their stable code),
 * an unreachable bank or an answer that is not bounded JSON is
 * SERVICE_UNAVAILABLE, and a success whose status or members are not the
 * contract's is BANK_ANSWER_INVALID. Nothing here is trusted: the SM checks
 * what the bank signed.
 */
export interface BankingConnectionOptions {
  /** Where the bank answers (http or https, no trailing path). */
  readonly bankUrl: string;
  /** Each call's deadline; default 30 000 ms, at most 120 000. */
  readonly timeoutMs?: number | undefined;
  /** Largest answer read, in bytes; default 1 MiB (a statement page with its receipts), at most 4 MiB. */
  readonly answerBytesMax?: number | undefined;
}

export const bankingTimeoutMsDefault = 30_000;
export const bankingTimeoutMsMax = 120_000;
export const bankingAnswerBytesDefault = 1024 * 1024;
export const bankingAnswerBytesMax = 4 * 1024 * 1024;

function limit(value: number | undefined, name: string, fallback: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1 || resolved > max) {
    throw new MpayError('REQUEST_INVALID', `${name} must be an integer in 1..${max}`);
  }
  return resolved;
}

/** One successful answer: its status and its JSON object, members checked by the caller's `exactRecord`. */
export interface BankingAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export class BankingConnection {
  readonly bankUrl: string;
  readonly #timeoutMs: number;
  readonly #answerBytesMax: number;

  constructor(options: BankingConnectionOptions) {
    let url: URL;
    try {
      url = new URL(options.bankUrl);
    } catch {
      throw new MpayError('REQUEST_INVALID', 'bankUrl');
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
      throw new MpayError('REQUEST_INVALID', 'bankUrl');
    }
    this.bankUrl = options.bankUrl.replace(/\/+$/, '');
    this.#timeoutMs = limit(options.timeoutMs, 'timeoutMs', bankingTimeoutMsDefault, bankingTimeoutMsMax);
    this.#answerBytesMax = limit(
      options.answerBytesMax,
      'answerBytesMax',
      bankingAnswerBytesDefault,
      bankingAnswerBytesMax,
    );
  }

  /**
   * POST `body` as JSON to `path`. A status in `expected` gives the answer's
   * object with exactly `members` (BANK_ANSWER_INVALID otherwise); any other
   * success is BANK_ANSWER_INVALID; a failure is the bank's own error code.
   */
  async post(
    path: string,
    body: Readonly<Record<string, unknown>>,
    expected: readonly number[],
    members: readonly string[],
  ): Promise<BankingAnswer> {
    const answer = await requestAnswer(`${this.bankUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      contentType: 'application/json',
      timeoutMs: this.#timeoutMs,
      responseBytesMax: this.#answerBytesMax,
    });
    if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer.body, answer.status);
    if (!expected.includes(answer.status)) answerInvalid(`${path}: HTTP ${answer.status}`);
    return { status: answer.status, body: exactRecord(answer.body, path, members) };
  }

  /** GET `path`: the answer's object with exactly one of the `memberSets` (BANK_ANSWER_INVALID otherwise). */
  async get(path: string, memberSets: readonly (readonly string[])[]): Promise<BankingAnswer> {
    const answer = await requestAnswer(`${this.bankUrl}${path}`, {
      method: 'GET',
      timeoutMs: this.#timeoutMs,
      responseBytesMax: this.#answerBytesMax,
    });
    if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer.body, answer.status);
    if (answer.status !== 200) answerInvalid(`${path}: HTTP ${answer.status}`);
    const keys = Object.keys((answer.body ?? {}) as object).length;
    const members = memberSets.find((set) => set.length === keys) ?? memberSets[0]!;
    return { status: answer.status, body: exactRecord(answer.body, path, members) };
  }
}

/** A path segment the device built from an id it checked (never raw text from elsewhere). */
export function pathSegment(id: string): string {
  return encodeURIComponent(id);
}
