import { MpayError } from '@mpay/protocol';
import type { SigningAlgorithm } from './algorithms.ts';
import { decodeBase64url, encodeBase64url } from './encoding.ts';

/**
 * The primitives under every JWS, message digest and (on Node) JWE of the
 * envelope: ECDSA P-256 / Ed25519 signatures over bytes, SHA-256, and ECDH
 * P-256, AES-256-GCM and HKDF for JWE's ECDH-ES and `dir`.
 *
 * Two engines compute them:
 * - `webcrypto`: `crypto.subtle`, in browsers and wherever nothing else is
 *   chosen. Each call is a job on Node's thread pool, resolved through a
 *   promise. JWE stays jose's under this engine.
 * - `node:crypto`: Node's synchronous OpenSSL calls on the same CryptoKeys
 *   (through `KeyObject.from`): no job, no promise per call, 1.5–27× less CPU
 *   per operation (docs/benchmarks.md, "The servers' cryptography on
 *   node:crypto", from `mpay bench e2e`'s own replay of each kind). The
 *   results are the same bytes and the same verdicts: the tests cross tokens
 *   with jose both ways, and the Wycheproof vectors run through both engines.
 *
 * Node picks `node:crypto` by itself (`process.getBuiltinModule`, Node ≥
 * 20.16); a browser has no such module and keeps `webcrypto`. A process may
 * choose with `selectCryptoEngine` (the bench's driver keeps the phone's
 * WebCrypto, so that the device's cost is what a browser pays), or call by
 * call with `chooseCryptoEngineBy` (`mpay simulate`'s phone beside the servers).
 *
 * Both engines check the key against the algorithm first: its type, its
 * algorithm and curve, and its usages, as jose did before these signatures
 * were made here.
 */
export interface CryptoEngine {
  readonly name: CryptoEngineName;
  /** The JWS signature of `data` (ES256: r‖s, 64 bytes). */
  sign(alg: SigningAlgorithm, key: CryptoKey, data: Uint8Array): Promise<Uint8Array>;
  /** True only for a valid signature; false for any malformed one. */
  verify(alg: SigningAlgorithm, key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /** JWE's ECDH-ES and `dir` operations, where the engine computes them itself (node:crypto); else jose does. */
  readonly jwe?: JweOperations;
}

export type CryptoEngineName = 'webcrypto' | 'node:crypto';

/** What each allowed JWS algorithm requires of a CryptoKey. */
const keyAlgorithms: Readonly<Record<SigningAlgorithm, { name: string; namedCurve?: string }>> =
  Object.freeze({
    ES256: { name: 'ECDSA', namedCurve: 'P-256' },
    EdDSA: { name: 'Ed25519' },
  });

/** The WebCrypto parameters of each allowed JWS algorithm. */
const webCryptoParameters: Readonly<Record<SigningAlgorithm, AlgorithmIdentifier | EcdsaParams>> =
  Object.freeze({
    ES256: { name: 'ECDSA', hash: 'SHA-256' },
    EdDSA: { name: 'Ed25519' },
  });

/** ES256 and EdDSA signatures are both 64 bytes. */
const signatureLength = 64;

/** Whether `key` may make (`sign`) or check (`verify`) an `alg` signature. */
export function keyFits(alg: SigningAlgorithm, key: CryptoKey, usage: 'sign' | 'verify'): boolean {
  const wanted = keyAlgorithms[alg];
  const algorithm = key.algorithm as { name?: string; namedCurve?: string };
  return (
    key.type === (usage === 'sign' ? 'private' : 'public') &&
    algorithm.name === wanted.name &&
    algorithm.namedCurve === wanted.namedCurve &&
    key.usages.includes(usage)
  );
}

function requireSigningKey(alg: SigningAlgorithm, key: CryptoKey): void {
  if (!keyFits(alg, key, 'sign')) throw new MpayError('CRYPTO_KEY_INVALID', 'alg');
}

/** A buffer argument WebCrypto takes: a view of an ArrayBuffer (copied when it views a SharedArrayBuffer). */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

export const webCryptoEngine: CryptoEngine = Object.freeze({
  name: 'webcrypto' as const,
  async sign(alg: SigningAlgorithm, key: CryptoKey, data: Uint8Array) {
    requireSigningKey(alg, key);
    return new Uint8Array(
      await globalThis.crypto.subtle.sign(webCryptoParameters[alg], key, bufferSource(data)),
    );
  },
  async verify(alg: SigningAlgorithm, key: CryptoKey, signature: Uint8Array, data: Uint8Array) {
    if (!keyFits(alg, key, 'verify') || signature.length !== signatureLength) return false;
    try {
      return await globalThis.crypto.subtle.verify(
        webCryptoParameters[alg],
        key,
        bufferSource(signature),
        bufferSource(data),
      );
    } catch {
      return false;
    }
  },
  async sha256(data: Uint8Array) {
    return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bufferSource(data)));
  },
});

