import { createHash, createPrivateKey, sign, verify, type X509Certificate } from 'node:crypto';
import { dayMs } from './limits.ts';

/**
 * The proof that a CA certificate of the folder other than the current one
 * (`ca.next.cert.pem`, `ca.previous.cert.pem`) is part of a rotation the
 * current CA made: a statement signed with the current CA's key, in a file
 * beside it (`ca.next.proof.json`, `ca.previous.proof.json`). Without a proof
 * that verifies, anyone able to drop a certificate into the folder (or into
 * what an operator copies to another machine) would have it trusted at the
 * next reload. `begin` has the current CA sign the next one (`next`);
 * `switch` has the new current CA sign the old one (`previous`): a proof is
 * always checked against the CA that issues now, so a CA that signs its own
 * proof proves nothing.
 *
 * Why a detached signed statement and not a cross-certificate (the current CA
 * issuing a CA certificate for the next CA's key): the deployment's CA is
 * `pathlen:0` and must never sign another CA (a cross-certificate that
 * reached a trust bundle or a chain would let one CA's leaves chain to the
 * other); X.509 has no field for the role (`next` or `previous`), so a
 * certificate for a next CA could be replayed as a previous one; and the
 * statement is a few lines any tool can check (ECDSA P-256 with SHA-256 over
 * the exact bytes stored, no canonicalisation, no ASN.1). It names the
 * proven certificate and the signer by their SHA-256 fingerprints (a new
 * certificate for the same key needs a new proof) and carries a validity
 * bound (`caProofValidityDays`, never past either CA's notAfter).
 *
 * The file: `{"statement":"<base64url of the statement's JSON>","signature":"<base64url, IEEE P1363 r||s>"}`;
 * the statement: `{"type":"mpay-ca-rotation-proof","version":1,"role":"next",
 * "certificateSha256":"<hex>","signerSha256":"<hex>","notBefore":"<ISO>","notAfter":"<ISO>"}`.
 */

export type CaProofRole = 'next' | 'previous';

/** Longest proof file read (bytes): ours are about 400. */
export const caProofLengthMax = 4_096;

const proofType = 'mpay-ca-rotation-proof';
const proofVersion = 1;

interface CaProofStatement {
  readonly type: typeof proofType;
  readonly version: typeof proofVersion;
  readonly role: CaProofRole;
  /** SHA-256 of the proven CA certificate's DER, lower-case hex. */
  readonly certificateSha256: string;
  /** SHA-256 of the signing (current) CA certificate's DER. */
  readonly signerSha256: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

/** SHA-256 of a certificate's DER, lower-case hex (node's fingerprint256 without colons). */
export function certificateSha256(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/**
 * The text of a proof file: `signer` (the current CA, with its key) vouches
 * that `subject` is its rotation's `role` CA, from `now` (back-dated by
 * `backdateSeconds`) for `validityDays`, never past either certificate's
 * notAfter. The key must be the signer certificate's (asserted).
 */
export function signCaProof(options: {
  readonly signerKeyPem: string;
  readonly signer: X509Certificate;
  readonly subject: X509Certificate;
  readonly role: CaProofRole;
  readonly now: Date;
  readonly validityDays: number;
  readonly backdateSeconds: number;
}): string {
  const key = createPrivateKey(options.signerKeyPem);
  if (!options.signer.checkPrivateKey(key)) throw new Error('pki: a CA proof signed with another key');
  if (!options.signer.ca || !options.subject.ca) throw new Error('pki: a CA proof between CAs only');
  const notAfter = Math.min(
    options.now.getTime() + options.validityDays * dayMs,
    new Date(options.signer.validTo).getTime(),
    new Date(options.subject.validTo).getTime(),
  );
  const statement: CaProofStatement = {
    type: proofType,
    version: proofVersion,
    role: options.role,
    certificateSha256: certificateSha256(options.subject),
    signerSha256: certificateSha256(options.signer),
    notBefore: new Date(options.now.getTime() - options.backdateSeconds * 1000).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
  };
  const bytes = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
  return `${JSON.stringify({ statement: base64url(bytes), signature: base64url(signature) })}\n`;
}

/** Whether a proof holds, and why not (a phrase for a warning naming the file). */
export type CaProofCheck =
  | { readonly valid: true; readonly notAfter: Date }
  | { readonly valid: false; readonly why: string };

const base64urlPattern = /^[A-Za-z0-9_-]+$/;

function fileFieldsOf(text: string): { statement: Buffer; signature: Buffer } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { statement, signature } = parsed as Record<string, unknown>;
  if (typeof statement !== 'string' || typeof signature !== 'string') return undefined;
  if (!base64urlPattern.test(statement) || !base64urlPattern.test(signature)) return undefined;
  return { statement: Buffer.from(statement, 'base64url'), signature: Buffer.from(signature, 'base64url') };
}

function statementOf(bytes: Buffer): CaProofStatement | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const value = parsed as Record<string, unknown>;
  const strings = ['role', 'certificateSha256', 'signerSha256', 'notBefore', 'notAfter'] as const;
  if (value.type !== proofType || value.version !== proofVersion) return undefined;
  if (strings.some((name) => typeof value[name] !== 'string')) return undefined;
  if (value.role !== 'next' && value.role !== 'previous') return undefined;
  return value as unknown as CaProofStatement;
}

/**
 * Checks a proof file's text (undefined: no file) in this order: its length,
 * its form, the signature under `signer`'s public key (the current CA; only
 * signed bytes are read further), then what it states: this `role`, this
 * `subject`, this signer, and `now` within its validity.
 */
export function verifyCaProof(
  text: string | undefined,
  expected: {
    readonly signer: X509Certificate;
    readonly subject: X509Certificate;
    readonly role: CaProofRole;
    readonly now: Date;
  },
): CaProofCheck {
  if (text === undefined) return { valid: false, why: 'no proof' };
  if (Buffer.byteLength(text, 'utf8') > caProofLengthMax)
    return { valid: false, why: `a proof longer than ${caProofLengthMax} bytes` };
  const fields = fileFieldsOf(text);
  if (fields === undefined) return { valid: false, why: 'a damaged proof' };
  const signed = verify(
    'sha256',
    fields.statement,
    { key: expected.signer.publicKey, dsaEncoding: 'ieee-p1363' },
    fields.signature,
  );
  if (!signed) return { valid: false, why: "a proof not signed by the current CA's key" };
  const statement = statementOf(fields.statement);
  if (statement === undefined) return { valid: false, why: 'a damaged proof' };
  if (statement.role !== expected.role)
    return { valid: false, why: `a proof for the ${statement.role} CA, not the ${expected.role} one` };
  if (statement.signerSha256 !== certificateSha256(expected.signer))
    return { valid: false, why: 'a proof naming another signer' };
  if (statement.certificateSha256 !== certificateSha256(expected.subject))
    return { valid: false, why: 'a proof for another certificate' };
  const notBefore = Date.parse(statement.notBefore);
  const notAfter = Date.parse(statement.notAfter);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter))
    return { valid: false, why: 'a damaged proof' };
  if (notBefore > expected.now.getTime())
    return { valid: false, why: `a proof not valid before ${statement.notBefore}` };
  if (notAfter <= expected.now.getTime())
    return { valid: false, why: `a proof that expired on ${statement.notAfter}` };
  return { valid: true, notAfter: new Date(notAfter) };
}
