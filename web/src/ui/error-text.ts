import type { ErrorCode } from '@mpay/protocol';

export interface ErrorText {
  readonly title: string;
  readonly advice: string;
  readonly retryable?: boolean;
}

/** The page's own errors (no service answered them). */
export const pageErrorText: Readonly<
  Record<
    'CONNECTION_LOST' | 'UNEXPECTED' | 'RECEIPT_PROOF_FAILED' | 'QR_UNREADABLE' | 'REQUEST_UNVERIFIED',
    ErrorText
  >
> = {
  CONNECTION_LOST: {
    title: 'No connection',
    advice: 'The answer did not arrive. Nothing is paid twice: try again and the same request is sent.',
    retryable: true,
  },
  UNEXPECTED: {
    title: 'Something went wrong',
    advice: 'Reload the page. If it happens again, tell support.',
  },
  RECEIPT_PROOF_FAILED: {
    title: 'Receipt not confirmed by the public log',
    advice:
      "The public log's proof for this receipt did not verify, so it is not marked as recorded. Keep the receipt and tell support.",
  },
  QR_UNREADABLE: {
    title: 'No QR code found',
    advice:
      'No QR code could be read in the picture. Hold the whole code in view, or choose a sharper picture.',
    retryable: true,
  },
  REQUEST_UNVERIFIED: {
    title: 'Payment request could not be verified',
    advice: 'Do not pay it: it may not come from the merchant it names. Nothing was paid. Tell the merchant.',
  },
};

/**
 * Every stable code of the catalogue as a person reads it: what happened, and
 * what to do now. Read on a phone by a customer, shop staff or an operator.
 * Whether trying again may help comes from the code's category (errors.ts);
 * the advice of a retryable code says that trying again is safe. Cryptographic
 * and authentication failures never say which check failed. "Nothing was
 * paid" appears only where the code is raised before any money moved or after
 * the refusal rolled it back.
 */
