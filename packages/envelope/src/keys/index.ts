export { type GeneratedKeyPair, generateEncryptionKeyPair, generateSigningKeyPair } from './generate.ts';
export { type ImportedKey, importPrivateKey, importPublicKey, jwkThumbprint } from './import.ts';
export {
  type PrivateJwk,
  type PublicJwk,
  type PublicSigningJwk,
  parsePrivateJwk,
  parsePublicJwk,
  publicPart,
} from './jwk.ts';
export { keyResolverFromJwkSet, type PublicJwkSet, type PublicKeyResolver, publicJwkSet } from './key-set.ts';
