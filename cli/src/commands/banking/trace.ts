import { decodeUnverified, decryptDirect } from '@mpay/envelope';
import { printable } from './format.ts';
import type { WireExchange } from './wire.ts';

/**
 * What travelled between the phone and the bank, opened for the reader: for
 * each HTTP exchange its size in bytes and, member by member, whether it is a
 * JWS (and whose key signed it), a JWE (sealed under which session key, and
 * what it holds once opened with the key the demo's phone has) or an OPAQUE
 * message. Descriptive only: what decides anything is the SDK's and the
 * bank's verification; here an unknown kid is said to be unknown.
 */

export interface TraceKeys {
  /** kid of a signing key → who holds it ("xbank", "the phone (key binding …)"). */
  readonly signers: ReadonlyMap<string, string>;
  /** kid of a session key (the login id, which becomes the session id) → the key. */
  readonly sessionKeys: ReadonlyMap<string, Uint8Array>;
  /** kid of an encryption key → who holds it (the phone's encryption key). */
  readonly recipients: ReadonlyMap<string, string>;
}

const claimNames = new Set(['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']);
const opaqueMembers = new Set([
  'registrationRequest',
  'registrationResponse',
  'registrationRecord',
  'startLoginRequest',
  'loginResponse',
  'finishLoginRequest',
]);
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const segmentPattern = /^[A-Za-z0-9_-]*$/;

export function shortKid(kid: string): string {
  return kid.length > 12 ? `${kid.slice(0, 12)}…` : kid;
}

/** A path with its ids shortened: `/banking/logins/1a2b3c4d…/finish`. */
export function shortPath(path: string): string {
  return path.replace(uuidPattern, (id) => `${id.slice(0, 8)}…`);
}

export function byteCount(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function headerOf(compact: string): Record<string, unknown> | undefined {
  try {
    const header = JSON.parse(
      Buffer.from(compact.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as unknown;
    return typeof header === 'object' && header !== null && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function compactKind(value: string): 'jws' | 'jwe' | undefined {
  const segments = value.split('.');
  if (!segments.every((segment) => segmentPattern.test(segment))) return undefined;
  if (segments.length === 3 && segments[0] !== '') return 'jws';
  if (segments.length === 5 && segments[0] !== '') return 'jwe';
  return undefined;
}

/** What a JWS's payload is about: its content member(s), and a banking request's or answer's kind. */
function contentOf(payload: unknown): string {
  if (typeof payload !== 'object' || payload === null) return 'its payload';
  const record = payload as Record<string, unknown>;
  const members = Object.keys(record).filter((name) => !claimNames.has(name));
  const banking = record.banking as { request?: { kind?: unknown } } | undefined;
  if (typeof banking?.request?.kind === 'string')
    return `{banking: ${banking.request.kind} request, ID_C, session}`;
  const answer = record.bankingAnswer as { kind?: unknown } | undefined;
  if (typeof answer?.kind === 'string') return `{bankingAnswer: ${answer.kind}}`;
  return members.length === 0 ? 'its claims' : `{${members.join(', ')}}`;
}

export function describeJws(compact: string, keys: TraceKeys): string {
  const header = headerOf(compact);
  const kid = typeof header?.kid === 'string' ? header.kid : '?';
  const signer = keys.signers.get(kid) ?? 'a key the demo does not know';
  const payload = decodeUnverified(compact)?.payload;
  return `JWS (${byteCount(compact)} bytes) signed by ${signer} (${String(header?.alg)}, kid ${shortKid(kid)}) over ${contentOf(payload)}`;
}

async function describeJwe(compact: string, keys: TraceKeys): Promise<string> {
  const header = headerOf(compact);
  const kid = typeof header?.kid === 'string' ? header.kid : '?';
  const size = `JWE (${byteCount(compact)} bytes)`;
  if (header?.alg !== 'dir')
    return `${size} sealed to ${keys.recipients.get(kid) ?? 'a key the demo does not know'} (${String(header?.alg)}, ${String(header?.enc)})`;
  const sealed = `${size} sealed under the session key (dir, ${String(header.enc)}, kid ${shortKid(kid)})`;
  const key = keys.sessionKeys.get(kid);
  if (key === undefined) return sealed;
  let inner: string;
  try {
    inner = new TextDecoder('utf-8', { fatal: true }).decode(await decryptDirect(compact, key, { kid }));
  } catch {
    return `${sealed}, which the demo's key does not open`;
  }
  if (compactKind(inner) === 'jws') return `${sealed} holding a ${describeJws(inner, keys)}`;
  try {
    const members = Object.keys(JSON.parse(inner) as Record<string, unknown>);
    return `${sealed} holding {${members.join(', ')}}`;
  } catch {
    return `${sealed} holding ${byteCount(inner)} bytes`;
  }
}

async function describeMember(name: string, value: unknown, keys: TraceKeys): Promise<string | undefined> {
  if (typeof value !== 'string') return name.endsWith('Jwk') ? `${name} a public JWK` : undefined;
  if (opaqueMembers.has(name)) return `${name} OPAQUE (${byteCount(value)} bytes)`;
  if (name === 'code' && compactKind(value) === undefined) return `${name} the one-time code`;
  const kind = compactKind(value);
  if (kind === 'jws') return `${name} ${describeJws(value, keys)}`;
  if (kind === 'jwe') return `${name} ${await describeJwe(value, keys)}`;
  return undefined;
}

/** The members of a JSON body worth naming, described; a problem answer by its code. */
async function describeBody(text: string, keys: TraceKeys): Promise<string> {
  if (text === '') return 'empty';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'JSON';
  const record = value as Record<string, unknown>;
  const error = record.error as { code?: unknown } | undefined;
  if (typeof error?.code === 'string') return `refused: ${printable(error.code)}`;
  const described: string[] = [];
  for (const [name, member] of Object.entries(record)) {
    const text = await describeMember(name, member, keys);
    if (text !== undefined) described.push(text);
  }
  return described.length === 0 ? 'nothing signed or sealed' : described.join('; ');
}

/** Two lines: what the phone sent (→) and what the bank answered (←), each with its size in bytes. */
export async function describeExchange(exchange: WireExchange, keys: TraceKeys): Promise<string[]> {
  return [
    `→ ${exchange.method} ${shortPath(exchange.path)} ${byteCount(exchange.requestBody)} bytes: ${await describeBody(exchange.requestBody, keys)}`,
    `← ${exchange.status} ${byteCount(exchange.responseBody)} bytes: ${await describeBody(exchange.responseBody, keys)}`,
  ];
}
