import { attachCanonicalPayload, decodeUnverified } from '@mpay/envelope';
import {
  type ConsentClaimsKnown,
  detachPayload,
  fspSignatureKnown,
  fspSignedContent,
  type ImsMessage,
  type ImsSignedContent,
  imsToJson,
  merchantSignatureKnown,
  merchantSignedContent,
  type SignatureClaims,
  signedPayloadOf,
  withChainSigns,
} from '@mpay/protocol';

/**
 * The claims a phone needs beside `jws` detached to rebuild it from `content`
 * and `known` (@mpay/protocol ims/push.ts), or undefined when the rebuilt JWS
 * would not be the signed one byte for byte. The claims are read unverified:
 * both JWSs were verified (the merchant's) or made (the FSP's) here, and the
 * comparison with the rebuilt JWS is the only decision taken on them.
 */
function claimsForPhone(
  jws: string | undefined,
  content: ImsSignedContent,
  known: ConsentClaimsKnown,
): SignatureClaims | undefined {
  if (jws === undefined) return undefined;
  const payload = decodeUnverified(jws)?.payload as Record<string, unknown> | undefined;
  const { iat, exp, nonce } = payload ?? {};
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof nonce !== 'string') return undefined;
  const claims: SignatureClaims = { iat, exp, nonce };
  const rebuilt = attachCanonicalPayload(detachPayload(jws), signedPayloadOf(content, known, claims));
  return rebuilt === jws ? claims : undefined;
}

/**
 * What the FSP encrypts to the customer's device in iMS step 2: `push/v2`
 * (both signatures detached in the message, their claims beside it: about two
 * fifths smaller) for a phone that holds its key, else `push/v1` (the whole
 * message: what custody reads, and what a phone gets when a signature could
 * not be detached exactly). The merchant's name travels in its certificate,
 * signed by the FSP: the only name a wallet shows.
 */
export function devicePushContent(
  countersigned: ImsMessage,
  merchantCertificate: string | undefined,
  options: { readonly fspId: string; readonly toCustody: boolean },
): Record<string, unknown> {
  const whole = { ims: imsToJson(countersigned), merchantCertificate };
  const { to, fspSign } = countersigned.address;
  if (options.toCustody || to.sign === undefined || fspSign === undefined) return whole;
  const merchant = claimsForPhone(
    to.sign,
    merchantSignedContent(countersigned),
    merchantSignatureKnown(countersigned, options.fspId),
  );
  const fsp = claimsForPhone(
    fspSign,
    fspSignedContent(countersigned),
    fspSignatureKnown(countersigned, options.fspId),
  );
  if (merchant === undefined || fsp === undefined) return whole;
  const detached = withChainSigns(countersigned, {
    merchant: detachPayload(to.sign),
    fsp: detachPayload(fspSign),
  });
  return { ims: imsToJson(detached), signatureClaims: { merchant, fsp }, merchantCertificate };
}
