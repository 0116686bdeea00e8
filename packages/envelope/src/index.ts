/**
 * @mpay/envelope: signed and encrypted mpay messages (JWS, JWE), keys, key
 * certificates and key bindings. Pure: no I/O; WebCrypto and `jose`, and
 * node:crypto where the runtime has it (./engine.ts), so it runs in Node and in
 * browsers.
 */
export {
  CONTENT_ENCRYPTION_ALGORITHM,
  DIRECT_ALGORITHM,
  KEY_AGREEMENT_ALGORITHM_DEFAULT,
  KEY_AGREEMENT_ALGORITHMS,
  type KeyAgreementAlgorithm,
  type KeyUse,
  SESSION_KEY_LENGTH_BYTES,
  SIGNING_ALGORITHM_DEFAULT,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from './algorithms.ts';
export { issueKeyCertificate, type KeyCertificateRequest } from './certificate/issue.ts';
export {
  CERTIFICATE_TYPE,
  CERTIFIED_NAME_LENGTH_MAX,
  certifiableKey,
  isCertifiedName,
} from './certificate/payload.ts';
export { certificateReference } from './certificate/reference.ts';
export {
  type KeyCertificate,
  type VerifyCertificateOptions,
  verifyKeyCertificate,
} from './certificate/verify.ts';
export {
  type ClaimsExpectations,
  type ClaimsInput,
  type ClaimsOptions,
  type MessageClaims,
  verifyClaims,
} from './claims.ts';
export { decodeBase64url, encodeBase64url } from './encoding.ts';
export {
  type CryptoEngine,
  type CryptoEngineName,
  chooseCryptoEngineBy,
  cryptoEngine,
  type JweOperations,
  type NodeCryptoCalls,
  nodeCryptoCalls,
  nodeCryptoEngine,
  nodeCryptoModule,
  type P256PublicMembers,
  selectCryptoEngine,
  sha256,
  webCryptoEngine,
} from './engine.ts';
export {
  answerKeyLabel,
  answerKeyOf,
  decryptAnswer,
  encryptAnswer,
  encryptToWithAnswerKey,
  type RequestWithAnswerKey,
} from './jwe/answer-key.ts';
export { type DecryptionKey, decryptCompact, decryptDirect, decryptWith } from './jwe/decrypt.ts';
export { type EncryptDirectOptions, type EncryptOptions, encryptDirect, encryptTo } from './jwe/encrypt.ts';
export type { DecryptOptions, JweProtectedHeader } from './jwe/header.ts';
export {
  openPrivateData,
  type SealedDataReader,
  sealedDataReaders,
  sealPrivateData,
} from './jwe/sealed-data.ts';
export { attachCanonicalPayload } from './jws/detached.ts';
export { type JwsProtectedHeader, MESSAGE_TYPE } from './jws/header.ts';
export { type ExternalSigningKey, type SigningKey, type SignOptions, signPayload } from './jws/sign.ts';
export { decodeUnverified, type VerifiedPayload, type VerifyOptions, verifyPayload } from './jws/verify.ts';
export {
  type CompactVerifyOptions,
  type VerificationKeyResolver,
  type VerifiedCompact,
  verifyCompactSignature,
} from './jws/verify-compact.ts';
export { issueKeyBinding, type KeyBindingRequest } from './key-binding/issue.ts';
export { KEY_BINDING_ACCOUNTS_MAX, KEY_BINDING_TYPE } from './key-binding/payload.ts';
export { type KeyBinding, type VerifyKeyBindingOptions, verifyKeyBinding } from './key-binding/verify.ts';
export * from './keys/index.ts';
export { verifyRawSignature } from './signature.ts';
