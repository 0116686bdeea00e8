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
  /**
   * The bank's key-agreement key (ECDH-ES, P-256), when configured: customers'
   * devices seal their one-time codes to its public half (GET /bank,
   * `encryptionJwk`, and the enrolment answer), and the bank seals the TOTP
   * secrets it stores to it. Without it the bank has no second factor: it
   * provisions none and refuses every payment whose level asks for one.
   */
  readonly encryption: BankEncryptionKey | undefined;
}

export interface BankEncryptionKey {
  readonly publicJwk: PublicJwk;
  /** The private half: never logged, never answered. */
  readonly privateJwk: PrivateJwk;
}

/** The bank's key-agreement key from its configuration: a private P-256 JWK with use 'enc' and its kid. */
export function bankEncryptionKey(encryptionKey: PrivateJwk): BankEncryptionKey {
  const key = parsePrivateJwk(encryptionKey);
  // A programmer error in the configuration: fail at start, not at the first code.
  if (key.use !== 'enc' || key.kid === undefined) {
    throw new Error('assertion failed: the bank encryption key is a key-agreement key with a kid');
  }
  return Object.freeze({ publicJwk: Object.freeze(publicPart(key)), privateJwk: Object.freeze(key) });
}

export function createBankIdentity(
  id: string,
  signingKey: PrivateJwk,
  encryption?: BankEncryptionKey | undefined,
): BankIdentity {
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
    encryption,
  });
}
