import { createHash } from 'node:crypto';
import { deviceCertificatesMax } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { MerchantCertificates } from './certificates.ts';

/** The reference as the FSP computes it, independently of the code under test. */
const referenceOf = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');
const merchantId = 'merkur.trade@merchant.ybank';
const pushNaming = (reference: unknown, extra: Record<string, unknown> = {}) => ({
  ims: { address: { to: { id: merchantId } } },
  signatureClaims: {},
  merchantCertificateSha256: reference,
  ...extra,
});
const unreachable = async (): Promise<string> => {
  throw new Error('no fetch expected');
};

describe('MerchantCertificates (push/v2 certificates by reference)', () => {
  it('passes a push that carries its certificate, and fills in one it holds by reference', async () => {
    const certificates = new MerchantCertificates();
    const whole = { ims: {}, merchantCertificate: 'certificate-1' };
    expect(await certificates.resolve(whole, unreachable)).toBe(whole);
    await certificates.remember('certificate-1');
    expect(certificates.references()).toEqual([referenceOf('certificate-1')]);
    expect(await certificates.resolve(pushNaming(referenceOf('certificate-1')), unreachable)).toEqual({
      ims: { address: { to: { id: merchantId } } },
      signatureClaims: {},
      merchantCertificate: 'certificate-1',
    });
  });

  it('fetches a certificate it lost by its reference, and uses it only when its text is the one named', async () => {
    const certificates = new MerchantCertificates();
    const asked: string[] = [];
    const fetchAs = (text: string) => async (reference: string) => {
      asked.push(reference);
      return text;
    };
    const resolved = await certificates.resolve(
      pushNaming(referenceOf('certificate-2')),
      fetchAs('certificate-2'),
    );
    expect((resolved as { merchantCertificate: string }).merchantCertificate).toBe('certificate-2');
    expect(asked).toEqual([referenceOf('certificate-2')]);
    // The merchant's certificate changed since (or the FSP answers another): not the one named.
    expect(
      await rejectedCodeOf(
        certificates.resolve(pushNaming(referenceOf('certificate-2')), fetchAs('certificate-3')),
      ),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
  });

  it('refuses a reference that is not one, and both forms at once', async () => {
    const certificates = new MerchantCertificates();
    for (const reference of [undefined, 42, 'short', `${'A'.repeat(42)}=`, `${'A'.repeat(43)}A`])
      expect(await rejectedCodeOf(certificates.resolve(pushNaming(reference), unreachable))).toBe(
        'MESSAGE_INVALID',
      );
    expect(
      await rejectedCodeOf(
        certificates.resolve(pushNaming(referenceOf('x'), { merchantCertificate: 'x' }), unreachable),
      ),
    ).toBe('MESSAGE_INVALID');
  });

  it(`keeps the ${deviceCertificatesMax} most recently used, the oldest going first`, async () => {
    const certificates = new MerchantCertificates();
    for (let index = 0; index <= deviceCertificatesMax; index += 1) await certificates.remember(`c${index}`);
    expect(certificates.references()).toHaveLength(deviceCertificatesMax);
    expect(certificates.references()).not.toContain(referenceOf('c0'));
    // c1, used again, becomes the most recent: the next one in goes instead of c2, the oldest now.
    await certificates.remember('c1');
    await certificates.remember('new');
    expect(certificates.references()).toContain(referenceOf('c1'));
    expect(certificates.references()).not.toContain(referenceOf('c2'));
    expect(certificates.references().at(-1)).toBe(referenceOf('new'));
  });
});
