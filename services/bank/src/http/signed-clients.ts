import type { PublicJwk } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

export interface BankClient {
  id: string;
  signingJwk: PublicJwk;
  /** Routes (`METHOD /path-prefix`) this client may call. */
  allowed: readonly string[];
}

/**
 * The bank trusts a fixed list of clients (the FSP for transfers, the bank's
 * own operator for accounts), each by its public key. Money never moves on a
 * request whose signature, audience, freshness or body hash does not verify.
 */
export function bankRequestVerifier(bankId: string, clients: readonly BankClient[]) {
  return async (request: {
    method: string;
    url: string;
    headers: Record<string, unknown>;
    rawBody: string;
  }) => {
    const authorization =
      typeof request.headers.authorization === 'string' ? request.headers.authorization : undefined;
    let client: BankClient | undefined;
    const verified = await verifySignedRequest(
      { method: request.method, path: request.url, body: request.rawBody, authorization },
      {
        audience: bankId,
        resolveKey: (kid) => {
          client = clients.find((candidate) => candidate.signingJwk.kid === kid);
          return client?.signingJwk;
        },
      },
    );
    if (client === undefined || client.id !== verified.issuer) throw new MpayError('AUTHENTICATION_FAILED');
    const route = `${request.method.toUpperCase()} ${request.url}`;
    if (!client.allowed.some((prefix) => route.startsWith(prefix))) throw new MpayError('FORBIDDEN');
    return {
      callerId: client.id,
      once: { nonce: verified.nonce, expiresAtSeconds: verified.expiresAtSeconds },
    };
  };
}
