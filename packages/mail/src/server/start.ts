import type { AddressInfo } from 'node:net';
import { isIPv4 } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { createMailLimits, type MailLimits } from '../limits.ts';
import { addressLengthMax, mailboxFolderOf, newMailId, normalizeAddress } from '../mailbox/names.ts';
import { type Mailbox, openMailbox } from '../mailbox/open.ts';
import type { StoredMail } from '../mailbox/stored-mail.ts';
import { countMail, mailboxFolders, prepareDataDir, writeMail } from '../mailbox/write.ts';
import { type ParsedContent, parseMessage } from './parse.ts';

export interface MailServerOptions {
  /** Where the mailboxes live (created if absent); `mpay up` uses `<data>/mail`. */
  dataDir: string;
  /** A loopback address or `localhost` (default `127.0.0.1`); any other host is refused. */
  host?: string;
  /** TCP port; 0 (the default) takes any free one, read it from `MailServer.port`. */
  port?: number;
  /** Overrides of the default limits, validated (see `MailLimits`). */
  limits?: Partial<MailLimits>;
  /** The clock that stamps `receivedAt` and the mail ids (tests move it). */
  clock?: () => Date;
  /** Told of errors that refused no one in particular: a client's dropped socket, a failed write (answered 451). */
  onError?: (error: Error) => void;
  /**
   * Implicit TLS (TLS from the first byte, as on port 465) with this key and
   * certificate, PEM (`mpay up`: the deployment's `mail.mpay`/`smtp`
   * certificate); absent: plain SMTP. No client certificate is asked for.
   * `onReload` (optional) is called once with `apply`: each call of `apply`
   * gives the connections to come a new key and certificate (open ones keep
   * theirs); it throws, and changes nothing, when they do not go together.
   */
  tls?: {
    readonly key: string;
    readonly cert: string;
    readonly onReload?: ((apply: (material: { key: string; cert: string }) => void) => void) | undefined;
  };
}

export interface MailServer {
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
  /** The address it listens on, e.g. `127.0.0.1`: give it to `createMailer({ smtp: { host, port } })`. */
  readonly host: string;
  /** Whether it speaks TLS from the first byte (started with `tls`): a mailer connects with `secure: true`. */
  readonly secure: boolean;
  /** Stops accepting, lets open connections finish (at most `closeTimeoutMs`) and waits for the last write. */
  close(): Promise<void>;
  /** The mail it stored, read from its data folder. */
  readonly mailbox: Mailbox;
}

/** Why a transaction's message is refused at DATA after one of its recipients was refused. */
interface Refusal {
  readonly responseCode: number;
  readonly message: string;
}

/** A recipient's refusal: its reply to RCPT, and the reply its transaction's DATA gets. */
interface RecipientRefusal {
  readonly atRecipient: Refusal;
  readonly atData: Refusal;
}

function smtpError(responseCode: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode });
}

function isLoopbackAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ipv4 = mapped ?? address;
  if (isIPv4(ipv4)) return ipv4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

const defaultHost = '127.0.0.1';

/**
 * Starts the embedded mail server: SMTP on loopback only, for any recipient, with
 * no authentication, and with implicit TLS when `tls` is given (plain otherwise;
 * STARTTLS is never offered). That is safe only because nothing but this
 * machine can connect: a host that is not a loopback address is refused at start,
 * and a connection from any other address is refused too. Each accepted message
 * is decoded once and stored durably, one copy per recipient, under `dataDir`
 * (see `mailbox/write.ts`); `openMailbox(dataDir)` reads it from any process.
 *
 * Refusals reach the sender as SMTP replies: 552 for a message over
 * `messageSizeBytesMax`; 452 for a recipient beyond `recipientsPerMessageMax`, for
 * a full mailbox or for one mailbox too many, after which DATA is refused for every
 * recipient (552 for too many recipients, which will never fit; 452 for full
 * mailboxes, which may empty), so a message is stored for all its recipients or
 * for none; 501 (smtp-server's strict address syntax: no leading dot, no `..`, at
 * most 253 characters) or 553 for an address that is refused before any storage;
 * 554 for a message that cannot be parsed; 451 when a write fails.
 */
