import { entryKindPattern, transactionIdPattern } from '@mpay/merkle';
import { canonicalize, MpayError } from '@mpay/protocol';
import type { EntrySubmission } from '../store/entries.ts';

const fields = new Set(['hash', 'kind', 'transactionId', 'metadata']);
/** Canonical base64 of 32 bytes (SHA-256): 43 characters, the last of them one of 'AEIMQUYcgkosw048', then '='. */
const sha256Base64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function invalid(detail: string): MpayError {
  return new MpayError('REQUEST_INVALID', detail);
}

function parseJsonObject(rawBody: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(rawBody);
  } catch {
    throw invalid('body must be JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('body must be an object');
  return value as Record<string, unknown>;
}

/**
 * POST /entries body: `{ hash, kind, transactionId, metadata? }`. Strict: no
 * other fields, canonical base64 SHA-256, metadata a JSON object whose RFC
 * 8785 form is at most `metadataBytesMax` bytes.
 */
export function parseSubmission(rawBody: string, metadataBytesMax: number): EntrySubmission {
  const body = parseJsonObject(rawBody);
  const unknown = Object.keys(body).find((name) => !fields.has(name));
  if (unknown !== undefined) throw invalid(`${unknown} is not allowed`);
  const { hash, kind, transactionId, metadata = {} } = body;
  if (typeof hash !== 'string' || !sha256Base64.test(hash)) throw invalid('hash');
  if (typeof kind !== 'string' || !entryKindPattern.test(kind)) throw invalid('kind');
  if (typeof transactionId !== 'string' || !transactionIdPattern.test(transactionId))
    throw invalid('transactionId');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw invalid('metadata');
  let canonical: string;
  try {
    canonical = canonicalize(metadata);
  } catch {
    throw invalid('metadata');
  }
  if (Buffer.byteLength(canonical, 'utf8') > metadataBytesMax) throw invalid('metadata too large');
  return Object.freeze({
    messageHash: new Uint8Array(Buffer.from(hash, 'base64')),
    kind,
    transactionId,
    metadata: canonical,
  });
}
