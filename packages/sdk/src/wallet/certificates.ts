import { certificateReference } from '@mpay/envelope';
import { deviceCertificatesMax, MpayError, parseCertificateReference } from '@mpay/protocol';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fetches a certificate by its reference (GET /certificates/:reference): the fallback for one this wallet lost. */
export type MerchantCertificateFetch = (reference: string) => Promise<string>;

/**
 * The merchant certificates this wallet verified, by reference (the base64url
 * SHA-256 of each text), the most recently used last, at most
 * `deviceCertificatesMax`. A `push/v2` names a certificate the device holds
 * by reference instead of carrying it (@mpay/protocol ims/push.ts); the
 * wallet lists what it holds when it opens its stream. What is kept is only
 * text whose hash is the reference: it is verified again, as if it had come
 * whole, every time it is used. In memory: a new wallet starts empty and says
 * so, and the FSP then sends certificates whole again.
 */
export class MerchantCertificates {
  readonly #texts = new Map<string, string>();

  /** The references held, for the stream's `mpay-certificates` header. */
  references(): readonly string[] {
    return [...this.#texts.keys()];
  }

  /**
   * The push with its merchant certificate whole: as sent, from this cache
   * by its reference, or fetched by it (one round trip) when the cache lost it.
   * MESSAGE_INVALID for a reference that is not one or a push with both;
   * CRYPTO_VERIFICATION_FAILED when the fetched text is not the one named.
   */
  async resolve(push: unknown, fetchCertificate: MerchantCertificateFetch): Promise<unknown> {
    if (!isRecord(push) || !Object.hasOwn(push, 'merchantCertificateSha256')) return push;
    if (Object.hasOwn(push, 'merchantCertificate'))
      throw new MpayError('MESSAGE_INVALID', 'merchantCertificate');
    const reference = parseCertificateReference(push.merchantCertificateSha256);
    const { merchantCertificateSha256: _named, ...rest } = push;
    const kept = this.#texts.get(reference);
    if (kept !== undefined) return { ...rest, merchantCertificate: kept };
    const fetched = await fetchCertificate(reference);
    if ((await certificateReference(fetched)) !== reference)
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    return { ...rest, merchantCertificate: fetched };
  }

  /** Keeps a certificate that verified, as the most recently used; the oldest goes beyond the limit. */
  async remember(certificate: string): Promise<void> {
    const reference = await certificateReference(certificate);
    this.#texts.delete(reference);
    this.#texts.set(reference, certificate);
    while (this.#texts.size > deviceCertificatesMax) {
      const oldest = this.#texts.keys().next().value;
      if (oldest === undefined) break;
      this.#texts.delete(oldest);
    }
  }
}
