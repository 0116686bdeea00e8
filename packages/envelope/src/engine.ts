import { MpayError } from '@mpay/protocol';
import type { SigningAlgorithm } from './algorithms.ts';

/**
 * The primitives under every JWS and message digest of the envelope: ECDSA
 * P-256 / Ed25519 signatures over bytes, and SHA-256.
 *
 * Two engines compute them:
 * - `webcrypto`: `crypto.subtle`, in browsers and wherever nothing else is
 *   chosen. Each call is a job on Node's thread pool, resolved through a
 *   promise.
 * - `node:crypto`: Node's synchronous OpenSSL calls on the same CryptoKeys
 *   (through `KeyObject.from`). Measured on this project's machine (Node 20,
 *   one call at a time, `node` CPU per call): ECDSA P-256 verify 74 µs
 *   against 139 µs, sign 32 µs against 86 µs, SHA-256 of 800 B 4 µs against
 *   48 µs. The results are the same bytes and the same verdicts (the
 *   Wycheproof vectors run through both).
 *
 * Node picks `node:crypto` by itself (`process.getBuiltinModule`, Node ≥
 * 20.16); a browser has no such module and keeps `webcrypto`. A process may
 * choose with `selectCryptoEngine` (the bench's driver keeps the phone's
 * WebCrypto, so that the device's cost is what a browser pays).
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

/** The part of node:crypto the engine calls, always through the module object (so that a counter can wrap it). */
export interface NodeCryptoModule {
  sign(algorithm: string | null, data: Uint8Array, key: NodeSignKey): Uint8Array;
  verify(algorithm: string | null, data: Uint8Array, key: NodeSignKey, signature: Uint8Array): boolean;
  hash(algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer'): Uint8Array;
  KeyObject: { from(key: CryptoKey): NodeKeyObject };
}

/** A node:crypto KeyObject, as far as the engine uses it. */
export interface NodeKeyObject {
  readonly type: string;
}

export interface NodeSignKey {
  readonly key: NodeKeyObject;
  readonly dsaEncoding?: 'ieee-p1363';
}

/** The node:crypto module where the runtime has one (Node ≥ 20.16), else undefined. */
export function nodeCryptoModule(): NodeCryptoModule | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const module = runtime?.getBuiltinModule?.('node:crypto') as NodeCryptoModule | undefined;
  return typeof module?.hash === 'function' ? module : undefined;
}

/** The hash node:crypto signs with, per algorithm (EdDSA hashes inside the algorithm). */
const nodeHashes: Readonly<Record<SigningAlgorithm, string | null>> = Object.freeze({
  ES256: 'sha256',
  EdDSA: null,
});

/**
 * The node:crypto engine over `module`. KeyObjects are made once per
 * CryptoKey (a WeakMap: a key no longer held is forgotten with it).
 */
export function nodeCryptoEngine(module: NodeCryptoModule): CryptoEngine {
  const keyObjects = new WeakMap<CryptoKey, NodeSignKey>();
  const keyOf = (alg: SigningAlgorithm, key: CryptoKey): NodeSignKey => {
    let known = keyObjects.get(key);
    if (known === undefined) {
      const keyObject = module.KeyObject.from(key);
      known = alg === 'ES256' ? { key: keyObject, dsaEncoding: 'ieee-p1363' } : { key: keyObject };
      keyObjects.set(key, known);
    }
    return known;
  };
  return Object.freeze({
    name: 'node:crypto' as const,
    sign(alg: SigningAlgorithm, key: CryptoKey, data: Uint8Array) {
      try {
        requireSigningKey(alg, key);
        return Promise.resolve(new Uint8Array(module.sign(nodeHashes[alg], data, keyOf(alg, key))));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    verify(alg: SigningAlgorithm, key: CryptoKey, signature: Uint8Array, data: Uint8Array) {
      if (!keyFits(alg, key, 'verify') || signature.length !== signatureLength) return Promise.resolve(false);
      try {
        return Promise.resolve(module.verify(nodeHashes[alg], data, keyOf(alg, key), signature));
      } catch {
        return Promise.resolve(false);
      }
    },
    sha256(data: Uint8Array) {
      // A copy: a fresh ArrayBuffer of exactly 32 bytes, never a view into Node's buffer pool.
      return Promise.resolve(new Uint8Array(module.hash('sha256', data, 'buffer')));
    },
  });
}

const nodeModule = nodeCryptoModule();
const nodeEngine = nodeModule === undefined ? undefined : nodeCryptoEngine(nodeModule);
let selected: CryptoEngine = nodeEngine ?? webCryptoEngine;

/** SHA-256 through this process's engine. */
export function sha256(data: Uint8Array): Promise<Uint8Array> {
  return selected.sha256(data);
}

/** The engine this process uses. */
export function cryptoEngine(): CryptoEngine {
  return selected;
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
