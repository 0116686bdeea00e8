import { errorFromAnswer, requestAnswer } from '@mpay/http-client';
import { isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import { type FspTrust, merchantShown, verifyMerchantCertificate } from '@mpay/sdk';

/**
 * ID_M as the customer typed it, checked before step 1 is sent: the FSP (the
 * MPASP) must know the merchant and hold a certificate of its keys that
 * verifies under the FSP's pinned key. The name shown is the one the FSP
 * certified in that certificate, never one the person, a link or an unsigned
 * answer supplied; without a certified name it is the merchant's id.
 */
export interface VerifiedMerchant {
  readonly id: string;
  readonly name: string;
  /** False when the certificate names no display name (`name` is then the id). */
  readonly nameCertified: boolean;
  /** ID_MB, read from ID_M. */
  readonly bankId: string;
}

const partyAnswerBytesMax = 64 * 1024;

export async function verifiedMerchant(
  gatewayUrl: string,
  fsp: FspTrust,
  merchantId: string,
): Promise<VerifiedMerchant> {
  const parsed = parsePartyId(merchantId, 'merchantId');
  if (parsed.kind !== 'merchant' || parsed.id !== merchantId)
    throw new MpayError('PARTY_UNKNOWN', 'merchantId');
  const bankId = parsed.bank;
  const answer = await requestAnswer(`${gatewayUrl}/parties/${encodeURIComponent(merchantId)}`, {
    responseBytesMax: partyAnswerBytesMax,
  });
  if (answer.status !== 200) throw errorFromAnswer(answer.body, answer.status);
  const { id, kind, certificate } = (answer.body ?? {}) as Record<string, unknown>;
  if (id !== merchantId || kind !== 'merchant' || typeof certificate !== 'string')
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'merchant');
  const verified = await verifyMerchantCertificate(certificate, merchantId, fsp).catch((error: unknown) => {
    if (isMpayError(error) && error.category === 'retryable') throw error;
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'certificate');
  });
  const shown = merchantShown(verified);
  return { id: merchantId, name: shown.name, nameCertified: shown.nameCertified !== false, bankId };
}
