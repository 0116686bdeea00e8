/**
 * Every error mpay can return, in one place. The code is the API contract:
 * clients branch on it, it never changes meaning. Messages are fixed and, for
 * cryptographic and authentication failures, deliberately uninformative.
 * HTTP status is mapped at the service edge (`@mpay/http-server`), not here.
 *
 * Every code has a category, so that callers decide what to do with an
 * answer from the code alone instead of keeping their own lists:
 * - `refused`: a decision on the request (the payment is declined); do not retry.
 * - `retryable`: may succeed later with the same request id.
 * - `final`: the request is wrong or can never succeed (schema, authentication,
 *   cryptography, replay, state); do not retry.
 */
export type ErrorCategory = 'refused' | 'retryable' | 'final';

export interface ErrorDefinition {
  readonly message: string;
  readonly category: ErrorCategory;
}

function refused(message: string): ErrorDefinition {
  return { message, category: 'refused' };
}

function retryable(message: string): ErrorDefinition {
  return { message, category: 'retryable' };
}

function final(message: string): ErrorDefinition {
  return { message, category: 'final' };
}

export const errorCatalogue = Object.freeze({
  // request shape and limits
  REQUEST_INVALID: final('The request does not match the expected schema.'),
  REQUEST_TOO_LARGE: final('The request body is larger than the limit.'),
  REQUEST_ENCODING_UNSUPPORTED: final(
    'The request body is sent in a content coding this route does not take (its Accept-Encoding names those it takes).',
  ),
  REQUEST_RATE_LIMITED: retryable('Too many requests; retry later.'),
  IDEMPOTENCY_KEY_INVALID: final('The Idempotency-Key header is missing or malformed.'),
  IDEMPOTENCY_KEY_REUSED: final('The Idempotency-Key was already used with a different request.'),
  IDEMPOTENCY_REQUEST_IN_PROGRESS: retryable('A request with this Idempotency-Key is still being processed.'),
  NOT_FOUND: final('No such resource.'),

  // money
  AMOUNT_INVALID: refused('The amount must be a positive whole number of minor units.'),
  AMOUNT_TOO_LARGE: final('The amount is larger than the limit.'),
  CURRENCY_INVALID: final('The currency is not a supported ISO 4217 code.'),
  CURRENCY_MISMATCH: refused('The currencies of the accounts and the amount differ.'),

  // message formats
  MESSAGE_INVALID: final('The payment message is malformed.'),
  XML_INVALID: final('The XML document is not well-formed or not an iMS message.'),
  XML_FORBIDDEN_CONSTRUCT: final(
    'The XML document contains a DTD, entity declaration or processing instruction.',
  ),
  XML_LIMIT_EXCEEDED: final('The XML document exceeds a size, depth or count limit.'),
  CANONICALIZATION_FAILED: final('The value cannot be canonicalized.'),

  // cryptography (generic on purpose)
  CRYPTO_VERIFICATION_FAILED: final('The message could not be verified.'),
  CRYPTO_DECRYPTION_FAILED: final('The message could not be decrypted.'),
  CRYPTO_ALGORITHM_REJECTED: final('The algorithm or key is not allowed.'),
  CRYPTO_KEY_INVALID: final('The key is malformed or not allowed.'),
  CLAIMS_INVALID: final('The message claims are invalid.'),
  MESSAGE_EXPIRED: final('The message has expired.'),
  MESSAGE_REPLAYED: final('The message was already processed.'),

  // parties, keys and certificates
  AUTHENTICATION_FAILED: final('Authentication failed.'),
  FORBIDDEN: final('The caller may not perform this operation.'),
  PARTY_ID_INVALID: final('The party address is malformed.'),
  PARTY_UNKNOWN: final('No such party.'),
  PARTY_EXISTS: final('A party with this address already exists.'),
  ALIAS_EXISTS: final('The alias is already registered.'),
  KEY_UNKNOWN: final('The signing key is unknown.'),
  CERTIFICATE_INVALID: final('The key certificate is invalid.'),
  CERTIFICATE_EXPIRED: final('The key certificate is outside its validity period.'),
  CERTIFICATE_REVOKED: final('The key certificate has been revoked.'),
  KEY_BINDING_INVALID: final('The key binding is malformed or does not verify.'),
  KEY_BINDING_REVOKED: final('The key binding has been revoked.'),
  KEY_BINDING_EXPIRED: final('The key binding is outside its validity period.'),
  ENROLMENT_FAILED: final('The key enrolment failed.'),
  ENROLMENT_BLOCKED: final('Key enrolment is blocked after too many failed attempts.'),

  // transport (TLS between institutions): the peer's certificate and what its request claims
  TLS_PEER_REFUSED: final(
    "The peer's TLS certificate does not name the institution its request is signed by.",
  ),
  PKI_INVALID: final(
    "The deployment's certificate folder is missing, incomplete or damaged; the detail names the file.",
  ),
  PKI_BUSY: retryable(
    "Another command is writing the deployment's certificate folder; the detail names its process. Retry when it is done.",
  ),

  // payments
  PAYMENT_UNKNOWN: final('No such payment.'),
  PAYMENT_STATE_INVALID: final('The payment is not in a state that allows this step.'),
  PAYMENT_EXPIRED: final('The payment request has expired.'),
  PAYMENT_DECLINED: refused('The payment was declined.'),
  PAYMENT_MESSAGE_MISMATCH: final('The signed message does not match the payment.'),
  DEVICE_NOT_CONNECTED: retryable('The customer device is not connected.'),
  PAYMENT_CANCELLED: final('The merchant cancelled the payment.'),

  // wallet (device side)
  WALLET_PIN_INVALID: final('The PIN is wrong.'),
  WALLET_LOCKED: final('The wallet is locked after too many wrong PINs.'),

  // custody (the trusted mobile certificate server, iMS §5) and server-counted PINs
  PIN_REFUSED: final('The PIN authorisation was refused.'),
  PIN_BLOCKED: final("The PIN is blocked after too many failed tries; the customer's bank must unblock it."),
  CUSTODY_MESSAGE_UNKNOWN: final('No such message for this customer.'),
  CUSTODY_SOURCE_INVALID: final('The message does not come from a trusted source.'),
  CUSTODY_ACCOUNT_NOT_BOUND: final('Custody holds no key bound to this account for this customer.'),
  HSM_UNAVAILABLE: retryable('The hardware security module is not available.'),
  HSM_LOCKED: final('The hardware security module token is locked or its PIN is wrong.'),

  // security levels (iMS: "different levels of security for small, medium and large transactions")
  SECURITY_LEVEL_TOO_LOW: refused('The security level claimed is lower than the one this payment requires.'),
  SECOND_FACTOR_REQUIRED: refused('This payment requires a second factor (a one-time code).'),
  SECOND_FACTOR_INVALID: refused('The second factor was refused.'),
  BANK_APPROVAL_MISSING: final("The customer's bank did not approve this payment explicitly."),
  PRIVATE_DATA_NOT_SEALED: refused(
    "This payment's level requires its description and order lines sealed for the customer and the banks.",
  ),
  PRIVATE_DATA_INVALID: refused('The sealed private data could not be opened by its reader.'),

  // ledger and bank
  ACCOUNT_UNKNOWN: refused('No such account.'),
  ACCOUNT_EXISTS: final('The account already exists.'),
  ACCOUNT_CLOSED: refused('The account is closed.'),
  ACCOUNTS_MUST_BE_DIFFERENT: final('The debit and credit accounts must differ.'),
  INSUFFICIENT_FUNDS: refused('The debit account has insufficient funds.'),
  TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS: final('A transfer with this id exists with different fields.'),
  TRANSFER_UNKNOWN: final('No such transfer.'),
  LIMIT_EXCEEDED: refused('A transaction limit would be exceeded.'),
  POST_AMOUNT_EXCEEDS_PENDING: final('The amount to post exceeds the pending amount.'),
  TRANSFER_EXPIRED: final('The pending transfer has expired.'),
  BANK_UNKNOWN: final('No such bank, or not a peer of this bank.'),
  INTERBANK_PENDING: retryable(
    "The payee's bank has not answered yet; the payment completes or is released later.",
  ),
  TRANSFER_HELD_BY_PAYMENT_ORDER: final(
    "The hold belongs to an interbank payment order; only the payee bank's answer resolves it.",
  ),
  CORRECTION_CROSSES_BANKS: final(
    'A transfer with another bank is corrected by a payment back through that bank.',
  ),
  SETTLEMENT_EXCEEDS_POSITION: final('The settlement amount exceeds what the banks owe each other.'),
  FUNDS_TRANSFER_EXPIRED: refused('The funds-transfer message arrived after its deadline.'),
  TRANSFER_ALREADY_VOIDED: final('The pending transfer was already voided.'),
  TRANSFER_ALREADY_POSTED: final('The pending transfer was already posted.'),
  TRANSFER_NOT_PENDING: final('The referenced transfer is not a pending transfer.'),
  LINKED_EVENT_FAILED: final('A transfer linked to this one was refused, so none of them was committed.'),
  TRANSFER_NOT_POSTED: final('The referenced transfer is not a posted transfer.'),
  REFUND_EXCEEDS_ORIGINAL: final('The refunds would exceed the amount of the original transfer.'),
  ACCOUNT_NOT_EMPTY: final('The account has a non-zero balance or open holds.'),
  BANK_UNAVAILABLE: retryable('The bank could not be reached.'),
  BANK_ANSWER_INVALID: retryable("The bank's signed answer does not verify."),
  PAYEE_UNKNOWN: refused('The payee bank has no account of this payee in this currency.'),
  CUSTOMER_AUTHORISATION_REQUIRED: refused("The debit order lacks the customer's signed authorisation."),
  CUSTOMER_AUTHORISATION_INVALID: refused('The customer authorisation is invalid.'),

  // transparency log
  PROOF_INVALID: final('The Merkle proof does not verify.'),
  PROOF_REQUEST_INVALID: final('No proof exists for this leaf index and these tree sizes.'),
  CHECKPOINT_INVALID: final('The checkpoint is malformed or does not match the log.'),
  CHECKPOINT_ROLLBACK: final('The checkpoint is for a smaller tree than one already seen.'),
  CHECKPOINT_FORK: final('The checkpoint is inconsistent with one already seen (a fork).'),
  CHECKPOINT_OLD_SIZE_MISMATCH: final('The proof starts from a tree size other than the last one seen.'),
  NOTE_INVALID: final('The signed note is malformed.'),
  NOTE_SIGNATURE_INVALID: final('A signature on the note does not verify.'),
  NOTE_KEY_UNKNOWN: final('The note has no signature by a known key.'),
  NOTE_TOO_MANY_SIGNATURES: final('The note has more signatures than the limit.'),
  WITNESS_QUORUM_NOT_MET: final('The checkpoint has fewer cosignatures by known witnesses than required.'),
  LOG_UNKNOWN: final('The witness does not follow a log with this origin.'),
  TLOG_PROOF_INVALID: final('The transparency log proof is malformed.'),
  EVIDENCE_UNKNOWN: final(
    'No log entry for this payment (not completed, or logged before the log was configured).',
  ),
  RECEIPT_INVALID: final('The receipt is malformed.'),
  RECEIPT_UNVERIFIED: retryable(
    "The payment's receipt could not be opened or verified; the payment may have completed: check its status before paying again.",
  ),

  // out-of-band channels: mail (SMTP); the SMTP reply class decides the code (4xx retryable, 5xx final)
  MAIL_DELIVERY_FAILED: retryable(
    'The mail could not be delivered now (server unreachable, timed out or refusing for a while).',
  ),
  MAIL_REJECTED: final('The mail server refused the message (its size, its recipients or an address).'),

  // operating conditions
  SERVICE_UNAVAILABLE: retryable('The service is temporarily unavailable.'),
  SERVICE_OVERLOADED: retryable('The service is overloaded; retry after the Retry-After delay.'),
  INTERNAL: retryable('Internal error.'),
  CONFIGURATION_INVALID: final(
    'The deployment cannot start with this configuration (for example several gateways without a shared PostgreSQL).',
  ),
  // the embedded database (PGlite in a data folder): the detail names the folder and the cause
  STORAGE_UNAVAILABLE: final(
    'The database cannot be opened: its folder is missing, read-only, in use by another process, not a database or damaged.',
  ),
  STORAGE_CORRUPTED: retryable(
    'The database is damaged; the service stops using it until it is restored from a backup.',
  ),

  // the merchant shop (iMS §2.1: shopping cart, payment, shipment)
  PRODUCT_UNKNOWN: final('No such product in the catalogue.'),
  CART_UNKNOWN: final('No such cart.'),
  CART_EMPTY: final('The cart has no lines.'),
  CART_LIMIT_EXCEEDED: final('The cart would exceed its limit of lines or quantity.'),
  CART_CHECKED_OUT: final('The cart was already checked out; it can no longer change.'),
  ORDER_UNKNOWN: final('No such order.'),
  ORDER_STATE_INVALID: final('The order is not in a state that allows this step.'),

  // m-trade at the till (iMS §2.2): the EMV merchant-presented QR code with a merchant signature
  QR_INVALID: final('The QR code is not a well-formed EMV merchant-presented payload.'),
  QR_CRC_INVALID: final('The QR code checksum does not match; it was misread or altered.'),
  QR_UNSUPPORTED: final('The QR code is not a signed mpay till code.'),
  QR_SIGNATURE_INVALID: final("The QR code's merchant signature does not verify."),
  QR_EXPIRED: final('The QR code has expired.'),
  TRADE_CLAIMED: final('This till code was already claimed by another customer.'),
  TRADE_CLAIM_LIMIT_EXCEEDED: refused('The customer has too many open till claims.'),
  TRADE_CLAIM_MISMATCH: final('The m-trade payment request does not match the claimed till code.'),

  // refunds through the payment chain (merchant → FSP → merchant's bank → customer's bank)
  REFUND_UNKNOWN: final('No such refund.'),
  REFUND_NOT_ALLOWED: final('Only a completed payment can be refunded.'),
  REFUND_ID_REUSED: final('The refund id was already used with different fields.'),
  REFUND_AUTHORISATION_INVALID: refused("The merchant's refund authorisation is invalid."),
  REFUND_ORIGINAL_UNKNOWN: refused('The bank holds no credit of the original payment to this merchant.'),

  // the macro payment (seed 002 §4.2: MPASP, client bank, merchant bank)
  MACRO_RECIPIENT_INVALID: final('The message reached a party the protocol does not send it to.'),
  MACRO_CHALLENGE_DELETED: final('The challenge was deleted after too many failed decryption tries.'),
  MACRO_MSISDN_TAKEN: refused('This MSISDN is already registered for a macro-payment client.'),
  MACRO_CLIENT_EXISTS: refused('This customer is already registered as a macro-payment client.'),
  MACRO_MPIN_REFUSED: final('The mPIN login was refused.'),
  MACRO_MPIN_BLOCKED: final('The mPIN is blocked after too many failed logins; the MPASP must unblock it.'),
  MACRO_SECRET_ANSWER_BLOCKED: final(
    'Macro payments are blocked after too many wrong secret answers; the MPASP must unblock them.',
  ),
  MACRO_CLIENT_UNKNOWN: final('No macro-payment client with this client id at this bank.'),
  MACRO_SESSION_REUSED: final('This session id was already used for another payment request.'),
  MACRO_APPROVAL_UNKNOWN: final('No payment approval request with this session id for this client.'),
  MACRO_APPROVAL_INVALID: refused('The payment approval is invalid.'),
  MACRO_APPROVAL_REPLAYED: final('The payment approval request was already answered.'),
  MACRO_APPROVAL_EXPIRED: final('The payment approval request has expired.'),
  MACRO_PAY_ACK_INVALID: final("The merchant bank's Pay_Ack does not name the funds transfer it answers."),

  // SA2pMP mobile banking (seed 003): the customer and the bank, two parties
  BANKING_CUSTOMER_EXISTS: refused('This customer or user id is already registered for mobile banking.'),
  BANKING_REGISTRATION_FAILED: final('The mobile banking registration failed.'),
  BANKING_PASSWORD_EXISTS: final('A password is already registered; the bank must reset it first.'),
  BANKING_LOGIN_FAILED: final('The login failed.'),
  BANKING_LOGIN_BLOCKED: final(
    'Mobile banking is blocked after too many failed logins; the bank must unblock it.',
  ),
  BANKING_SESSION_INVALID: final('No open banking session with this id.'),
  BANKING_REQUEST_INVALID: final('The banking request could not be verified.'),
  BANKING_REQUEST_REPLAYED: final('This banking request was already received.'),
  BANKING_REQUEST_EXPIRED: final('The banking request has expired.'),
  BANKING_BILLER_UNKNOWN: refused('No such biller at this bank.'),
  BANKING_BILLER_EXISTS: refused('A biller with this id already exists.'),
  BANKING_DEVICE_UNKNOWN: final('No such device of this customer.'),
  BANKING_RENEWAL_INVALID: final('The key renewal is invalid.'),
});

export type ErrorCode = keyof typeof errorCatalogue;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}

/** The fixed, client-facing message of a code. */
export function errorMessageOf(code: ErrorCode): string {
  return errorCatalogue[code].message;
}

/** What a caller may do after this error: see ErrorCategory. */
export function errorCategoryOf(code: ErrorCode): ErrorCategory {
  return errorCatalogue[code].category;
}
