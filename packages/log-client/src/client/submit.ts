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
  const answer = await postSigned(log, submitter, '/entries', JSON.stringify(entryBody(entry)));
  return { index: indexOf(jsonOf(answer)), created: answer.status === 202 };
}

/** A JSON body POSTed to the log, signed by the submitter for that path (audience the log's origin). */
async function postSigned(log: LogEndpoint, submitter: SubmitterCredentials, path: string, body: string) {
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: submitter.id, audience: log.origin, key: submitter.key },
  );
  return fetchText(
    joinUrl(log.url, path),
    { method: 'POST', body, headers: { 'content-type': 'application/json', authorization } },
    log,
  );
}

/**
 * What the client puts in one POST /entry-batches, and the log's defaults
 * (its submissionBatchEntriesMax and submissionBatchBodyLimitBytes are these,
 * by definition): a batch a log on its defaults refuses for its size is never
 * sent; more entries go in more requests.
 */
export const entryBatchLimits = Object.freeze({ entriesMax: 64, bodyBytesMax: 64 * 1024 });

function entryBody(entry: EntryToSubmit): Record<string, unknown> {
  return {
    hash: Buffer.from(entry.messageHash).toString('base64'),
    kind: entry.kind,
    transactionId: entry.transactionId,
    metadata: entry.metadata ?? {},
  };
}

/** One entry's answer in a batch, which must name the transaction it answers. */
function submittedOf(value: unknown, transactionId: string): SubmittedEntry {
  const answer = value as { created?: unknown; transactionId?: unknown } | null;
  if (typeof answer?.created !== 'boolean') throw new MpayError('SERVICE_UNAVAILABLE', 'answer');
  if (answer.transactionId !== transactionId)
    throw new MpayError('SERVICE_UNAVAILABLE', 'answer for another entry');
  return { index: indexOf(value), created: answer.created };
}

/**
 * POST /entry-batches: many entries under one signature (one request, one
 * signature check at the log, and the log writes them in one transaction).
 * The answers come in the order of `entries`, each naming its transaction;
 * an answer out of that order, or one index for two different entries, is
 * SERVICE_UNAVAILABLE (nothing of it is used). Entries beyond one request's
 * limits (`entryBatchLimits`) go in the next request; a failed request fails
 * the call, and sending them all again is safe (the log answers an entry it
 * has with its index).
 */
export async function submitEntryBatch(
  log: LogEndpoint,
  submitter: SubmitterCredentials,
  entries: readonly EntryToSubmit[],
): Promise<SubmittedEntry[]> {
  const results: SubmittedEntry[] = [];
  // `{"entries":[` and `]}`, then each entry and its comma.
  const frameBytes = 15;
  let chunk: { text: string; entry: EntryToSubmit }[] = [];
  let chunkBytes = frameBytes;
  // Each index given so far, and to which entry (transaction and hash): one index is one entry.
  const given = new Map<bigint, string>();
  const send = async () => {
    if (chunk.length === 0) return;
    const sent = chunk;
    const body = `{"entries":[${sent.map(({ text }) => text).join(',')}]}`;
    chunk = [];
    chunkBytes = frameBytes;
    const answer = await postSigned(log, submitter, '/entry-batches', body);
    const answered = (jsonOf(answer) as { entries?: unknown } | null)?.entries;
    if (!Array.isArray(answered) || answered.length !== sent.length)
      throw new MpayError('SERVICE_UNAVAILABLE', 'answer');
    for (const [i, { entry }] of sent.entries()) {
      const submitted = submittedOf(answered[i], entry.transactionId);
      const key = `${entry.transactionId} ${Buffer.from(entry.messageHash).toString('base64')}`;
      if ((given.get(submitted.index) ?? key) !== key)
        throw new MpayError('SERVICE_UNAVAILABLE', 'one index for two entries');
      given.set(submitted.index, key);
      results.push(submitted);
    }
  };
  for (const entry of entries) {
    const text = JSON.stringify(entryBody(entry));
    const bytes = Buffer.byteLength(text, 'utf8') + 1;
    if (chunk.length === entryBatchLimits.entriesMax || chunkBytes + bytes > entryBatchLimits.bodyBytesMax)
      await send();
    chunk.push({ text, entry });
    chunkBytes += bytes;
  }
  await send();
  return results;
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
  const hashed = await hashedEntry(entry);
  const submitted = await submitEntry(log, submitter, hashed);
  return { ...submitted, leafData: leafDataFor(hashed, submitter) };
}

async function hashedEntry(entry: MessagesToLog): Promise<EntryToSubmit & { metadata: object }> {
  return {
    transactionId: entry.transactionId,
    kind: entry.kind,
    messageHash: await messagesHash(entry.messages),
    metadata: entry.metadata ?? {},
  };
}

/** The leaf data the log commits to for this entry from this submitter. */
function leafDataFor(entry: EntryToSubmit & { metadata: object }, submitter: SubmitterCredentials): string {
  return leafDataOf({
    messageHash: entry.messageHash,
    kind: entry.kind,
    transactionId: entry.transactionId,
    metadata: entry.metadata,
    submitter: submitter.id,
  });
}

/**
 * `submitMessages` for many transactions: one POST /entry-batches per
 * `entryBatchLimits` (see submitEntryBatch), the answers in the order of
 * `entries`.
 */
export async function submitMessageBatch(
  log: LogEndpoint,
  submitter: SubmitterCredentials,
  entries: readonly MessagesToLog[],
): Promise<LoggedMessages[]> {
  const hashed = await Promise.all(entries.map(hashedEntry));
  const submitted = await submitEntryBatch(log, submitter, hashed);
  return hashed.map((entry, i) => ({
    ...(submitted[i] as SubmittedEntry),
    leafData: leafDataFor(entry, submitter),
  }));
}
