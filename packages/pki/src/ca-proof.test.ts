import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, type PemPair } from './ca.ts';
import { caProofLengthMax, signCaProof, verifyCaProof } from './ca-proof.ts';
import { dayMs } from './limits.ts';

const now = new Date('2026-12-02T12:00:00Z');
let current: PemPair;
let next: PemPair;
let other: PemPair;

beforeAll(async () => {
  current = await createDeploymentCa({ now, label: 'current' });
  next = await createDeploymentCa({ now, label: 'next' });
  other = await createDeploymentCa({ now, label: 'other' });
});

const certificateOf = (pair: PemPair) => new X509Certificate(pair.certPem);

function proofOfNext(
  overrides: { signer?: PemPair; role?: 'next' | 'previous'; validityDays?: number } = {},
) {
  const signer = overrides.signer ?? current;
  return signCaProof({
    signerKeyPem: signer.keyPem,
    signer: certificateOf(signer),
    subject: certificateOf(next),
    role: overrides.role ?? 'next',
    now,
    validityDays: overrides.validityDays ?? 30,
    backdateSeconds: 300,
  });
}

const check = (text: string | undefined, at: Date = now, role: 'next' | 'previous' = 'next') =>
  verifyCaProof(text, { signer: certificateOf(current), subject: certificateOf(next), role, now: at });

describe('a CA rotation proof', () => {
  it('verifies for its signer, subject and role, within its validity, and not a moment after', () => {
    const proof = proofOfNext();
    expect(proof.length).toBeLessThan(caProofLengthMax);
    expect(check(proof)).toEqual({ valid: true, notAfter: new Date(now.getTime() + 30 * dayMs) });
    expect(check(proof, new Date(now.getTime() + 30 * dayMs))).toEqual({
      valid: false,
      why: `a proof that expired on ${new Date(now.getTime() + 30 * dayMs).toISOString()}`,
    });
    expect(check(proof, new Date(now.getTime() - 301_000)).valid).toBe(false);
  });

  it.each([
    ['no file', undefined, 'no proof'],
    ['another key', () => proofOfNext({ signer: other }), "a proof not signed by the current CA's key"],
    [
      'another role',
      () => proofOfNext({ role: 'previous' }),
      'a proof for the previous CA, not the next one',
    ],
    ['not JSON', () => 'not json', 'a damaged proof'],
    ['too long', () => ' '.repeat(caProofLengthMax + 1), `a proof longer than ${caProofLengthMax} bytes`],
  ] as const satisfies readonly (readonly [string, (() => string) | undefined, string])[])(
    'is refused with %s',
    (_, make, why) => {
      expect(check(typeof make === 'function' ? make() : make)).toEqual({ valid: false, why });
    },
  );

  it('is refused when one byte of its statement or signature changes', () => {
    const file = JSON.parse(proofOfNext()) as { statement: string; signature: string };
    const statement = Buffer.from(file.statement, 'base64url');
    statement[statement.indexOf('"next"') + 1] = 'N'.charCodeAt(0);
    const signature = Buffer.from(file.signature, 'base64url');
    signature[0] = (signature[0] ?? 0) ^ 1;
    for (const tampered of [
      { statement: statement.toString('base64url'), signature: file.signature },
      { statement: file.statement, signature: signature.toString('base64url') },
    ])
      expect(check(JSON.stringify(tampered))).toEqual({
        valid: false,
        why: "a proof not signed by the current CA's key",
      });
  });

  it('never outlives the CAs it names', () => {
    const proof = proofOfNext({ validityDays: 100_000 });
    const result = check(proof);
    expect(result.valid && result.notAfter.getTime()).toBe(
      Math.min(
        new Date(certificateOf(current).validTo).getTime(),
        new Date(certificateOf(next).validTo).getTime(),
      ),
    );
  });
});
