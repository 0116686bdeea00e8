import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { sampleImsJson, sampleSignatures } from './arbitraries.test-helper.ts';
import { imsFromJson } from './json.ts';
import {
  deviceCertificatesMax,
  fspSignatureKnown,
  merchantSignatureKnown,
  parseCertificateReference,
  parseCertificateReferences,
  parsePushSignatureClaims,
  pushDetachedSigns,
  withChainSigns,
} from './push.ts';

const claims = { iat: 1_700_000_000, exp: 1_700_000_300, nonce: 'A'.repeat(22) };

/** The sample message at step 2: the merchant's and the FSP's signatures detached, no customer signature yet. */
function pushedMessage() {
  const json = sampleImsJson();
  const { sign: _customer, ...from } = json.address.from;
  return imsFromJson({ ...json, address: { ...json.address, from } });
}

describe('push/v2: the step-2 message with its two signatures detached', () => {
  it('reads the two sets of claims and nothing else', () => {
    expect(parsePushSignatureClaims({ merchant: claims, fsp: claims })).toEqual({
      merchant: claims,
      fsp: claims,
    });
    const hostile: unknown[] = [
      null,
      [],
      { merchant: claims },
      { merchant: claims, fsp: claims, customer: claims },
      { merchant: claims, fsp: { ...claims, nonce: 'short' } },
      { merchant: { ...claims, exp: claims.iat - 1 }, fsp: claims },
      { merchant: { ...claims, iss: 'someone' }, fsp: claims },
      JSON.parse(`{"merchant":${JSON.stringify(claims)},"fsp":${JSON.stringify(claims)},"__proto__":{}}`),
    ];
    for (const value of hostile)
      expect(
        thrownCodeOf(() => parsePushSignatureClaims(value)),
        JSON.stringify(value),
      ).toBe('MESSAGE_INVALID');
  });

  it('takes both signatures only detached, and only before the customer signed', () => {
    const message = pushedMessage();
    expect(pushDetachedSigns(message)).toEqual({
      merchant: sampleSignatures.merchant,
      fsp: sampleSignatures.fsp,
    });
    const whole = 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl';
    expect(
      thrownCodeOf(() =>
        pushDetachedSigns(withChainSigns(message, { merchant: whole, fsp: sampleSignatures.fsp })),
      ),
    ).toBe('MESSAGE_INVALID');
    expect(
      thrownCodeOf(() =>
        pushDetachedSigns(withChainSigns(message, { merchant: sampleSignatures.merchant, fsp: whole })),
      ),
    ).toBe('MESSAGE_INVALID');
    const signed = {
      ...message,
      address: { ...message.address, from: { ...message.address.from, sign: whole } },
    };
    expect(thrownCodeOf(() => pushDetachedSigns(signed))).toBe('MESSAGE_INVALID');
  });

  it('names the claims each verifier knows from the message itself', () => {
    const message = pushedMessage();
    expect(merchantSignatureKnown(message, 'fsp.example')).toEqual({
      iss: 'merkur.trade@merchant.xbank',
      aud: 'fsp.example',
      txn: message.transactionId,
    });
    expect(fspSignatureKnown(message, 'fsp.example')).toEqual({
      iss: 'fsp.example',
      aud: 'john.bernard@person.xbank',
      txn: message.transactionId,
    });
  });

  it("reads a certificate reference and a wallet's list of them, and nothing else", () => {
    const reference = `${'A'.repeat(42)}_`;
    expect(parseCertificateReference(reference)).toBe(reference);
    for (const bad of [undefined, 1, '', `${reference}=`, 'A'.repeat(44), `${'A'.repeat(42)}+`])
      expect(thrownCodeOf(() => parseCertificateReference(bad))).toBe('MESSAGE_INVALID');
    expect(parseCertificateReferences('')).toEqual([]);
    const many = Array.from(
      { length: deviceCertificatesMax },
      (_, index) => `${String(index).padStart(2, '0')}${'B'.repeat(41)}`,
    );
    expect(parseCertificateReferences(many.join(','))).toEqual(many);
    for (const bad of [
      [...many, `99${'B'.repeat(41)}`].join(','),
      `${reference},${reference}`,
      `${reference},`,
      `${reference} `,
      'x',
    ])
      expect(thrownCodeOf(() => parseCertificateReferences(bad))).toBe('REQUEST_INVALID');
  });
});
