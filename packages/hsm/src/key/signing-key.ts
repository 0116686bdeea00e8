import { randomBytes } from 'node:crypto';
import { certifiableKey, encodeBase64url, type PublicJwk } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11, type Template } from 'pkcs11js';
import { ECDSA_P256_SIGNATURE_LENGTH_BYTES, FIND_OBJECTS_MAX, KEY_ID_LENGTH_BYTES } from '../limits.ts';
import { findObjects, readBooleans, readBytes } from '../pkcs11/objects.ts';

export interface HsmSigningKeyInfo {
  /** Hex of CKA_ID (16 random bytes chosen at generation). */
  readonly id: string;
  /** CKA_LABEL. */
  readonly label: string;
  /** ES256 signing key; kid is its RFC 7638 thumbprint. */
  readonly publicJwk: PublicJwk;
}

/** Of the private key. */
export interface HsmKeyAttributes {
  readonly extractable: boolean;
  readonly sensitive: boolean;
  readonly neverExtractable: boolean;
  readonly alwaysSensitive: boolean;
  readonly token: boolean;
  readonly private: boolean;
}

/** What the token holds for one key pair, read in the synchronous block; turned into a JWK after. */
export interface SigningKeyMaterial {
  readonly id: Buffer;
  readonly label: string;
  /** Uncompressed P-256 point: 0x04 ‖ x ‖ y. */
  readonly point: Buffer;
}

/** DER of the OID 1.2.840.10045.3.1.7 (prime256v1, P-256): CKA_EC_PARAMS of every key made here. */
const P256_PARAMETERS = Buffer.from('06082a8648ce3d030107', 'hex');
const COORDINATE_LENGTH_BYTES = 32;
const UNCOMPRESSED_POINT_LENGTH_BYTES = 1 + 2 * COORDINATE_LENGTH_BYTES;

const attributeTypes = [
  pkcs11js.CKA_EXTRACTABLE,
  pkcs11js.CKA_SENSITIVE,
  pkcs11js.CKA_NEVER_EXTRACTABLE,
  pkcs11js.CKA_ALWAYS_SENSITIVE,
  pkcs11js.CKA_TOKEN,
  pkcs11js.CKA_PRIVATE,
] as const;

/**
 * Generates the pair inside the token. Every usage the key does not need is
 * switched off explicitly, since token defaults differ (softhsm2 gives a
 * public EC key encrypt and wrap). The private key's attributes are read back
 * after generation: a token that ignored the template (an extractable or
 * non-sensitive key) gets the pair destroyed and the call refused.
 */
export function generateSigningKeyPair(pkcs11: PKCS11, session: Buffer, label: string): SigningKeyMaterial {
  const id = randomBytes(KEY_ID_LENGTH_BYTES);
  const common: Template = [
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ];
  const pair = pkcs11.C_GenerateKeyPair(
    session,
    { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
    [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_EC_PARAMS, value: P256_PARAMETERS },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_WRAP, value: false },
    ],
    [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: false },
    ],
  );
  const attributes = attributesOfObject(pkcs11, session, pair.privateKey);
  if (attributes.extractable || !attributes.sensitive || !attributes.token || !attributes.private) {
    pkcs11.C_DestroyObject(session, pair.privateKey);
    pkcs11.C_DestroyObject(session, pair.publicKey);
    throw new MpayError(
      'HSM_UNAVAILABLE',
      'the token did not keep the private key sensitive and unextractable',
    );
  }
  const material = readSigningKey(pkcs11, session, id);
  if (material === undefined)
    throw new MpayError('HSM_UNAVAILABLE', 'the generated key pair cannot be read back');
  return material;
}

/** The pair with this CKA_ID, or undefined when either half is missing. */
export function readSigningKey(pkcs11: PKCS11, session: Buffer, id: Buffer): SigningKeyMaterial | undefined {
  const pair = locatePair(pkcs11, session, id);
  if (pair === undefined) return undefined;
  const label = readBytes(pkcs11, session, pair.publicKey, pkcs11js.CKA_LABEL).toString('utf8');
  return { id, label, point: pointOf(pkcs11, session, id, pair.publicKey) };
}

/** The JWK and kid of a key pair read from the token (after the synchronous block: WebCrypto is async). */
export async function signingKeyInfo(material: SigningKeyMaterial): Promise<HsmSigningKeyInfo> {
  const publicJwk = await certifiableKey(
    {
      kty: 'EC',
      crv: 'P-256',
      x: encodeBase64url(material.point.subarray(1, 1 + COORDINATE_LENGTH_BYTES)),
      y: encodeBase64url(material.point.subarray(1 + COORDINATE_LENGTH_BYTES)),
      alg: 'ES256',
      use: 'sig',
    },
    'sig',
  );
  return Object.freeze({ id: material.id.toString('hex'), label: material.label, publicJwk });
}

/**
 * CKM_ECDSA over a SHA-256 digest computed by the caller: r‖s, 64 bytes. The
 * token's public key for this id must still be the one the caller names
 * (`expectedPoint`), so a signature never goes out under another key's kid.
 */
