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
  MerchantClient,
  type MerchantClientOptions,
  type MerchantEvent,
  type PaymentRequestAccepted,
  type PaymentRequestInput,
} from './merchant/merchant.ts';
export {
  type PaymentRequestView,
  type VerifyPaymentRequestContext,
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
export { sessionPinTriesMaxDefault } from './wallet/session-pin.ts';
export { Wallet, type WalletOptions } from './wallet/wallet.ts';
