/** Every limit of the embedded mail server, as named options. */
export interface MailLimits {
  /** Largest message accepted, headers included, as it travels in SMTP DATA (552 above). */
  readonly messageSizeBytesMax: number;
  /** Most distinct recipients of one message; one more refuses the message for all of them (no partial delivery). */
  readonly recipientsPerMessageMax: number;
  /** Most messages one mailbox (one recipient address) keeps; a message to a full mailbox is refused (452). */
  readonly messagesPerMailboxMax: number;
  /** Most mailboxes (distinct recipient addresses) under the data folder; a new one beyond it is refused (452). */
  readonly mailboxesMax: number;
  /** Most SMTP connections open at once. */
  readonly connectionsMax: number;
  /** Idle time after which the server drops an SMTP connection. */
  readonly socketTimeoutMs: number;
  /** How long `close()` waits for open connections to finish before it cuts them. */
  readonly closeTimeoutMs: number;
}

const mailDefaults: MailLimits = {
  messageSizeBytesMax: 1024 * 1024,
  recipientsPerMessageMax: 10,
  messagesPerMailboxMax: 1_000,
  mailboxesMax: 10_000,
  connectionsMax: 32,
  socketTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
};

/** Every limit of a mailer (the sending side), as named options. */
export interface MailerLimits {
  /** Time to open the TCP (or TLS) connection to the relay. */
  readonly connectionTimeoutMs: number;
  /** Time for the relay's greeting once connected. */
  readonly greetingTimeoutMs: number;
  /** Idle time on an open connection before the send fails. */
  readonly socketTimeoutMs: number;
  /** Time to resolve the relay's host name. */
  readonly dnsTimeoutMs: number;
  /** Longest subject, in characters (RFC 5322 §2.1.1: a line is at most 998 characters). */
  readonly subjectLengthMax: number;
  /** Largest text body, in UTF-8 bytes. */
  readonly textBytesMax: number;
}

const mailerDefaults: MailerLimits = {
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  dnsTimeoutMs: 10_000,
  subjectLengthMax: 200,
  textBytesMax: 256 * 1024,
};

function checkInteger(scope: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${scope}: ${name} must be an integer in ${min}..${max}`);
  }
}

export function createMailLimits(options: Partial<MailLimits> = {}): MailLimits {
  const limits = { ...mailDefaults, ...options };
  const check = (name: keyof MailLimits, min: number, max: number) =>
    checkInteger('mail limits', name, limits[name], min, max);
  // Below 1 KiB not even the headers of a plain message fit; 32 MiB is held in memory while it is stored.
  check('messageSizeBytesMax', 1024, 32 * 1024 * 1024);
  // RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients; this one is a sink, not a relay.
  check('recipientsPerMessageMax', 1, 1_000);
  check('messagesPerMailboxMax', 1, 100_000);
  check('mailboxesMax', 1, 1_000_000);
  check('connectionsMax', 1, 1_024);
  check('socketTimeoutMs', 1_000, 10 * 60_000);
  check('closeTimeoutMs', 0, 60_000);
  return Object.freeze({
    messageSizeBytesMax: limits.messageSizeBytesMax,
    recipientsPerMessageMax: limits.recipientsPerMessageMax,
    messagesPerMailboxMax: limits.messagesPerMailboxMax,
    mailboxesMax: limits.mailboxesMax,
    connectionsMax: limits.connectionsMax,
    socketTimeoutMs: limits.socketTimeoutMs,
    closeTimeoutMs: limits.closeTimeoutMs,
  });
}

export function createMailerLimits(options: Partial<MailerLimits> = {}): MailerLimits {
  const limits = { ...mailerDefaults, ...options };
  const check = (name: keyof MailerLimits, min: number, max: number) =>
    checkInteger('mailer limits', name, limits[name], min, max);
  check('connectionTimeoutMs', 100, 5 * 60_000);
  check('greetingTimeoutMs', 100, 5 * 60_000);
  check('socketTimeoutMs', 100, 10 * 60_000);
  check('dnsTimeoutMs', 100, 5 * 60_000);
  check('subjectLengthMax', 1, 998);
  check('textBytesMax', 1, 32 * 1024 * 1024);
  return Object.freeze({
    connectionTimeoutMs: limits.connectionTimeoutMs,
    greetingTimeoutMs: limits.greetingTimeoutMs,
    socketTimeoutMs: limits.socketTimeoutMs,
    dnsTimeoutMs: limits.dnsTimeoutMs,
    subjectLengthMax: limits.subjectLengthMax,
    textBytesMax: limits.textBytesMax,
  });
}
