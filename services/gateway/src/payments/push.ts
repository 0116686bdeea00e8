import { attachCanonicalPayload, decodeUnverified } from '@mpay/envelope';
import {
  detachPayload,
  type ImsMessage,
  imsFromJson,
  imsToJson,
  parsePushSignatureClaims,
  pushDetachedSigns,
  pushSignedPayloads,
  type SignatureClaims,
  withChainSigns,
} from '@mpay/protocol';
import type { PushFormat } from '../registry/bindings.ts';

/** The claims of a JWS made or verified here, read unverified: undefined unless they have the phone's shape. */
function claimsOf(jws: string): SignatureClaims | undefined {
  const payload = decodeUnverified(jws)?.payload as Record<string, unknown> | undefined;
  const { iat, exp, nonce } = payload ?? {};
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof nonce !== 'string') return undefined;
  return { iat, exp, nonce };
}

/**
 * What the phone does with a `push/v2` (packages/sdk payment-request/verify.ts
 * `withWholeSigns`), from the text it receives: parse the message and the
 * claims as hostile input, put both payloads back. Throws what the phone would.
 */
function rebuiltByPhone(text: string, fspId: string): { readonly merchant: string; readonly fsp: string } {
  const sent = JSON.parse(text) as Record<string, unknown>;
  const message = imsFromJson(sent.ims);
  const claims = parsePushSignatureClaims(sent.signatureClaims);
  const detached = pushDetachedSigns(message);
  const payloads = pushSignedPayloads(message, fspId, claims);
  return {
    merchant: attachCanonicalPayload(detached.merchant, payloads.merchant),
    fsp: attachCanonicalPayload(detached.fsp, payloads.fsp),
  };
}

/**
 * What the FSP encrypts to the customer's device in iMS step 2: `push/v2`
 * (both signatures detached in the message, their claims beside it: about two
 * fifths smaller) when `format` asks for it (a wallet that said it reads it),
 * else `push/v1` (the whole message: what custody and older wallets read, and
 * what a phone gets when its rebuild would not give back both signed JWSs byte
 * for byte, or fails). The rebuild is the phone's own, run here on the very
 * text sent. The merchant's name travels in its certificate, signed by the
 * FSP: the only name a wallet shows. In `push/v2`, a certificate the device
 * holds already travels as `heldCertificate`, its reference
 * (`merchantCertificateSha256`), instead of whole.
 */
export function devicePushContent(
  countersigned: ImsMessage,
  merchantCertificate: string | undefined,
  options: { readonly fspId: string; readonly format: PushFormat; readonly heldCertificate?: string },
): Record<string, unknown> {
  const whole = { ims: imsToJson(countersigned), merchantCertificate };
  const { to, fspSign } = countersigned.address;
  if (options.format !== 'v2' || to.sign === undefined || fspSign === undefined) return whole;
  const merchant = claimsOf(to.sign);
  const fsp = claimsOf(fspSign);
  if (merchant === undefined || fsp === undefined) return whole;
  try {
    const detached = withChainSigns(countersigned, {
      merchant: detachPayload(to.sign),
      fsp: detachPayload(fspSign),
    });
    const certificate =
      options.heldCertificate === undefined
        ? { merchantCertificate }
        : { merchantCertificateSha256: options.heldCertificate };
    const compact = { ims: imsToJson(detached), signatureClaims: { merchant, fsp }, ...certificate };
    const rebuilt = rebuiltByPhone(JSON.stringify(compact), options.fspId);
    return rebuilt.merchant === to.sign && rebuilt.fsp === fspSign ? compact : whole;
  } catch {
    return whole;
  }
}