export function signDigest(
  pkcs11: PKCS11,
  session: Buffer,
  id: Buffer,
  expectedPoint: Buffer,
  digest: Buffer,
): Buffer {
  const pair = locatePair(pkcs11, session, id);
  if (pair === undefined)
    throw new MpayError('HSM_UNAVAILABLE', `key ${id.toString('hex')}: not in the token`);
  if (!pointOf(pkcs11, session, id, pair.publicKey).equals(expectedPoint)) {
    throw new MpayError('CRYPTO_KEY_INVALID', `key ${id.toString('hex')}: another public key`);
  }
  pkcs11.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, pair.privateKey);
  const signature = pkcs11.C_Sign(session, digest, Buffer.alloc(ECDSA_P256_SIGNATURE_LENGTH_BYTES));
  if (signature.length !== ECDSA_P256_SIGNATURE_LENGTH_BYTES) {
    throw new MpayError(
      'HSM_UNAVAILABLE',
      `key ${id.toString('hex')}: signature of ${signature.length} bytes`,
    );
  }
  return Buffer.from(signature);
}

/** Destroys both halves (and any leftover object with this id). Nothing to destroy is fine. */
export function destroySigningKeyPair(pkcs11: PKCS11, session: Buffer, id: Buffer): void {
  for (const objectClass of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
    for (const object of findObjects(pkcs11, session, byId(id, objectClass))) {
      pkcs11.C_DestroyObject(session, object);
    }
  }
}

export function privateKeyAttributes(pkcs11: PKCS11, session: Buffer, id: Buffer): HsmKeyAttributes {
  const privateKey = findOne(pkcs11, session, id, pkcs11js.CKO_PRIVATE_KEY);
  if (privateKey === undefined)
    throw new MpayError('HSM_UNAVAILABLE', `key ${id.toString('hex')}: not in the token`);
  return attributesOfObject(pkcs11, session, privateKey);
}

function attributesOfObject(pkcs11: PKCS11, session: Buffer, object: Buffer): HsmKeyAttributes {
  const [extractable, sensitive, neverExtractable, alwaysSensitive, token, isPrivate] = readBooleans(
    pkcs11,
    session,
    object,
    attributeTypes,
  );
  return Object.freeze({
    extractable: extractable!,
    sensitive: sensitive!,
    neverExtractable: neverExtractable!,
    alwaysSensitive: alwaysSensitive!,
    token: token!,
    private: isPrivate!,
  });
}

interface KeyPairHandles {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

function locatePair(pkcs11: PKCS11, session: Buffer, id: Buffer): KeyPairHandles | undefined {
  const privateKey = findOne(pkcs11, session, id, pkcs11js.CKO_PRIVATE_KEY);
  const publicKey = findOne(pkcs11, session, id, pkcs11js.CKO_PUBLIC_KEY);
  return privateKey === undefined || publicKey === undefined ? undefined : { privateKey, publicKey };
}

function pointOf(pkcs11: PKCS11, session: Buffer, id: Buffer, publicKey: Buffer): Buffer {
  if (!readBytes(pkcs11, session, publicKey, pkcs11js.CKA_EC_PARAMS).equals(P256_PARAMETERS)) {
    throw new MpayError('CRYPTO_ALGORITHM_REJECTED', `key ${id.toString('hex')}: not P-256`);
  }
  const point = uncompressedPoint(readBytes(pkcs11, session, publicKey, pkcs11js.CKA_EC_POINT));
  if (point === undefined) throw new MpayError('CRYPTO_KEY_INVALID', `key ${id.toString('hex')}: EC point`);
  return point;
}

/**
 * The one object of this class with this id. Ids are 16 random bytes, so a
 * second match is not ours: refused rather than guessed between.
 */
function findOne(pkcs11: PKCS11, session: Buffer, id: Buffer, objectClass: number): Buffer | undefined {
  const found = findObjects(pkcs11, session, byId(id, objectClass));
  if (found.length > 1) {
    const count = found.length > FIND_OBJECTS_MAX ? `more than ${FIND_OBJECTS_MAX}` : String(found.length);
    throw new MpayError('HSM_UNAVAILABLE', `key ${id.toString('hex')}: ${count} objects with this id`);
  }
  return found[0];
}

function byId(id: Buffer, objectClass: number): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    { type: pkcs11js.CKA_ID, value: id },
  ];
}

/**
 * CKA_EC_POINT is a DER OCTET STRING around the point by the standard
 * (softhsm2: 04 41 04 x y); some tokens give the bare point. Both are read;
 * anything but an uncompressed P-256 point is refused.
 */
export function uncompressedPoint(value: Buffer): Buffer | undefined {
  const point =
    value.length === UNCOMPRESSED_POINT_LENGTH_BYTES + 2 &&
    value[0] === 0x04 &&
    value[1] === UNCOMPRESSED_POINT_LENGTH_BYTES
      ? value.subarray(2)
      : value;
  return point.length === UNCOMPRESSED_POINT_LENGTH_BYTES && point[0] === 0x04
    ? Buffer.from(point)
    : undefined;
}
