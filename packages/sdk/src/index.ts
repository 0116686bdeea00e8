export { type FspTrust, fetchFspTrust, fspEncryptionKey } from './fsp.ts';
export {
  MerchantClient,
  type MerchantClientOptions,
  type PaymentRequestAccepted,
  type PaymentRequestInput,
} from './merchant/merchant.ts';
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
  createKeystore,
  pbkdf2IterationsDefault,
  pinPattern,
  unlockSigningKey,
  type WalletKeystoreData,
} from './wallet/keystore.ts';
export { type PaymentRequestView, type Receipt, Wallet, type WalletOptions } from './wallet/wallet.ts';
