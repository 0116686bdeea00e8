import {
  decodeBase64url,
  type PublicJwk,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  verifyRawSignature,
} from '@mpay/envelope';
import { checkTillCodeTime, isMpayError, MpayError, parseTillCode, type TillCode } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { certificateBySigningKid, checkCertificate } from '../registry/certificates.ts';
import { findParty, type Party } from '../registry/parties.ts';

/** A till code whose merchant signature verified under the merchant's certified key, within its validity. */
export interface VerifiedTillCode {
  readonly code: TillCode;
  readonly merchant: Party;
}

function signatureInvalid(): never {
  throw new MpayError('QR_SIGNATURE_INVALID');
}

function isSigningAlgorithm(alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
}

/** The merchant's signing key `kid` as the FSP certified it: its own certificate, valid now, not revoked. */
async function certifiedSigningKey(
  context: GatewayContext,
  merchant: Party,
  kid: string,
): Promise<PublicJwk> {
  const record = await certificateBySigningKid(context.database, kid);
  if (record === undefined || record.partyId !== merchant.id) signatureInvalid();
  const certificate = await checkCertificate(
    context.fsp,
    record,
    merchant.id,
    context.limits.clockSkewSeconds,
    context.clock(),
  ).catch((error: unknown) => {
    if (isMpayError(error)) return signatureInvalid();
    throw error;
  });
  return certificate.signingJwk;
}

/**
 * The FSP checks a till code again, on its own (it trusts no wallet): the
 * EMV structure and CRC, the mpay layout, the expiry on the service's clock,
 * a registered merchant, and the merchant's signature over the code's signed
 * bytes under the key the FSP certified for that merchant (valid, not
 * revoked; the kid the code names). Any failure of the signature is the one
 * QR_SIGNATURE_INVALID, an unknown merchant included (nobody can have signed for it).
 */
export async function verifyTillCode(context: GatewayContext, payload: unknown): Promise<VerifiedTillCode> {
  const code = parseTillCode(payload);
  checkTillCodeTime(code, context.clock(), { clockSkewSeconds: context.limits.clockSkewSeconds });
  const merchant = await findParty(context.database, code.merchantId);
  if (merchant?.kind !== 'merchant') signatureInvalid();
  const jwk = await certifiedSigningKey(context, merchant, code.keyId);
  const signature = decodeBase64url(code.signature);
  if (signature === undefined || !isSigningAlgorithm(jwk.alg)) signatureInvalid();
  const valid = await verifyRawSignature(jwk.alg, jwk, code.signingInput, signature).catch(() => false);
  if (!valid) signatureInvalid();
  return { code, merchant };
}
