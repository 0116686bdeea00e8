import { encodeBase64url } from '../encoding.ts';
import { sha256 } from '../engine.ts';

const textEncoder = new TextEncoder();

/**
 * A certificate's reference: the base64url SHA-256 (43 characters) of its
 * compact text, exactly as issued. A push names the merchant's certificate by
 * it when the device holds that text already (`push/v2`, @mpay/protocol
 * ims/push.ts); the device checks that the text it uses hashes to it, then
 * verifies the certificate as if it had come whole.
 */
export async function certificateReference(certificate: string): Promise<string> {
  return encodeBase64url(await sha256(textEncoder.encode(certificate)));
}
