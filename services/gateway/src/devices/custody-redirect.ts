import type { PublicJwk } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import type { CustodianLink, GatewayContext } from '../context.ts';

/**
 * What the FSP redirects to custody for a customer whose key is in custody:
 * one event of one payment (or of one of its refunds), `data` the FSP's
 * message encrypted to the customer's binding's key, which is custody's.
 */
export type CustodyRedirect =
  | {
      readonly event: 'payment-request' | 'receipt' | 'outcome';
      readonly paymentId: string;
      readonly data: string;
    }
  | {
      readonly event: 'refund-receipt';
      readonly paymentId: string;
      readonly refundId: string;
      readonly data: string;
    };

/** Largest answer custody may give a redirect (an acknowledgement or an error). */
const custodyAnswerBytesMax = 16 * 1024;

/**
 * The custodian holding the key of a binding, if any: a customer whose
 * binding names a custodian's encryption key has the key in custody, and the
 * FSP's messages for them go to custody instead of to a phone.
 */
export function custodianOf(
  context: GatewayContext,
  binding: { readonly encryptionJwk: PublicJwk },
): CustodianLink | undefined {
  return context.custodians.find((link) => link.encryptionJwk.kid === binding.encryptionJwk.kid);
}

/**
 * iMS §5 step 1's redirect: a request signed by the FSP, the message
 * encrypted to custody (the binding's key). Custody must acknowledge (2xx);
 * anything else throws, so the outbox row that asked for it is retried.
 */
export async function redirectToCustody(
  context: GatewayContext,
  custodian: CustodianLink,
  redirect: CustodyRedirect,
): Promise<void> {
  const path = '/fsp/messages';
  const body = JSON.stringify(redirect);
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: context.fsp.id, audience: custodian.id, key: context.fsp.signing.privateJwk },
  );
  const answer = await requestAnswer(`${custodian.url}${path}`, {
    body,
    contentType: 'application/json',
    headers: { authorization },
    timeoutMs: context.limits.bankTimeoutMs,
    responseBytesMax: custodyAnswerBytesMax,
  });
  if (answer.status < 200 || answer.status >= 300) throw errorFromAnswer(answer.body, answer.status);
}
