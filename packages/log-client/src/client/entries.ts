import { MpayError } from '@mpay/protocol';
import { type ClientLimits, fetchText, joinUrl, jsonOf } from './http.ts';

/** What the log says it holds at one index (GET /entries/:index), as far as a submitter checks it. */
export interface LoggedEntry {
  readonly index: bigint;
  readonly transactionId: string;
  /** The submission's hash (base64, as submitted: the hash of the messages). */
  readonly hash: string;
  readonly submitter: string;
}

/**
 * GET /entries/:index: the entry the log holds at `index`, or undefined when
 * it holds none there (404). Not proof of anything (the log says it, nothing
 * verifies it): a submitter whose inclusion proof did not verify asks it to
 * tell a wrong index (another transaction's entry there) from wrong data.
 * An answer for another index, or not of this shape, is SERVICE_UNAVAILABLE.
 */
export async function fetchLoggedEntry(
  logUrl: string,
  index: bigint,
  limits: ClientLimits = {},
): Promise<LoggedEntry | undefined> {
  const answer = await fetchText(joinUrl(logUrl, `/entries/${index}`), {}, limits);
  if (answer.status === 404) return undefined;
  const body = jsonOf(answer) as Record<string, unknown> | null;
  const text = (name: string) => {
    const value = body?.[name];
    if (typeof value !== 'string' || value.length === 0 || value.length > 1024)
      throw new MpayError('SERVICE_UNAVAILABLE', `entry answer: ${name}`);
    return value;
  };
  if (!Number.isSafeInteger(body?.index) || BigInt(body?.index as number) !== index)
    throw new MpayError('SERVICE_UNAVAILABLE', 'entry answer: index');
  return { index, transactionId: text('transactionId'), hash: text('hash'), submitter: text('submitter') };
}