/** node:crypto, as the runtime has it (type only: a browser bundle never imports it). */
export type NodeCryptoModule = typeof import('node:crypto');
type NodeKeyObject = import('node:crypto').KeyObject;
/** node:crypto's ECDH object: one P-256 private key, set once. */
type NodeEcdh = import('node:crypto').ECDH;

/** The node:crypto module where the runtime has one (Node ≥ 20.16), else undefined. */
export function nodeCryptoModule(): NodeCryptoModule | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const module = runtime?.getBuiltinModule?.('node:crypto') as NodeCryptoModule | undefined;
  return typeof module?.hash === 'function' ? module : undefined;
}

/** A P-256 public key's JWK members (a JWE's `epk`). */
export interface P256PublicMembers {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

/**
 * Every operation of the node:crypto engine, one crypto call each, in a table
 * the engine calls through (so that `mpay bench e2e` can count and replay
 * each: cli's bench/e2e-crypto.ts). Synchronous, as node:crypto is.
 */
export interface NodeCryptoCalls {
  sign(alg: SigningAlgorithm, data: Uint8Array, key: NodeKeyObject): Uint8Array;
  verify(alg: SigningAlgorithm, data: Uint8Array, key: NodeKeyObject, signature: Uint8Array): boolean;
  sha256(data: Uint8Array): Uint8Array;
  /** A fresh P-256 key (an ephemeral key for one message): its ECDH object and its public point, uncompressed. */
  generateP256(): { readonly privateKey: NodeEcdh; readonly point: Uint8Array };
  /**
   * ECDH on P-256 with a peer's uncompressed point (65 bytes): Z, 32 bytes;
   * throws for a point not on the curve. A raw point, not a KeyObject: making
   * a KeyObject of a sender's ephemeral key (from its JWK) and agreeing with
   * it cost about 230 µs here, the ECDH object's agreement with the point 120.
   */
  ecdhP256(privateKey: NodeEcdh, point: Uint8Array): Uint8Array;
  /** AES-256-GCM with a 96-bit IV and a 128-bit tag. */
  aes256GcmSeal(
    plaintext: Uint8Array,
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
  ): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array };
  /** Throws unless the tag authenticates `ciphertext` and `aad` under `key`. */
  aes256GcmOpen(
    ciphertext: Uint8Array,
    key: Uint8Array,
    iv: Uint8Array,
    tag: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array;
  /** HKDF-SHA-256 (RFC 5869) with an empty salt. */
  hkdfSha256(ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** The hash node:crypto signs with, per algorithm (EdDSA hashes inside the algorithm). */
const nodeHashes: Readonly<Record<SigningAlgorithm, string | null>> = Object.freeze({
  ES256: 'sha256',
  EdDSA: null,
});

/** A fresh Uint8Array over an ArrayBuffer of its own (never a view into Node's buffer pool). */
function own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

const p256CoordinateBytes = 32;

/**
 * The uncompressed point (0x04 ‖ x ‖ y, SEC 1 §2.3.3) of a P-256 JWK's x and y:
 * each must be base64url of exactly 32 bytes (RFC 7518 §6.2.1.2), else
 * CRYPTO_KEY_INVALID. Whether the point is on the curve, with coordinates below
 * the field's prime, is checked by node:crypto when it agrees with it.
 */
export function uncompressedP256Point(x: string, y: string): Uint8Array {
  if (typeof x !== 'string' || typeof y !== 'string') throw new MpayError('CRYPTO_KEY_INVALID');
  const xBytes = decodeBase64url(x);
  const yBytes = decodeBase64url(y);
  if (xBytes?.length !== p256CoordinateBytes || yBytes?.length !== p256CoordinateBytes)
    throw new MpayError('CRYPTO_KEY_INVALID');
  const point = new Uint8Array(1 + 2 * p256CoordinateBytes);
  point[0] = 0x04;
  point.set(xBytes, 1);
  point.set(yBytes, 1 + p256CoordinateBytes);
  return point;
}

/** SEC 1 (RFC 5915) ECPrivateKey's start in DER: SEQUENCE (short length), INTEGER 1, OCTET STRING of 32 bytes. */
function sec1PrivateScalar(der: Uint8Array): Uint8Array {
  const start = 2;
  const prefix = [0x02, 0x01, 0x01, 0x04, p256CoordinateBytes];
  if (der[0] !== 0x30 || (der[1] ?? 0x80) >= 0x80 || prefix.some((byte, at) => der[start + at] !== byte))
    throw new MpayError('CRYPTO_KEY_INVALID');
  const from = start + prefix.length;
  if (der.length < from + p256CoordinateBytes) throw new MpayError('CRYPTO_KEY_INVALID');
  return der.subarray(from, from + p256CoordinateBytes);
}

/** The table over `module`, frozen. */
export function nodeCryptoCalls(module: NodeCryptoModule): NodeCryptoCalls {
  const calls: NodeCryptoCalls = {
    sign: (alg, data, key) =>
      own(module.sign(nodeHashes[alg], data, alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key)),
    verify: (alg, data, key, signature) =>
      module.verify(
        nodeHashes[alg],
        data,
        alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
        signature,
      ),
    sha256: (data) => own(module.hash('sha256', data, 'buffer')),
    generateP256() {
      const privateKey = module.createECDH('prime256v1');
      return { privateKey, point: own(privateKey.generateKeys()) };
    },
    ecdhP256: (privateKey, point) => own(privateKey.computeSecret(point)),
    aes256GcmSeal(plaintext, key, iv, aad) {
      const cipher = module.createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { ciphertext: own(ciphertext), tag: own(cipher.getAuthTag()) };
    },
    aes256GcmOpen(ciphertext, key, iv, tag, aad) {
      const decipher = module.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      return own(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
    },
    hkdfSha256: (ikm, info, length) =>
      new Uint8Array(module.hkdfSync('sha256', ikm, new Uint8Array(0), info, length)),
  };
  return Object.freeze(calls);
}

/**
 * What the node:crypto engine adds for JWE (ECDH-ES and `dir` with A256GCM):
 * the same operations as WebCrypto's, synchronous. jose keeps computing JWE
 * under the WebCrypto engine, and ECDH-ES+A256KW under both.
 */
export interface JweOperations
  extends Pick<NodeCryptoCalls, 'aes256GcmSeal' | 'aes256GcmOpen' | 'sha256' | 'hkdfSha256'> {
  /** A fresh ephemeral P-256 key's public members, and Z with `recipient` (a public ECDH CryptoKey). */
  ephemeralAgreement(recipient: CryptoKey): { readonly epk: P256PublicMembers; readonly z: Uint8Array };
  /** Z of `privateKey` (a private ECDH CryptoKey) and a sender's ephemeral key; throws for a point off the curve. */
  agreement(privateKey: CryptoKey, epk: P256PublicMembers): Uint8Array;
}

/**
 * The node:crypto engine, calling `calls` (looked up at each call). KeyObjects
 * are made once per CryptoKey (a WeakMap: a key no longer held is forgotten
 * with it).
 */
export function nodeCryptoEngine(
  module: NodeCryptoModule,
  calls: NodeCryptoCalls = nodeCryptoCalls(module),
): CryptoEngine {
  const keyObjects = new WeakMap<CryptoKey, NodeKeyObject>();
  const keyObjectOf = (key: CryptoKey): NodeKeyObject => {
    let known = keyObjects.get(key);
    if (known === undefined) {
      known = module.KeyObject.from(key);
      keyObjects.set(key, known);
    }
    return known;
  };
  // ECDH objects of private keys, and uncompressed points of public ones, made once per CryptoKey.
  const ecdhObjects = new WeakMap<CryptoKey, NodeEcdh>();
  const points = new WeakMap<CryptoKey, Uint8Array>();
  const ecdhObjectOf = (key: CryptoKey): NodeEcdh => {
    let known = ecdhObjects.get(key);
    if (known === undefined) {
      // SEC 1's ECPrivateKey in DER: the scalar is the OCTET STRING after the version; the copies are
      // wiped once OpenSSL holds the key (a JWK's d would be a string, which cannot be).
      const der = keyObjectOf(key).export({ format: 'der', type: 'sec1' });
      try {
        const scalar = sec1PrivateScalar(der);
        known = module.createECDH('prime256v1');
        known.setPrivateKey(scalar);
        ecdhObjects.set(key, known);
      } finally {
        der.fill(0);
      }
    }
    return known;
  };
  const pointOf = (key: CryptoKey): Uint8Array => {
    let known = points.get(key);
    if (known === undefined) {
      const { x, y } = keyObjectOf(key).export({ format: 'jwk' });
      known = uncompressedP256Point(x as string, y as string);
      points.set(key, known);
    }
    return known;
  };
  const requireEcdhKey = (key: CryptoKey, type: 'public' | 'private') => {
    const algorithm = key.algorithm as { name?: string; namedCurve?: string };
    if (
      key.type !== type ||
      algorithm.name !== 'ECDH' ||
      algorithm.namedCurve !== 'P-256' ||
      (type === 'private' && !key.usages.includes('deriveBits'))
    )
      throw new MpayError('CRYPTO_KEY_INVALID');
  };
  const jwe: JweOperations = Object.freeze({
    ephemeralAgreement(recipient: CryptoKey) {
      requireEcdhKey(recipient, 'public');
      const ephemeral = calls.generateP256();
      const { point } = ephemeral;
      return {
        epk: {
          kty: 'EC' as const,
          crv: 'P-256' as const,
          x: encodeBase64url(point.subarray(1, 1 + p256CoordinateBytes)),
          y: encodeBase64url(point.subarray(1 + p256CoordinateBytes)),
        },
        z: calls.ecdhP256(ephemeral.privateKey, pointOf(recipient)),
      };
    },
    agreement(privateKey: CryptoKey, epk: P256PublicMembers) {
      requireEcdhKey(privateKey, 'private');
      return calls.ecdhP256(ecdhObjectOf(privateKey), uncompressedP256Point(epk.x, epk.y));
    },
    aes256GcmSeal: (plaintext: Uint8Array, key: Uint8Array, iv: Uint8Array, aad: Uint8Array) =>
      calls.aes256GcmSeal(plaintext, key, iv, aad),
    aes256GcmOpen: (
      ciphertext: Uint8Array,
      key: Uint8Array,
      iv: Uint8Array,
      tag: Uint8Array,
      aad: Uint8Array,
    ) => calls.aes256GcmOpen(ciphertext, key, iv, tag, aad),
    sha256: (data: Uint8Array) => calls.sha256(data),
    hkdfSha256: (ikm: Uint8Array, info: Uint8Array, length: number) => calls.hkdfSha256(ikm, info, length),
  });
  return Object.freeze({
    name: 'node:crypto' as const,
    jwe,
    sign(alg: SigningAlgorithm, key: CryptoKey, data: Uint8Array) {
      try {
        requireSigningKey(alg, key);
        return Promise.resolve(calls.sign(alg, data, keyObjectOf(key)));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    verify(alg: SigningAlgorithm, key: CryptoKey, signature: Uint8Array, data: Uint8Array) {
      if (!keyFits(alg, key, 'verify') || signature.length !== signatureLength) return Promise.resolve(false);
      try {
        return Promise.resolve(calls.verify(alg, data, keyObjectOf(key), signature));
      } catch {
        return Promise.resolve(false);
      }
    },
    sha256(data: Uint8Array) {
      return Promise.resolve(calls.sha256(data));
    },
  });
}

const nodeModule = nodeCryptoModule();
/** This process's table of node:crypto calls (undefined outside Node), frozen. */
const nodeCalls: NodeCryptoCalls | undefined =
  nodeModule === undefined ? undefined : nodeCryptoCalls(nodeModule);
const plainNodeEngine = nodeModule === undefined ? undefined : nodeCryptoEngine(nodeModule, nodeCalls);
let nodeEngine = plainNodeEngine;
let selected: CryptoEngine = nodeEngine ?? webCryptoEngine;
/** Set while a process chooses its engine call by call (`chooseCryptoEngineBy`). */
let chooser: (() => CryptoEngineName) | undefined;

/** SHA-256 through this process's engine. */
export function sha256(data: Uint8Array): Promise<Uint8Array> {
  return cryptoEngine().sha256(data);
}

/** The engine of this call: the process's, or the one its chooser names. */
export function cryptoEngine(): CryptoEngine {
  if (chooser === undefined) return selected;
  return chooser() === 'webcrypto' ? webCryptoEngine : (nodeEngine ?? webCryptoEngine);
}

/**
 * Chooses the engine call by call, until the returned function is called:
 * `mpay simulate` runs a phone in the servers' process, and the phone's calls
 * (its async scope) compute with WebCrypto as a browser does, the servers'
 * with node:crypto.
 */
export function chooseCryptoEngineBy(choose: () => CryptoEngineName): () => void {
  chooser = choose;
  return () => {
    if (chooser === choose) chooser = undefined;
  };
}

/**
 * For `mpay bench e2e` (`@mpay/envelope/instrumentation`, not the package's
 * API): makes the process's node:crypto engine call the table `wrap` returns
 * over the plain one (to count and time each operation), until the returned
 * function puts the plain engine back. Undefined outside Node.
 */
export function instrumentNodeCalls(
  wrap: (plain: NodeCryptoCalls) => NodeCryptoCalls,
): (() => void) | undefined {
  if (nodeModule === undefined || nodeCalls === undefined || plainNodeEngine === undefined) return undefined;
  const instrumented = nodeCryptoEngine(nodeModule, Object.freeze(wrap(nodeCalls)));
  const swap = (from: CryptoEngine, to: CryptoEngine) => {
    if (selected === from) selected = to;
    nodeEngine = to;
  };
  swap(plainNodeEngine, instrumented);
  return () => {
    if (nodeEngine === instrumented) swap(instrumented, plainNodeEngine);
  };
}

/**
 * Chooses this process's engine. `node:crypto` where the runtime has none
 * is refused (CONFIGURATION_INVALID) rather than quietly kept on WebCrypto.
 */
export function selectCryptoEngine(name: CryptoEngineName): void {
  if (name === 'webcrypto') {
    selected = webCryptoEngine;
    return;
  }
  if (nodeEngine === undefined)
    throw new MpayError('CONFIGURATION_INVALID', 'node:crypto is not available here');
  selected = nodeEngine;
}
