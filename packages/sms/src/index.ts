/**
 * @mpay/sms: the SMS channel of the out-of-band channels (SA2pMP: one-time
 * login codes to the customer's registered MSISDN, the bank's key-renewal
 * notice). A sender for any HTTP SMS gateway (`POST {url}/messages`, bearer
 * token, see `api.ts`), an embedded gateway on loopback that answers the same
 * API and stores what it receives, and an inbox that reads the stored messages
 * from any process.
 */
export {
  isLoopbackHost,
  isSmsToken,
  messagesPath,
  smsGatewayUrlProblem,
  smsTokenLengthMax,
  smsTokenLengthMin,
} from './api.ts';
export { type SmsGateway, type SmsGatewayOptions, startSmsGateway } from './gateway/start.ts';
export { inboxFolderOf } from './inbox/names.ts';
export { openSmsInbox, type SmsInbox } from './inbox/open.ts';
export type { StoredSms } from './inbox/stored-sms.ts';
export {
  createSmsLimits,
  createSmsSenderLimits,
  type SmsLimits,
  type SmsSenderLimits,
  smsTextCharactersMax,
} from './limits.ts';
export { isSmsSenderId, isSmsText, type OutgoingSms } from './message.ts';
export { createSmsSender, type SmsSender, type SmsSenderOptions, smsErrorOfAnswer } from './sender/create.ts';
