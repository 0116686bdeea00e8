export * from './banking/index.ts';
export {
  type CustodyEventKind,
  type CustodyPaymentRequestView,
  CustodyWallet,
  type CustodyWalletOptions,
  custodyEventKinds,
  type DelegateSignature,
  type DelegationResult,
  type InboxEvent,
  inboxWaitMsMax,
  type OpenedForward,
} from './custody/custody-wallet.ts';
export {
  type DelegationDecision,
  delegationAuthorisation,
  delegationAuthorisationDomain,
  forwardMessageHash,
} from './custody/delegation.ts';
export {
  addCustodyDevice,
  type CustodyDeviceInput,
  type CustodyEnrolment,
  type CustodyEnrolmentInput,
  enrolWithCustody,
} from './custody/enrol.ts';
export type { CustodyCallOptions } from './custody/http.ts';
export { type CustodyTrust, custodyEncryptionKey, fetchCustodyTrust } from './custody/trust.ts';
export {
  type FspTrust,
  fetchFspTrust,
  fspEncryptionKey,
  type Receipt,
  verifyFspStatement,
} from './fsp.ts';
export {
  type MacroApprovalDecision,
  type MacroApprovalOutcome,
  type MacroApprovalRequest,
  MacroBankClient,
  type MacroBankClientOptions,
  type MacroConfirmation,
  type PreparedMacroApproval,
} from './macro/bank-client.ts';
export {
  createMacroDeviceSecret,
  deriveMacroChannelKey,
  deriveMacroRequestKey,
  hkdfSha256,
} from './macro/channel-key.ts';
export {
  type MacroChannel,
  MacroClient,
  type MacroClientOptions,
  type MacroPaymentPrompts,
  type MacroRegistered,
  type MacroRegistrationInput,
  type PreparedMacroRegistration,
} from './macro/client.ts';
export {
  MacroMerchantClient,
  type MacroMerchantClientOptions,
  type MacroMerchantConfirmation,
  type MacroMerchantConfirmationPage,
} from './macro/merchant-bank.ts';
export {
  createMacroPaymentRequest,
  describeCompact,
  hashTransactionDataAsync,
  type MacroMessageObserved,
  type MacroMessageObserver,
  type MacroPaymentInput,
  type MacroPaymentStarted,
  type MacroSessionCreated,
  type OpenedMacroChallenge,
  type PreparedMacroPayment,
} from './macro/payment.ts';
export {
  MerchantClient,
  type MerchantClientOptions,
  type MerchantEvent,
  type PaymentRequestAccepted,
  type PaymentRequestInput,
  type PaymentStatus,
} from './merchant/merchant.ts';
export {
  type RefundAnswer,
  type RefundClientOptions,
  type RefundInput,
  readRefund,
  requestRefund,
} from './merchant/refund.ts';
export { type BankTrust, fetchBankTrust } from './merchant/seal.ts';
export {
  createTillQr,
  fetchTillClaim,
  type TillClaim,
  type TillQr,
  type TillQrInput,
  type TillSigner,
  tillClaimOf,
} from './merchant/till.ts';
export {
  type MerchantShown,
  merchantShown,
  type PaymentRequestView,
  type VerifyPaymentRequestContext,
  verifyMerchantCertificate,
  verifyPaymentRequest,
} from './payment-request/verify.ts';
export {
  finishPinLogin,
  type PinLoginFinish,
  type PinLoginStart,
  type PinRegistration,
  pinLogin,
  pinPattern,
  registerPin,
  requirePinFormat,
  startPinLogin,
} from './pin/opaque.ts';
export { readServerSentEvents, type ServerSentEvent } from './sse.ts';
export type { MessageTrace, TracedMessage } from './trace.ts';
export {
  type DeviceEventKind,
  type DeviceEventView,
  deviceEventKinds,
  type PaymentClosed,
  type PaymentEnd,
  paymentClosedOf,
} from './wallet/device-events.ts';
export {
  type DeviceKeys,
  type Enrolment,
  type EnrolmentInvitation,
  enrolDevice,
  registerWithFsp,
} from './wallet/enrol.ts';
export {
  type CreateKeystoreInput,
  createKeystore,
  type DeviceKeyPairs,
  parseKeystore,
  type UnlockedKeys,
  unlockKeystore,
  type WalletKeystoreData,
} from './wallet/keystore.ts';
export { openRefundReceipt, type RefundReceipt, verifyRefundReceipt } from './wallet/refund.ts';
export {
  type Authenticator,
  authenticatorCode,
  openAuthenticator,
  type SecondFactorInput,
  sealSecondFactor,
} from './wallet/second-factor.ts';
export { sessionPinTriesMaxDefault } from './wallet/session-pin.ts';
export {
  awaitTillRequest,
  claimTill,
  readTillQr,
  requestMatchesOffer,
  type TillClaimAccepted,
  type TillClaimContext,
  type TillOffer,
  type TillReadContext,
} from './wallet/till.ts';
export { type RefusedPaymentRequest, Wallet, type WalletOptions } from './wallet/wallet.ts';
