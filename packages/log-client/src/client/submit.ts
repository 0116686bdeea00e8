import type { PrivateJwk, SigningKey } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { leafDataOf, messagesHash } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import { type ClientLimits, fetchText, joinUrl, jsonOf } from './http.ts';

/** Where a log is and who it is: its origin is the audience of signed submissions. */
export interface LogEndpoint extends ClientLimits {
  readonly url: string;
  readonly origin: string;
}

/** A submitter as the log knows it (Submitter.id) with its private signing key. */
export interface SubmitterCredentials {
  readonly id: string;
  readonly key: PrivateJwk | SigningKey;
}

export interface EntryToSubmit {
  /** SHA-256 of what is logged; for signed messages, messagesHash(messages). */
  readonly messageHash: Uint8Array;
  readonly kind: string;
  readonly transactionId: string;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

export interface SubmittedEntry {
  /** The entry's leaf index; it joins the tree at the next integration. */
  readonly index: bigint;
  /** False when the log already had this entry from this submitter (same hash and transaction). */
  readonly created: boolean;
}

function indexOf(body: unknown): bigint {
  const index = (body as { index?: unknown } | null)?.index;
  if (!Number.isSafeInteger(index) || (index as number) < 0)
    throw new MpayError('SERVICE_UNAVAILABLE', 'answer');
  return BigInt(index as number);
}

/**
 * POST /entries, signed by the submitter (`Authorization: MPay <jws>`,
 * audience the log's origin). Safe to retry: the log answers the same index
 * for the same submitter, hash and transaction id.
 */
export async function submitEntry(
  log: LogEndpoint,
  submitter: SubmitterCredentials,
  entry: EntryToSubmit,
): Promise<SubmittedEntry> {
  const body = JSON.stringify({
    hash: Buffer.from(entry.messageHash).toString('base64'),
    kind: entry.kind,
    transactionId: entry.transactionId,
    metadata: entry.metadata ?? {},
  });
  const authorization = await signRequest(
    { method: 'POST', path: '/entries', body },
    { issuer: submitter.id, audience: log.origin, key: submitter.key },
  );
  const answer = await fetchText(
    joinUrl(log.url, '/entries'),
    { method: 'POST', body, headers: { 'content-type': 'application/json', authorization } },
    log,
  );
  return { index: indexOf(jsonOf(answer)), created: answer.status === 202 };
}

export interface MessagesToLog {
  readonly transactionId: string;
  /** The signed messages (compact JWS), in a fixed order: the receipt holds them in this order. */
  readonly messages: readonly string[];
  readonly kind: string;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

export interface LoggedMessages extends SubmittedEntry {
  /** The leaf data the log committed to (leafDataOf), to wait for and to put in the receipt. */
  readonly leafData: string;
}

/** Logs the signed messages of a transaction: their messagesHash, with kind and metadata. */
export async function submitMessages(
  log: LogEndpoint,
  submitter: SubmitterCredentials,
  entry: MessagesToLog,
): Promise<LoggedMessages> {
  const messageHash = await messagesHash(entry.messages);
  const metadata = entry.metadata ?? {};
  const submitted = await submitEntry(log, submitter, { ...entry, messageHash, metadata });
  const leafData = leafDataOf({
    messageHash,
    kind: entry.kind,
    transactionId: entry.transactionId,
    metadata,
    submitter: submitter.id,
  });
  return { ...submitted, leafData };
}
