import { createHash } from 'node:crypto';
import { decodeBase64url, type ExternalSigningKey, type PublicJwk } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import { ensureSecretKeyObject, sealWith, unsealWith } from './key/secret-key.ts';
import {
  destroySigningKeyPair,
  generateSigningKeyPair,
  type HsmKeyAttributes,
  type HsmSigningKeyInfo,
  privateKeyAttributes,
  readSigningKey,
  signDigest,
  signingKeyInfo,
  uncompressedPoint,
} from './key/signing-key.ts';
import { assertTokenLabel, isKeyId, isKeyLabel } from './limits.ts';
import { acquireModule, type LoadedModule, releaseModule } from './pkcs11/module.ts';
import { TokenSession } from './pkcs11/session.ts';

export interface HsmOptions {
  /** The PKCS#11 library (a vendor's .so, or softhsm2's). */
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** Secret: never logged, never in an error. */
  readonly userPin: string;
}

/**
 * Customer signing keys and sealing keys inside a PKCS#11 token. Private and
 * secret keys are generated in the token as sensitive and never extractable;
 * only public keys, signatures and sealed bytes leave it.
 */
export class Hsm {
  readonly #module: LoadedModule;
  readonly #session: TokenSession;

  private constructor(module: LoadedModule, session: TokenSession) {
    this.#module = module;
    this.#session = session;
  }

  /**
   * Loads the module, C_Initialize (tolerating CKR_CRYPTOKI_ALREADY_INITIALIZED),
   * finds the token by label, opens a R/W session and logs in as user.
   * HSM_UNAVAILABLE when the module is missing or cannot load or no token has
   * this label; HSM_LOCKED when the PIN is wrong or locked. The detail names
   * the path or label and the PKCS#11 return value, never the PIN.
   */
  static open(options: HsmOptions): Hsm {
    assertTokenLabel(options.tokenLabel);
    const { module } = acquireModule(options.modulePath);
    try {
      return new Hsm(module, TokenSession.open(module, options.tokenLabel, options.userPin));
    } catch (error) {
      releaseModule(module);
      throw error;
    }
  }

  /**
   * An EC P-256 key pair generated inside the token: the private key token,
   * private, sensitive, not extractable, sign only; the public key verify only.
   */
  async generateSigningKey(label: string): Promise<HsmSigningKeyInfo> {
    requireKeyLabel(label);
    const material = this.#session.run((pkcs11, session) => generateSigningKeyPair(pkcs11, session, label));
    return signingKeyInfo(material);
  }

  /** The key pair with this id, or undefined when the token has no such pair. */
  async findSigningKey(id: string): Promise<HsmSigningKeyInfo | undefined> {
    if (!isKeyId(id)) return undefined;
    const material = this.#session.run((pkcs11, session) =>
      readSigningKey(pkcs11, session, Buffer.from(id, 'hex')),
    );
    return material === undefined ? undefined : signingKeyInfo(material);
  }

  /**
   * A signer for @mpay/envelope's `signPayload`: SHA-256 of the signing input
   * in Node, then CKM_ECDSA over the digest in the token, giving r‖s. The key
   * is looked up on every signature, so a destroyed key fails with
   * HSM_UNAVAILABLE and nothing is signed; a key whose public half is no
   * longer the one named here fails with CRYPTO_KEY_INVALID.
   */
  signer(key: HsmSigningKeyInfo): ExternalSigningKey {
    if (!isKeyId(key.id)) throw new MpayError('CRYPTO_KEY_INVALID', 'id');
    const expectedPoint = pointOfJwk(key.publicJwk);
    const id = Buffer.from(key.id, 'hex');
    const kid = key.publicJwk.kid!;
    const session = this.#session;
    return Object.freeze({
      kid,
      alg: 'ES256' as const,
      sign: async (signingInput: Uint8Array): Promise<Uint8Array> => {
        const digest = createHash('sha256').update(signingInput).digest();
        const signature = session.run((pkcs11, handle) =>
          signDigest(pkcs11, handle, id, expectedPoint, digest),
        );
        return new Uint8Array(signature);
      },
    });
  }

  /** Destroys the key pair; a key already gone is fine. */
  async destroySigningKey(id: string): Promise<void> {
    if (!isKeyId(id)) return;
    this.#session.run((pkcs11, session) => destroySigningKeyPair(pkcs11, session, Buffer.from(id, 'hex')));
  }

  /** An AES-256 secret key with this label (token, sensitive, not extractable, encrypt and decrypt only), created if absent. */
  async ensureSecretKey(label: string): Promise<void> {
    requireKeyLabel(label);
    this.#session.run((pkcs11, session) => ensureSecretKeyObject(pkcs11, session, label));
  }

  /** AES-256-GCM inside the token with a fresh 12-byte IV and a 128-bit tag: iv ‖ ciphertext ‖ tag. */
  async seal(label: string, plaintext: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    requireKeyLabel(label);
    return this.#session.run((pkcs11, session) =>
      sealWith(pkcs11, session, label, plaintext, additionalData),
    );
  }

  /**
   * The plaintext; CRYPTO_DECRYPTION_FAILED for altered bytes or other
   * additional data (without saying which). HSM_UNAVAILABLE when the token is
   * closed or has no key with this label.
   */
  async unseal(label: string, sealed: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    requireKeyLabel(label);
    return this.#session.run((pkcs11, session) => unsealWith(pkcs11, session, label, sealed, additionalData));
  }

  /** The private key's protection attributes, as the token reports them. */
  async attributesOf(id: string): Promise<HsmKeyAttributes> {
    if (!isKeyId(id)) throw new MpayError('HSM_UNAVAILABLE', 'no key with this id');
    return this.#session.run((pkcs11, session) =>
      privateKeyAttributes(pkcs11, session, Buffer.from(id, 'hex')),
    );
  }

  /**
   * Logs out (when no other `Hsm` here uses the token), closes the session, and
   * C_Finalize when this was the last open `Hsm` of the module in the process.
   * Idempotent.
   */
  close(): void {
    if (!this.#session.isOpen) return;
    this.#session.close();
    releaseModule(this.#module);
  }
}

function requireKeyLabel(label: string): void {
  if (!isKeyLabel(label)) throw new MpayError('CRYPTO_KEY_INVALID', 'label');
}

/**
 * 0x04 ‖ x ‖ y of an ES256 JWK whose kid is its RFC 7638 thumbprint, checked
 * here (synchronously, as `signer` is) so a signature can only go out under
 * the kid of the key that made it.
 */
function pointOfJwk(jwk: PublicJwk): Buffer {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.alg !== 'ES256' || jwk.y === undefined) {
    throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
  }
  const thumbprint = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  if (jwk.kid !== thumbprint) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
  const x = decodeBase64url(jwk.x);
  const y = decodeBase64url(jwk.y);
  const point = x && y && uncompressedPoint(Buffer.concat([Buffer.of(0x04), x, y]));
  if (point === undefined) throw new MpayError('CRYPTO_KEY_INVALID', 'coordinate');
  return point;
}
