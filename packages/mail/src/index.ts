/**
 * @mpay/mail: the mail channel of the out-of-band channels (macro: the client id
 * and the mPIN go to the client by mail). A mailer that sends through any SMTP
 * relay, an embedded SMTP server on loopback that stores what it receives, and
 * a mailbox that reads the stored mail from any process.
 */
export {
  createMailerLimits,
  createMailLimits,
  type MailerLimits,
  type MailLimits,
} from './limits.ts';
export { mailboxFolderOf, normalizeAddress } from './mailbox/names.ts';
export { type Mailbox, openMailbox } from './mailbox/open.ts';
export type { StoredMail } from './mailbox/stored-mail.ts';
export {
  createMailer,
  type Mailer,
  type MailerOptions,
  mailErrorOf,
  type OutgoingMail,
} from './mailer/create.ts';
export { type MailServer, type MailServerOptions, startMailServer } from './server/start.ts';
