/**
 * Every error mpay can return, in one place. The code is the API contract:
 * clients branch on it, it never changes meaning. Messages are fixed and, for
 * cryptographic and authentication failures, deliberately uninformative.
 * HTTP status is mapped at the service edge (`@mpay/http`), not here.
 */
export const errorCatalogue = {
  // request shape and limits
  REQUEST_INVALID: 'The request does not match the expected schema.',
  REQUEST_TOO_LARGE: 'The request body is larger than the limit.',
  REQUEST_RATE_LIMITED: 'Too many requests; retry later.',
  IDEMPOTENCY_KEY_INVALID: 'The Idempotency-Key header is missing or malformed.',
  IDEMPOTENCY_KEY_REUSED: 'The Idempotency-Key was already used with a different request.',
  IDEMPOTENCY_REQUEST_IN_PROGRESS: 'A request with this Idempotency-Key is still being processed.',
  NOT_FOUND: 'No such resource.',

  // money
  AMOUNT_INVALID: 'The amount must be a positive whole number of minor units.',
  AMOUNT_TOO_LARGE: 'The amount is larger than the limit.',
  CURRENCY_INVALID: 'The currency is not a supported ISO 4217 code.',
  CURRENCY_MISMATCH: 'The currencies of the accounts and the amount differ.',

  // message formats
  MESSAGE_INVALID: 'The payment message is malformed.',
  XML_INVALID: 'The XML document is not well-formed or not an iMS message.',
  XML_FORBIDDEN_CONSTRUCT: 'The XML document contains a DTD, entity declaration or processing instruction.',
  XML_LIMIT_EXCEEDED: 'The XML document exceeds a size, depth or count limit.',
  CANONICALIZATION_FAILED: 'The value cannot be canonicalized.',

  // cryptography (generic on purpose)
  CRYPTO_VERIFICATION_FAILED: 'The message could not be verified.',
  CRYPTO_DECRYPTION_FAILED: 'The message could not be decrypted.',
  CRYPTO_ALGORITHM_REJECTED: 'The algorithm or key is not allowed.',
  CRYPTO_KEY_INVALID: 'The key is malformed or not allowed.',
  CLAIMS_INVALID: 'The message claims are invalid.',
  MESSAGE_EXPIRED: 'The message has expired.',
  MESSAGE_REPLAYED: 'The message was already processed.',

  // parties, keys and certificates
  AUTHENTICATION_FAILED: 'Authentication failed.',
  FORBIDDEN: 'The caller may not perform this operation.',
  PARTY_ID_INVALID: 'The party address is malformed.',
  PARTY_UNKNOWN: 'No such party.',
  PARTY_EXISTS: 'A party with this address already exists.',
  ALIAS_EXISTS: 'The alias is already registered.',
  KEY_UNKNOWN: 'The signing key is unknown.',
  CERTIFICATE_INVALID: 'The key certificate is invalid.',
  CERTIFICATE_EXPIRED: 'The key certificate is outside its validity period.',
  CERTIFICATE_REVOKED: 'The key certificate has been revoked.',

  // payments
  PAYMENT_UNKNOWN: 'No such payment.',
  PAYMENT_STATE_INVALID: 'The payment is not in a state that allows this step.',
  PAYMENT_EXPIRED: 'The payment request has expired.',
  PAYMENT_DECLINED: 'The payment was declined.',
  PAYMENT_MESSAGE_MISMATCH: 'The signed message does not match the payment.',
  DEVICE_NOT_CONNECTED: 'The customer device is not connected.',

  // wallet (device side)
  WALLET_PIN_INVALID: 'The PIN is wrong.',
  WALLET_LOCKED: 'The wallet is locked after too many wrong PINs.',

  // ledger and bank
  ACCOUNT_UNKNOWN: 'No such account.',
  ACCOUNT_EXISTS: 'The account already exists.',
  ACCOUNT_CLOSED: 'The account is closed.',
  ACCOUNTS_MUST_BE_DIFFERENT: 'The debit and credit accounts must differ.',
  INSUFFICIENT_FUNDS: 'The debit account has insufficient funds.',
  TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS: 'A transfer with this id exists with different fields.',
  TRANSFER_UNKNOWN: 'No such transfer.',
  LIMIT_EXCEEDED: 'A transaction limit would be exceeded.',
  POST_AMOUNT_EXCEEDS_PENDING: 'The amount to post exceeds the pending amount.',
  TRANSFER_EXPIRED: 'The pending transfer has expired.',
  BANK_UNKNOWN: 'No such bank, or not a peer of this bank.',
  INTERBANK_PENDING: "The payee's bank has not answered yet; the payment completes or is released later.",
  TRANSFER_HELD_BY_PAYMENT_ORDER:
    "The hold belongs to an interbank payment order; only the payee bank's answer resolves it.",
  CORRECTION_CROSSES_BANKS: 'A transfer with another bank is corrected by a payment back through that bank.',
  SETTLEMENT_EXCEEDS_POSITION: 'The settlement amount exceeds what the banks owe each other.',
  FUNDS_TRANSFER_EXPIRED: 'The funds-transfer message arrived after its deadline.',
  TRANSFER_ALREADY_VOIDED: 'The pending transfer was already voided.',
  TRANSFER_ALREADY_POSTED: 'The pending transfer was already posted.',
  TRANSFER_NOT_PENDING: 'The referenced transfer is not a pending transfer.',
  LINKED_EVENT_FAILED: 'A transfer linked to this one was refused, so none of them was committed.',
  TRANSFER_NOT_POSTED: 'The referenced transfer is not a posted transfer.',
  REFUND_EXCEEDS_ORIGINAL: 'The refunds would exceed the amount of the original transfer.',
  ACCOUNT_NOT_EMPTY: 'The account has a non-zero balance or open holds.',
  BANK_UNAVAILABLE: 'The bank could not be reached.',

  // transparency log
  PROOF_INVALID: 'The Merkle proof does not verify.',
  PROOF_REQUEST_INVALID: 'No proof exists for this leaf index and these tree sizes.',
  CHECKPOINT_INVALID: 'The checkpoint is malformed or does not match the log.',
  CHECKPOINT_ROLLBACK: 'The checkpoint is for a smaller tree than one already seen.',
  CHECKPOINT_FORK: 'The checkpoint is inconsistent with one already seen (a fork).',
  CHECKPOINT_OLD_SIZE_MISMATCH: 'The proof starts from a tree size other than the last one seen.',
  NOTE_INVALID: 'The signed note is malformed.',
  NOTE_SIGNATURE_INVALID: 'A signature on the note does not verify.',
  NOTE_KEY_UNKNOWN: 'The note has no signature by a known key.',
  NOTE_TOO_MANY_SIGNATURES: 'The note has more signatures than the limit.',
  WITNESS_QUORUM_NOT_MET: 'The checkpoint has fewer cosignatures by known witnesses than required.',
  LOG_UNKNOWN: 'The witness does not follow a log with this origin.',
  TLOG_PROOF_INVALID: 'The transparency log proof is malformed.',
  EVIDENCE_UNKNOWN: 'No log entry for this payment (not completed, or logged before the log was configured).',
  RECEIPT_INVALID: 'The receipt is malformed.',

  // operating conditions
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable.',
  INTERNAL: 'Internal error.',
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}
