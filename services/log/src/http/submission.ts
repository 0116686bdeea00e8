import { entryKindPattern, transactionIdPattern } from '@mpay/merkle';
import { canonicalize, MpayError } from '@mpay/protocol';
import type { EntrySubmission } from '../store/entries.ts';

const fields = new Set(['hash', 'kind', 'transactionId', 'metadata']);
const batchFields = new Set(['entries']);
/** Canonical base64 of 32 bytes (SHA-256): 43 characters, the last of them one of 'AEIMQUYcgkosw048', then '='. */
const sha256Base64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function invalid(detail: string): MpayError {
  return new MpayError('REQUEST_INVALID', detail);
}

function parseJson(rawBody: string): unknown {
  try {
    return JSON.parse(rawBody);
  } catch {
    throw invalid('body must be JSON');
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/**
 * POST /entries body: `{ hash, kind, transactionId, metadata? }`. Strict: no
 * other fields, canonical base64 SHA-256, metadata a JSON object whose RFC
 * 8785 form is at most `metadataBytesMax` bytes.
 */
export function parseSubmission(rawBody: string, metadataBytesMax: number): EntrySubmission {
  return entryOf(asObject(parseJson(rawBody), 'body'), metadataBytesMax, '');
}

/**
 * POST /entry-batches body: `{ entries: [...] }`, 1 to `entriesMax` entries,
 * each exactly as POST /entries takes one; a refusal names the first wrong
 * entry (`entries[3].hash`), and refuses them all.
 */
export function parseSubmissionBatch(
  rawBody: string,
  metadataBytesMax: number,
  entriesMax: number,
): EntrySubmission[] {
  const body = asObject(parseJson(rawBody), 'body');
  const unknown = Object.keys(body).find((name) => !batchFields.has(name));
  if (unknown !== undefined) throw invalid(`${unknown} is not allowed`);
  const { entries } = body;
  if (!Array.isArray(entries) || entries.length === 0) throw invalid('entries must be a list of entries');
  if (entries.length > entriesMax) throw invalid(`entries: at most ${entriesMax}`);
  return entries.map((entry, i) =>
    entryOf(asObject(entry, `entries[${i}]`), metadataBytesMax, `entries[${i}].`),
  );
}

/** One entry's fields, strict; `at` prefixes the name of a wrong field (`entries[3].`). */
function entryOf(body: Record<string, unknown>, metadataBytesMax: number, at: string): EntrySubmission {
  const wrong = (field: string) => invalid(`${at}${field}`);
  const unknown = Object.keys(body).find((name) => !fields.has(name));
  if (unknown !== undefined) throw wrong(`${unknown} is not allowed`);
  const { hash, kind, transactionId, metadata = {} } = body;
  if (typeof hash !== 'string' || !sha256Base64.test(hash)) throw wrong('hash');
  if (typeof kind !== 'string' || !entryKindPattern.test(kind)) throw wrong('kind');
  if (typeof transactionId !== 'string' || !transactionIdPattern.test(transactionId))
    throw wrong('transactionId');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw wrong('metadata');
  let canonical: string;
  try {
    canonical = canonicalize(metadata);
  } catch {
    throw wrong('metadata');
  }
  if (Buffer.byteLength(canonical, 'utf8') > metadataBytesMax) throw wrong('metadata too large');
  return Object.freeze({
    messageHash: new Uint8Array(Buffer.from(hash, 'base64')),
    kind,
    transactionId,
    metadata: canonical,
  });
}
