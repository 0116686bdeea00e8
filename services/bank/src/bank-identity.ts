import {
  type PrivateJwk,
  type PublicJwk,
  type PublicJwkSet,
  parsePrivateJwk,
  publicJwkSet,
  publicPart,
} from '@mpay/envelope';

/**
 * The bank as a signer: its id and its institutional signing key, with which
 * it issues key bindings and signs its answers to payment orders. Its public
 * key is published at GET /bank for the FSP and anyone else to check them.
 */
export interface BankIdentity {
  readonly id: string;
  readonly signingKey: PrivateJwk;
  readonly publicJwk: PublicJwk;
  /** What GET /bank publishes. */
  readonly keys: PublicJwkSet;
  /** The bank's own public key by kid (what it signed is checked against it), else undefined. */
  resolveKey(kid: string): PublicJwk | undefined;
}

export function createBankIdentity(id: string, signingKey: PrivateJwk): BankIdentity {
  const key = parsePrivateJwk(signingKey);
  // A programmer error in the configuration: fail at start, not at the first signature.
  if (key.use !== 'sig' || key.kid === undefined) {
    throw new Error('assertion failed: the bank signing key is a signing key with a kid');
  }
  const publicJwk = Object.freeze(publicPart(key));
  return Object.freeze({
    id,
    signingKey: Object.freeze(key),
    publicJwk,
    keys: publicJwkSet([publicJwk]),
    resolveKey: (kid: string) => (kid === publicJwk.kid ? publicJwk : undefined),
  });
}
