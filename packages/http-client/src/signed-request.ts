import {
  type ExternalSigningKey,
  encodeBase64url,
  type PrivateJwk,
  type SigningKey,
  sha256,
  signPayload,
  type VerificationKeyResolver,
  verifyPayload,
} from '@mpay/envelope';
import { canonicalize, MpayError } from '@mpay/protocol';

/**
 * Requests between parties are authenticated by a short-lived JWS in the
 * `Authorization: MPay <jws>` header, bound to the method, the path and a hash
 * of the body (in the spirit of DPoP, RFC 9449), so a captured header cannot be
 * replayed against another request.
 */
export const authorizationScheme = 'MPay';
export const requestTokenLifetimeSeconds = 60;

const textEncoder = new TextEncoder();

async function sha256Base64Url(text: string): Promise<string> {
  return encodeBase64url(await sha256(textEncoder.encode(text)));
}

export interface RequestToSign {
  method: string;
  path: string;
  body: string;
}

export async function signRequest(
  request: RequestToSign,
  signer: { issuer: string; audience: string; key: PrivateJwk | SigningKey | ExternalSigningKey },
): Promise<string> {
  const payload = {
    htm: request.method.toUpperCase(),
    htu: request.path,
    bodySha256: await sha256Base64Url(request.body),
  };
  const token = await signPayload(
    payload,
    {
      issuer: signer.issuer,
      audience: signer.audience,
      transactionId: `request:${crypto.randomUUID()}`,
      expiresInSeconds: requestTokenLifetimeSeconds,
    },
    signer.key,
  );
  return `${authorizationScheme} ${token}`;
}

export interface VerifiedRequest {
  issuer: string;
  nonce: string;
  expiresAtSeconds: number;
}

/** Verifies the Authorization header of a request; every failure is AUTHENTICATION_FAILED. */
export async function verifySignedRequest(
  request: RequestToSign & { authorization: string | undefined },
  verifier: { audience: string; resolveKey: VerificationKeyResolver; clockSkewSeconds?: number },
): Promise<VerifiedRequest> {
  const [scheme, token, extra] = (request.authorization ?? '').split(' ');
  if (scheme !== authorizationScheme || token === undefined || extra !== undefined) {
    throw new MpayError('AUTHENTICATION_FAILED');
  }
  try {
    const verified = await verifyPayload(
      token,
      verifier.resolveKey,
      { audience: verifier.audience },
      {
        clockSkewSeconds: verifier.clockSkewSeconds ?? 30,
        maxAgeSeconds: requestTokenLifetimeSeconds,
      },
    );
    const expected = {
      htm: request.method.toUpperCase(),
      htu: request.path,
      bodySha256: await sha256Base64Url(request.body),
    };
    const actual = {
      htm: verified.payload.htm,
      htu: verified.payload.htu,
      bodySha256: verified.payload.bodySha256,
    };
    if (canonicalize(actual) !== canonicalize(expected)) throw new MpayError('AUTHENTICATION_FAILED');
    return {
      issuer: verified.claims.iss,
      nonce: verified.claims.nonce,
      expiresAtSeconds: verified.claims.exp,
    };
  } catch (error) {
    throw new MpayError('AUTHENTICATION_FAILED', undefined, { cause: error });
  }
}