export async function startMailServer(options: MailServerOptions): Promise<MailServer> {
  const limits = createMailLimits(options.limits);
  const requestedHost = options.host ?? defaultHost;
  if (requestedHost !== 'localhost' && !isLoopbackAddress(requestedHost)) {
    throw new Error(`mail server: host must be a loopback address or localhost, not ${requestedHost}`);
  }
  const requestedPort = options.port ?? 0;
  if (!Number.isSafeInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new Error('mail server: port must be an integer in 0..65535');
  }
  const dataDir = resolve(options.dataDir);
  const clock = options.clock ?? (() => new Date());
  const onError = options.onError ?? (() => undefined);
  await prepareDataDir(dataDir);

  // One refusal per open transaction (by session id), set at RCPT, answered at DATA.
  const refusedTransactions = new Map<string, Refusal>();
  // Writes run one at a time, so the capacity checks made just before a write are exact.
  let writes: Promise<unknown> = Promise.resolve();
  function serially<T>(task: () => Promise<T>): Promise<T> {
    const run = writes.then(task);
    writes = run.catch(() => undefined);
    return run;
  }

  /** Why `address` cannot take one more mail now, or undefined when it can. */
  async function capacityRefusal(address: string): Promise<string | undefined> {
    const count = await countMail(dataDir, address);
    if (count >= limits.messagesPerMailboxMax) return 'Mailbox full';
    if (count === 0) {
      const folders = await mailboxFolders(dataDir);
      if (!folders.includes(mailboxFolderOf(address)) && folders.length >= limits.mailboxesMax)
        return `Mail storage full (at most ${limits.mailboxesMax} mailboxes)`;
    }
    return undefined;
  }

  function refuseRecipient(
    session: SMTPServerSession,
    callback: (error?: Error | null) => void,
    refusal: RecipientRefusal,
  ): void {
    // A permanent refusal (5xx) wins over a temporary one: retrying that message can never succeed.
    const earlier = refusedTransactions.get(session.id);
    if (earlier === undefined || (earlier.responseCode < 500 && refusal.atData.responseCode >= 500)) {
      refusedTransactions.set(session.id, refusal.atData);
    }
    callback(smtpError(refusal.atRecipient.responseCode, refusal.atRecipient.message));
  }

  async function checkRecipient(
    session: SMTPServerSession,
    recipient: SMTPServerAddress,
  ): Promise<RecipientRefusal | undefined> {
    const address = recipient.address;
    if (address.length > addressLengthMax) {
      return {
        atRecipient: { responseCode: 553, message: 'Mailbox name not allowed (too long)' },
        atData: { responseCode: 554, message: 'Message refused for every recipient: an address was refused' },
      };
    }
    const accepted = session.envelope.rcptTo;
    const repeated = accepted.some(
      (earlier) => normalizeAddress(earlier.address) === normalizeAddress(address),
    );
    if (!repeated && accepted.length >= limits.recipientsPerMessageMax) {
      const message = `Too many recipients (at most ${limits.recipientsPerMessageMax} per message)`;
      return {
        atRecipient: { responseCode: 452, message },
        atData: {
          responseCode: 552,
          message: `Message refused for every recipient: ${message.toLowerCase()}`,
        },
      };
    }
    const full = await capacityRefusal(address);
    if (full === undefined) return undefined;
    return {
      atRecipient: { responseCode: 452, message: full },
      atData: { responseCode: 452, message: `Message refused for every recipient: ${full.toLowerCase()}` },
    };
  }

  async function store(session: SMTPServerSession, content: ParsedContent): Promise<StoredMail | Refusal> {
    const to = session.envelope.rcptTo.map((recipient) => recipient.address);
    const envelopeFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
    return serially(async () => {
      for (const address of to) {
        const full = await capacityRefusal(address);
        if (full !== undefined) return { responseCode: 452, message: full };
      }
      const receivedAt = clock();
      const mail: StoredMail = Object.freeze({
        id: newMailId(receivedAt),
        to: Object.freeze([...to]),
        from: content.from ?? envelopeFrom,
        subject: content.subject,
        date: content.date ?? receivedAt.toISOString(),
        text: content.text,
        receivedAt: receivedAt.toISOString(),
      });
      await writeMail(dataDir, mail);
      return mail;
    });
  }

  async function receive(session: SMTPServerSession, raw: Buffer): Promise<string> {
    let content: ParsedContent;
    try {
      content = await parseMessage(raw);
    } catch {
      throw smtpError(554, 'Message could not be parsed');
    }
    let result: StoredMail | Refusal;
    try {
      result = await store(session, content);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
      throw smtpError(451, 'Local error: the message was not stored');
    }
    if ('responseCode' in result) throw smtpError(result.responseCode, result.message);
    return `OK: stored as ${result.id}`;
  }

  const tls = options.tls;
  if (tls !== undefined && (typeof tls.key !== 'string' || typeof tls.cert !== 'string')) {
    throw new Error('mail server: tls needs a key and a certificate, PEM');
  }
  const server = new SMTPServer({
    name: 'localhost',
    banner: `mpay mail (loopback only, no authentication${tls === undefined ? '' : ', TLS'})`,
    // Implicit TLS: the handshake comes first, before the greeting; TLS 1.2 at least, no client certificate.
    ...(tls === undefined
      ? {}
      : { secure: true, key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const, requestCert: false }),
    size: limits.messageSizeBytesMax,
    rejectOversized: true,
    authOptional: true,
    // Loopback only: there is nothing to authenticate; TLS, when wanted, is implicit (no STARTTLS upgrade).
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    maxClients: limits.connectionsMax,
    socketTimeout: limits.socketTimeoutMs,
    closeTimeout: limits.closeTimeoutMs,

    onConnect(session, callback) {
      if (isLoopbackAddress(session.remoteAddress)) callback();
      else callback(smtpError(554, 'This server accepts connections from loopback only'));
    },

    onMailFrom(_address, session, callback) {
      // A new transaction (after RSET or a finished message) starts with no refusal.
      refusedTransactions.delete(session.id);
      callback();
    },

    onRcptTo(address, session, callback) {
      checkRecipient(session, address).then(
        (refusal) => (refusal === undefined ? callback() : refuseRecipient(session, callback, refusal)),
        (error: unknown) => {
          onError(error instanceof Error ? error : new Error(String(error)));
          refuseRecipient(session, callback, {
            atRecipient: { responseCode: 451, message: 'Local error' },
            atData: { responseCode: 451, message: 'Message refused for every recipient: local error' },
          });
        },
      );
    },

    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        // Past the limit the rest is read and dropped; smtp-server answers 552 (rejectOversized).
        if (bytes <= limits.messageSizeBytesMax) chunks.push(chunk);
      });
      stream.once('end', () => {
        const refusal = refusedTransactions.get(session.id);
        refusedTransactions.delete(session.id);
        if (refusal !== undefined) return callback(smtpError(refusal.responseCode, refusal.message));
        if (stream.sizeExceeded || bytes > limits.messageSizeBytesMax) {
          return callback(smtpError(552, `Message too large (at most ${limits.messageSizeBytesMax} bytes)`));
        }
        receive(session, Buffer.concat(chunks)).then(
          (reply) => callback(null, reply),
          (error: Error) => callback(error),
        );
      });
    },

    onClose(session) {
      refusedTransactions.delete(session.id);
    },
  });
  tls?.onReload?.((material) => {
    const next = { key: material.key, cert: material.cert };
    // Checked first: smtp-server's updateSecureContext records the options before it builds the context.
    createSecureContext({ ...next, minVersion: 'TLSv1.2' });
    server.updateSecureContext(next);
  });
  // Without a listener an 'error' event (a client's reset socket) would end the process.
  server.on('error', onError);
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(requestedPort, requestedHost, () => {
      server.off('error', failed);
      listening();
    });
  });
  const address = server.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    port: address.port,
    host: address.address,
    secure: tls !== undefined,
    mailbox: openMailbox(dataDir),
    close(): Promise<void> {
      closing ??= new Promise<void>((closed) => server.close(() => closed())).then(() =>
        writes.then(() => undefined),
      );
      return closing;
    },
  });
}