export const errorText: Readonly<Record<ErrorCode, ErrorText>> = {
  // request shape and limits
  REQUEST_INVALID: {
    title: 'Request not accepted',
    advice: 'Something in it is missing or not in the expected form. Check what you entered and try again.',
  },
  REQUEST_ENCODING_UNSUPPORTED: {
    title: 'The service could not read this',
    advice: 'The app sent data in a form this service does not read. Update the app, or try again.',
  },
  REQUEST_TOO_LARGE: {
    title: 'Too much data',
    advice: 'The request is larger than allowed. Send less: shorten the text or choose a smaller file.',
  },
  REQUEST_RATE_LIMITED: {
    title: 'Too many attempts',
    advice: 'Wait a little, then try again. Trying again is safe.',
  },
  IDEMPOTENCY_KEY_INVALID: {
    title: 'Request could not be sent',
    advice:
      'The request was missing its request id, so it was not carried out. Reload the page and try again.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    title: 'Request id already used',
    advice:
      'An earlier request with the same id had different details, so this one was not carried out. Check whether the earlier one went through before starting again.',
  },
  IDEMPOTENCY_REQUEST_IN_PROGRESS: {
    title: 'Still in progress',
    advice:
      'The same request is still being handled. Wait a moment and try again: trying again is safe and does not repeat it.',
  },
  NOT_FOUND: {
    title: 'Not found',
    advice: 'It does not exist or is no longer available. Check the address or the id.',
  },

  // money
  AMOUNT_INVALID: {
    title: 'Amount not valid',
    advice: 'Enter an amount above zero with no more decimals than the currency has. Nothing was paid.',
  },
  AMOUNT_TOO_LARGE: {
    title: 'Amount too large',
    advice: 'The amount is above the largest one allowed. Enter a smaller amount. Nothing was paid.',
  },
  CURRENCY_INVALID: {
    title: 'Currency not supported',
    advice: 'Choose one of the supported currencies. Nothing was paid.',
  },
  CURRENCY_MISMATCH: {
    title: 'Currencies do not match',
    advice: "The amount's currency differs from the account's. Use the account's currency. Nothing was paid.",
  },

  // message formats
  MESSAGE_INVALID: {
    title: 'Message could not be read',
    advice:
      'A payment message was incomplete or badly formed, so it was not used. Start again; if it happens again, tell support.',
  },
  XML_INVALID: {
    title: 'Payment message could not be read',
    advice: 'It is not a well-formed payment message, so it was not accepted. The sender must correct it.',
  },
  XML_FORBIDDEN_CONSTRUCT: {
    title: 'Payment message refused',
    advice:
      'It contains parts that are never accepted (document type or entity declarations, processing instructions). The sender must remove them.',
  },
  XML_LIMIT_EXCEEDED: {
    title: 'Payment message too large',
    advice:
      'It is too large, too deeply nested or has too many parts, so it was not accepted. The sender must shorten it.',
  },
  CANONICALIZATION_FAILED: {
    title: 'Data could not be prepared',
    advice:
      'The data could not be put in the form used for signatures, so this step stopped. Reload the page and try again; if it happens again, tell support.',
  },

  // cryptography (generic on purpose: never which check failed)
  CRYPTO_VERIFICATION_FAILED: {
    title: 'Could not be verified',
    advice:
      'A message did not pass its security check, so nothing in it was used. If it was a payment request, do not pay it and tell the merchant.',
  },
  CRYPTO_DECRYPTION_FAILED: {
    title: 'Could not be opened',
    advice:
      'A protected message could not be opened by its reader, so it was not used. Start again; if it happens again, tell support.',
  },
  CRYPTO_ALGORITHM_REJECTED: {
    title: 'Security check failed',
    advice: 'A message or key did not pass its security check, so it was not used. Tell support.',
  },
  CRYPTO_KEY_INVALID: {
    title: 'Security check failed',
    advice:
      'A key did not pass its security check, so this step was not carried out. If it happens again, tell support; a device may need to be enrolled again.',
  },
  CLAIMS_INVALID: {
    title: 'Could not be verified',
    advice:
      'A signed message did not pass its security check, so it was not used. Start again; if it happens again, tell support.',
  },
  MESSAGE_EXPIRED: {
    title: 'Message too old',
    advice:
      "It arrived after its time ran out, so it was not used. Check that this device's clock is right and start again.",
  },
  MESSAGE_REPLAYED: {
    title: 'Already received',
    advice:
      'This exact message was received before and was not carried out again. Check how the first one ended before starting anything new.',
  },

  // parties, keys and certificates
  AUTHENTICATION_FAILED: {
    title: 'Not signed in',
    advice:
      'Your sign-in was not accepted or has ended. Sign in or unlock again; if it keeps failing, tell support.',
  },
  FORBIDDEN: {
    title: 'Not allowed',
    advice: 'This account or device may not do this. If you think it should, tell support.',
  },
  PARTY_ID_INVALID: {
    title: 'Address or phone number not valid',
    advice:
      'Check it and try again. A phone number is written in full with its country code, like +38970123456, without spaces.',
  },
  PARTY_UNKNOWN: {
    title: 'Not registered',
    advice:
      'No customer or merchant is registered under this address or phone number. Check it and try again.',
  },
  PARTY_EXISTS: {
    title: 'Already registered',
    advice: 'A customer or merchant with this address exists already; nothing was changed.',
  },
  ALIAS_EXISTS: {
    title: 'Phone number already in use',
    advice: 'This phone number already belongs to someone else; nothing was changed. Use another number.',
  },
  KEY_UNKNOWN: {
    title: 'Could not be verified',
    advice:
      'The signer of this message is not known here, so nothing in it was used. If it was a payment request, do not pay it and tell the merchant.',
  },
  CERTIFICATE_INVALID: {
    title: 'Could not be verified',
    advice:
      "The sender's certificate did not pass its security check, so the message was not used. Tell support.",
  },
  CERTIFICATE_EXPIRED: {
    title: 'Certificate no longer valid',
    advice: "The sender's certificate is not valid at this time, so the message was not used. Tell support.",
  },
  CERTIFICATE_REVOKED: {
    title: 'Certificate no longer valid',
    advice: "The sender's certificate has been withdrawn, so the message was not used. Tell support.",
  },
  KEY_BINDING_INVALID: {
    title: 'Could not be verified',
    advice: "A device's enrolment did not pass its security check, so it was not used. Tell support.",
  },
  KEY_BINDING_REVOKED: {
    title: 'Device no longer enrolled',
    advice:
      "The device's key was withdrawn and can no longer sign. Enrol the device again with a new code from the bank.",
  },
  KEY_BINDING_EXPIRED: {
    title: 'Device enrolment ended',
    advice:
      "The device's enrolment is no longer valid. Enrol the device again with a new code from the bank.",
  },
  ENROLMENT_FAILED: {
    title: 'Enrolment refused',
    advice:
      'The enrolment was not accepted: the code may be wrong, used or expired. Check it, or ask your bank for a new code. Wrong codes are counted.',
  },
  ENROLMENT_BLOCKED: {
    title: 'Enrolment blocked',
    advice: 'Too many wrong codes were tried. Ask your bank for a new enrolment code.',
  },
  TLS_PEER_REFUSED: {
    title: 'Connection refused',
    advice:
      'A service refused another one whose certificate names a different institution. Nothing was done; the operator must fix it.',
  },
  PKI_INVALID: {
    title: 'Service not available',
    advice:
      'A service cannot read its certificates. Nothing was done. Try again later; the operator must fix it.',
  },
  PKI_BUSY: {
    title: 'Service busy',
    advice:
      "The operator is updating the service's certificates. Nothing was done; trying again is safe in a moment.",
  },

  // payments
  PAYMENT_UNKNOWN: {
    title: 'Payment not found',
    advice: 'No payment with this id is open to you. Check the payment id, or reload the list of payments.',
  },
  PAYMENT_STATE_INVALID: {
    title: 'Payment cannot take this step',
    advice:
      'The payment has moved on: it may be completed, declined or closed. Reload it to see its current status.',
  },
  PAYMENT_EXPIRED: {
    title: 'Payment request expired',
    advice: 'It was not answered in time. Nothing was paid. Ask the merchant for a new request.',
  },
  PAYMENT_DECLINED: {
    title: 'Payment declined',
    advice: 'Nothing was paid. To pay after all, start a new payment.',
  },
  PAYMENT_MESSAGE_MISMATCH: {
    title: 'Payment details do not match',
    advice:
      'A signed message does not match the payment it names, so it was not accepted. Reload the payment to see its status; if it happens again, tell support.',
  },
  DEVICE_NOT_CONNECTED: {
    title: "Customer's phone not connected",
    advice:
      "The customer's wallet is not open or not online. Ask them to open it, then try again. Trying again is safe.",
  },
  PAYMENT_CANCELLED: {
    title: 'Payment cancelled',
    advice: 'The merchant withdrew this payment request. Nothing was paid.',
  },

  // wallet (device side)
  WALLET_PIN_INVALID: {
    title: 'Wrong PIN',
    advice:
      'Nothing was paid. Check the PIN and try again; after too many wrong PINs in a row the wallet locks.',
  },
  WALLET_LOCKED: {
    title: 'Wallet locked',
    advice:
      'The wallet locked, after too many wrong PINs or because it was locked. Nothing was paid. Unlock it with your PIN; more wrong PINs block it.',
  },

  // custody and server-counted PINs
  PIN_REFUSED: {
    title: 'PIN not accepted',
    advice:
      'Nothing was paid. Check the PIN and try again. Wrong PINs are counted: too many in a row block it.',
  },
  PIN_BLOCKED: {
    title: 'PIN blocked',
    advice: 'Too many wrong PINs were entered. Nothing was paid. Your bank must unblock the PIN: contact it.',
  },
  CUSTODY_MESSAGE_UNKNOWN: {
    title: 'Message not found',
    advice: 'No such payment message is held for you. Reload the list of payment requests.',
  },
  CUSTODY_SOURCE_INVALID: {
    title: 'Could not be verified',
    advice:
      'This message could not be verified as coming from the payment service, so it was not used. If it was a payment request, do not pay it and tell the merchant.',
  },
  CUSTODY_ACCOUNT_NOT_BOUND: {
    title: 'Account not set up for this wallet',
    advice:
      'No key is held for paying from this account, so nothing was paid. Ask your bank to enrol the account for your wallet.',
  },
  HSM_UNAVAILABLE: {
    title: 'Secure key store not available',
    advice: 'Nothing was signed. Try again in a moment: trying again is safe. If it lasts, tell support.',
  },
  HSM_LOCKED: {
    title: 'Secure key store locked',
    advice: 'It refused access, so nothing was signed. The operator must unlock it: tell support.',
  },

  // security levels
  SECURITY_LEVEL_TOO_LOW: {
    title: 'Stronger confirmation needed',
    advice:
      'The bank refused the payment: it was not confirmed as securely as its amount requires. Nothing was paid. Start again; if it repeats, tell support.',
  },
  SECOND_FACTOR_REQUIRED: {
    title: 'One-time code needed',
    advice:
      'This payment also needs the one-time code from your authenticator. Nothing was paid. Enter the code and confirm again.',
  },
  SECOND_FACTOR_INVALID: {
    title: 'One-time code not accepted',
    advice:
      'The bank refused the payment. Nothing was paid. Ask for a new payment request and enter a current code; if it keeps failing, contact your bank.',
  },
  BANK_APPROVAL_MISSING: {
    title: 'Bank approval missing',
    advice:
      "The customer's bank did not explicitly approve this payment, so it is not shown as paid. Do not treat it as paid; check its status later or ask the bank.",
  },
  PRIVATE_DATA_NOT_SEALED: {
    title: 'Payment details not protected',
    advice:
      "This payment's level requires its description and order lines to be encrypted for the customer and the banks. Nothing was paid. The merchant must send them encrypted.",
  },
  PRIVATE_DATA_INVALID: {
    title: 'Payment details could not be read',
    advice:
      'The protected description could not be opened by the one who must read it, so the payment was not made. Nothing was paid. Tell the merchant.',
  },

  // ledger and bank
  ACCOUNT_UNKNOWN: {
    title: 'No such account',
    advice: 'The bank has no such account, or it is not yours. Check the account. No money moved.',
  },
  ACCOUNT_EXISTS: {
    title: 'Account already exists',
    advice: 'An account with this id exists already; nothing was changed.',
  },
  ACCOUNT_CLOSED: {
    title: 'Account closed',
    advice: 'The account is closed and takes no new payments. Nothing was paid.',
  },
  ACCOUNTS_MUST_BE_DIFFERENT: {
    title: 'Same account on both sides',
    advice: 'The account paid from and the account paid to must differ. Nothing was paid.',
  },
  INSUFFICIENT_FUNDS: {
    title: 'Not enough money',
    advice: 'The account does not hold enough for this payment. Nothing was paid.',
  },
  TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS: {
    title: 'Transfer id already used',
    advice:
      'A transfer with this id exists with other details, so this one was not made. Check the existing transfer before sending a new one under a new id.',
  },
  TRANSFER_UNKNOWN: {
    title: 'Transfer not found',
    advice: 'The bank has no transfer with this id. Check the id.',
  },
  LIMIT_EXCEEDED: {
    title: 'Limit reached',
    advice:
      'This would go over a transaction limit. Nothing was paid. Pay a smaller amount, or ask the bank about its limits.',
  },
  POST_AMOUNT_EXCEEDS_PENDING: {
    title: 'More than the amount held',
    advice: 'At most the amount held can be paid out of a hold. Nothing was changed.',
  },
  TRANSFER_EXPIRED: {
    title: 'Hold expired',
    advice:
      'The hold ran out of time and its amount is no longer reserved, so it can no longer be paid out. Nothing was paid from it.',
  },
  BANK_UNKNOWN: {
    title: 'Bank not known',
    advice:
      'This bank is not known here, or not one this bank pays through. Nothing was paid. Check the bank.',
  },
  INTERBANK_PENDING: {
    title: "Waiting for the payee's bank",
    advice:
      "The amount is held but not paid yet: the payment completes, or the hold is released, once the payee's bank answers. Check again later; trying again is safe.",
  },
  TRANSFER_HELD_BY_PAYMENT_ORDER: {
    title: 'Hold belongs to a payment to another bank',
    advice: "Only the payee bank's answer completes or releases this hold. Nothing was changed.",
  },
  CORRECTION_CROSSES_BANKS: {
    title: 'Correct through the other bank',
    advice:
      'A transfer with another bank cannot be undone here. Make a payment back through that bank instead. Nothing was changed.',
  },
  SETTLEMENT_EXCEEDS_POSITION: {
    title: 'Settlement too large',
    advice:
      'The amount is more than the banks owe each other. Settle at most the current position. Nothing was settled.',
  },
  FUNDS_TRANSFER_EXPIRED: {
    title: 'Payment arrived too late',
    advice:
      "The payee's bank received it after its deadline and refused it. Nothing was paid; the amount held for it is released.",
  },
  TRANSFER_ALREADY_VOIDED: {
    title: 'Hold already released',
    advice: 'This hold was released before, so nothing was changed now.',
  },
  TRANSFER_ALREADY_POSTED: {
    title: 'Hold already paid out',
    advice: 'This hold was paid out before, so nothing was changed now.',
  },
  TRANSFER_NOT_PENDING: {
    title: 'Not a hold',
    advice: 'Only a hold can be paid out or released; this transfer is not one. Nothing was changed.',
  },
  LINKED_EVENT_FAILED: {
    title: 'Linked transfer refused',
    advice:
      'Another transfer sent together with this one was refused, so none of them was made. Correct that one and send them again.',
  },
  TRANSFER_NOT_POSTED: {
    title: 'Transfer not completed',
    advice: 'Only a completed transfer can be refunded or corrected; this one is not. Nothing was changed.',
  },
  REFUND_EXCEEDS_ORIGINAL: {
    title: 'Refund too large',
    advice:
      'Refunds cannot add up to more than the original payment. Nothing was refunded; refund at most what is left.',
  },
  ACCOUNT_NOT_EMPTY: {
    title: 'Account not empty',
    advice: 'An account can be closed only with a zero balance and no open holds. Nothing was changed.',
  },
  BANK_UNAVAILABLE: {
    title: 'Bank not reachable',
    advice: 'The bank did not answer. Try again in a moment: trying again is safe.',
  },
  BANK_ANSWER_INVALID: {
    title: "Bank's answer not accepted",
    advice:
      "The bank's answer could not be verified, so nothing in it was used. Try again in a moment: trying again is safe.",
  },
  PAYEE_UNKNOWN: {
    title: 'Payee not found',
    advice: "The payee's bank has no account for this payee in this currency. Nothing was paid.",
  },
  CUSTOMER_AUTHORISATION_REQUIRED: {
    title: "Customer's consent missing",
    advice:
      'The bank received no signed consent of the customer, so it refused the payment. Nothing was paid.',
  },
  CUSTOMER_AUTHORISATION_INVALID: {
    title: "Customer's consent not accepted",
    advice:
      "The bank could not verify the customer's consent, so it refused the payment. Nothing was paid. Tell support.",
  },

  // transparency log
  PROOF_INVALID: {
    title: 'Public log proof did not verify',
    advice:
      'The record is not confirmed as being in the public log. Keep your receipt and report this to support.',
  },
  PROOF_REQUEST_INVALID: {
    title: 'No such log proof',
    advice:
      "The public log has no proof for that entry at that size. Reload to fetch the log's latest state.",
  },
  CHECKPOINT_INVALID: {
    title: 'Public log state not valid',
    advice:
      "The log's signed state is malformed or does not match the log, so it was not used. Report this to support.",
  },
  CHECKPOINT_ROLLBACK: {
    title: 'Public log went backwards',
    advice:
      'The log showed a smaller state than one already seen, so it is not trusted. Keep your receipt and report this to support.',
  },
  CHECKPOINT_FORK: {
    title: 'Public log is inconsistent',
    advice:
      'The log showed two different histories, so it is not trusted. Keep your receipt and report this to support at once.',
  },
  CHECKPOINT_OLD_SIZE_MISMATCH: {
    title: 'Log proof starts from the wrong point',
    advice:
      'The proof does not start from the last log state seen, so it was not used. Reload to fetch the latest state.',
  },
  NOTE_INVALID: {
    title: 'Public log data could not be read',
    advice: 'A signed statement of the log is malformed, so it was not used. Report this to support.',
  },
  NOTE_SIGNATURE_INVALID: {
    title: 'Public log data could not be verified',
    advice:
      'A statement of the log did not pass its security check, so it was not used. Report this to support.',
  },
  NOTE_KEY_UNKNOWN: {
    title: 'Public log data could not be verified',
    advice:
      'A statement of the log is not signed by anyone known here, so it was not used. Report this to support.',
  },
  NOTE_TOO_MANY_SIGNATURES: {
    title: 'Public log data too large',
    advice:
      'A statement of the log carries more signatures than allowed, so it was not used. Report this to support.',
  },
  WITNESS_QUORUM_NOT_MET: {
    title: 'Not enough witnesses yet',
    advice:
      "Too few independent witnesses have confirmed the log's state, so the record is not shown as confirmed. Check again later; if it lasts, tell support.",
  },
  LOG_UNKNOWN: {
    title: 'Log not followed',
    advice: 'This witness does not follow a log with that name. Check the log name in the configuration.',
  },
  TLOG_PROOF_INVALID: {
    title: 'Log proof could not be read',
    advice:
      'The public log proof is malformed, so the record is not shown as confirmed. Report this to support.',
  },
  EVIDENCE_UNKNOWN: {
    title: 'Not in the public log',
    advice:
      'There is no log entry for this payment: it did not complete, or it was made before the log was set up. Check the payment status.',
  },
  RECEIPT_INVALID: {
    title: 'Receipt could not be read',
    advice: 'The receipt is malformed, so it cannot be checked. Keep it and tell support.',
  },
  RECEIPT_UNVERIFIED: {
    title: 'Payment not confirmed yet',
    advice:
      'The payment may have gone through, but its receipt could not be checked. Do not pay again. Trying again is safe: it asks for the same receipt and never pays twice.',
  },

  // mail
  MAIL_DELIVERY_FAILED: {
    title: 'Mail not delivered yet',
    advice:
      'The mail server could not be reached, timed out or asked to wait. Trying again is safe; if it lasts, check the mail server.',
  },
  MAIL_REJECTED: {
    title: 'Mail refused',
    advice:
      'The mail server refused the mail (its size, recipient or address), so it is not sent. Check the mail address.',
  },

  // operating conditions
  SERVICE_UNAVAILABLE: {
    title: 'Service not available',
    advice: 'A service did not answer in time. Try again in a moment: trying again is safe.',
  },
  SERVICE_OVERLOADED: {
    title: 'Service busy',
    advice: 'There are too many requests right now. Wait a few seconds and try again: trying again is safe.',
  },
  INTERNAL: {
    title: 'Something went wrong on our side',
    advice: 'Try again in a moment: trying again is safe. If it keeps happening, tell support.',
  },
  CONFIGURATION_INVALID: {
    title: 'Service not available',
    advice:
      'The service was started with settings it cannot run with. Nothing was done. The operator must fix them.',
  },
  STORAGE_UNAVAILABLE: {
    title: 'Service not available',
    advice: 'A service cannot open its data. Nothing was done. Try again later; the operator must fix it.',
  },
  STORAGE_CORRUPTED: {
    title: 'Service not available',
    advice: 'A service found its data damaged and stopped using it. Try again later: trying again is safe.',
  },

  // the merchant shop
  PRODUCT_UNKNOWN: {
    title: 'Product not available',
    advice: 'This product is not in the catalogue. Reload the catalogue and choose again.',
  },
  CART_UNKNOWN: {
    title: 'Cart not found',
    advice: 'This cart does not exist or this browser no longer holds it. Start a new cart.',
  },
  CART_EMPTY: {
    title: 'Cart is empty',
    advice: 'Add at least one product before checking out.',
  },
  CART_LIMIT_EXCEEDED: {
    title: 'Cart is full',
    advice:
      'The cart would have too many lines or too large a quantity. Remove some items or place a second order.',
  },
  CART_CHECKED_OUT: {
    title: 'Cart already checked out',
    advice: 'This cart became an order and can no longer change. Follow that order, or start a new cart.',
  },
  ORDER_UNKNOWN: {
    title: 'Order not found',
    advice: 'There is no such order. Check the order number.',
  },
  ORDER_STATE_INVALID: {
    title: 'Order cannot take this step',
    advice: 'The order has moved on: it may be paid, shipped or closed. Reload it to see its current status.',
  },

  // m-trade at the till
  QR_INVALID: {
    title: 'Not a payment QR code',
    advice:
      "This QR code is not a payment code. Scan the code shown at the merchant's till. Nothing was paid.",
  },
  QR_CRC_INVALID: {
    title: 'QR code misread',
    advice:
      'The code was misread or has been changed. Nothing was paid. Scan it again; if it fails again, ask the merchant for a new code.',
  },
  QR_UNSUPPORTED: {
    title: 'QR code not supported',
    advice: 'This is not a signed mpay till code, so it cannot be paid here. Nothing was paid.',
  },
  QR_SIGNATURE_INVALID: {
    title: 'QR code could not be verified',
    advice: 'Do not pay with this code: it may be forged. Nothing was paid. Tell the merchant or shop staff.',
  },
  QR_EXPIRED: {
    title: 'QR code expired',
    advice: 'Nothing was paid. Ask the merchant to show a new code.',
  },
  TRADE_CLAIMED: {
    title: 'Code already taken',
    advice:
      'Someone else already started paying with this code. Nothing was paid from your account. Ask the merchant for a new code.',
  },
  TRADE_CLAIM_LIMIT_EXCEEDED: {
    title: 'Too many open till payments',
    advice: 'Nothing was paid. Finish your other open till payments or wait a few minutes, then scan again.',
  },
  TRADE_CLAIM_MISMATCH: {
    title: 'Payment does not match the code',
    advice:
      'The payment request does not match the scanned till code (merchant, customer or amount), so it was not used. Nothing was paid. Start again with a new code.',
  },

  // refunds
  REFUND_UNKNOWN: {
    title: 'Refund not found',
    advice: 'There is no such refund of this payment. Check the refund id.',
  },
  REFUND_NOT_ALLOWED: {
    title: 'Refund not possible',
    advice: 'Only a completed payment can be refunded. Nothing was refunded.',
  },
  REFUND_ID_REUSED: {
    title: 'Refund id already used',
    advice:
      'A refund with this id exists with other details, so nothing more was refunded. Check the existing refund before starting a new one.',
  },
  REFUND_AUTHORISATION_INVALID: {
    title: 'Refund not authorised',
    advice:
      "The bank could not verify the merchant's approval of this refund. Nothing was refunded. Tell support.",
  },
  REFUND_ORIGINAL_UNKNOWN: {
    title: 'Original payment not found',
    advice:
      'The bank holds no record of this payment to the merchant, so nothing was refunded. Check the payment.',
  },

  // the macro payment
  MACRO_RECIPIENT_INVALID: {
    title: 'Message sent to the wrong party',
    advice: 'This party does not take part in this step, so the message was not used. Tell support.',
  },
  MACRO_CHALLENGE_DELETED: {
    title: 'Too many wrong tries',
    advice:
      'The mPIN was wrong too many times for this payment, so it was closed. Nothing was paid. Start a new payment.',
  },
  MACRO_MSISDN_TAKEN: {
    title: 'Phone number already registered',
    advice:
      'This phone number is already registered for macro payments. Use another number, or contact your payment provider.',
  },
  MACRO_CLIENT_EXISTS: {
    title: 'Already registered',
    advice: 'You are already registered for macro payments. Use the client id and mPIN you received by mail.',
  },
  MACRO_MPIN_REFUSED: {
    title: 'Login refused',
    advice:
      'Check your client id and mPIN and try again. Failed logins are counted: too many in a row block the client id.',
  },
  MACRO_MPIN_BLOCKED: {
    title: 'mPIN blocked',
    advice: 'Too many failed logins. Nothing was paid. Your payment provider must unblock it: contact them.',
  },
  MACRO_SECRET_ANSWER_BLOCKED: {
    title: 'Macro payments blocked',
    advice:
      'Too many wrong answers to the secret question. Nothing was paid. Your payment provider must unblock them: contact them.',
  },
  MACRO_CLIENT_UNKNOWN: {
    title: 'Client id not known',
    advice: 'The bank has no macro-payment client with this id. Check the client id. Nothing was paid.',
  },
  MACRO_SESSION_REUSED: {
    title: 'Payment session already used',
    advice:
      'This session was used for another payment request, so this one was not accepted. Nothing was paid. Start a new payment.',
  },
  MACRO_APPROVAL_UNKNOWN: {
    title: 'Approval request not found',
    advice: 'The bank has no approval request for this payment. Reload the payment to see its status.',
  },
  MACRO_APPROVAL_INVALID: {
    title: 'Approval not accepted',
    advice:
      'The bank could not accept this approval. Nothing was paid. Start the payment again; if it repeats, contact your bank.',
  },
  MACRO_APPROVAL_REPLAYED: {
    title: 'Already answered',
    advice:
      'This approval request was answered before and the first answer stands. Reload the payment to see its status.',
  },
  MACRO_APPROVAL_EXPIRED: {
    title: 'Too late to approve',
    advice: 'The time to approve this payment has passed. Nothing was paid. Start a new payment.',
  },
  MACRO_PAY_ACK_INVALID: {
    title: "Merchant bank's answer not accepted",
    advice:
      'It does not name the transfer it answers, so it was not acted on: the amount stays held and the operator is alerted. Check the payment later.',
  },

  // mobile banking
  BANKING_CUSTOMER_EXISTS: {
    title: 'Already registered for mobile banking',
    advice:
      'This customer or user id is registered already. Use another user id, or log in with the existing one.',
  },
  BANKING_REGISTRATION_FAILED: {
    title: 'Registration refused',
    advice:
      'The bank did not register this device. Check the user id and account the bank gave you, or contact your bank.',
  },
  BANKING_PASSWORD_EXISTS: {
    title: 'Password already set',
    advice: 'A password is registered already. Your bank must reset it before you can set a new one.',
  },
  BANKING_LOGIN_FAILED: {
    title: 'Login refused',
    advice:
      'The bank does not say which detail was wrong. Check them and try again: too many failed logins in a row block mobile banking.',
  },
  BANKING_LOGIN_BLOCKED: {
    title: 'Mobile banking blocked',
    advice: 'Too many failed logins. Your bank must lift the block: contact it.',
  },
  BANKING_SESSION_INVALID: {
    title: 'Session ended',
    advice: 'Your banking session has ended. Log in again.',
  },
  BANKING_REQUEST_INVALID: {
    title: 'Request could not be verified',
    advice:
      "The bank could not verify this device's request, so it was not carried out. Log in again; if that fails too, enrol this device again.",
  },
  BANKING_REQUEST_REPLAYED: {
    title: 'Request already received',
    advice:
      'The bank received this exact request before and did not carry it out again. Check your statement before sending a new one.',
  },
  BANKING_REQUEST_EXPIRED: {
    title: 'Request too old',
    advice: "It reached the bank too late and was not carried out. Check this device's clock and try again.",
  },
  BANKING_BILLER_UNKNOWN: {
    title: 'Unknown biller',
    advice: 'This bank has no biller with that id. Check the biller. Nothing was paid.',
  },
  BANKING_BILLER_EXISTS: {
    title: 'Biller already exists',
    advice: 'A biller with this id is registered at this bank already; nothing was changed.',
  },
  BANKING_DEVICE_UNKNOWN: {
    title: 'Device not found',
    advice: 'None of your devices has that serial number. Reload the list of devices.',
  },
  BANKING_RENEWAL_INVALID: {
    title: 'Key renewal refused',
    advice:
      'The bank refused the key renewal; the current key stays in use. Try again from the renewal notice, or contact your bank.',
  },
};
