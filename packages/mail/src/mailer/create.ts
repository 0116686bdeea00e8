import { isIPv4 } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { MpayError } from '@mpay/protocol';
import nodemailer from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { createMailerLimits, type MailerLimits } from '../limits.ts';
import { addressLengthMax } from '../mailbox/names.ts';

export interface MailerOptions {
  /** Any SMTP relay, or the embedded server (`{ host: server.host, port: server.port }`). */
  smtp: {
    host: string;
    port: number;
    /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the relay offers it. */
    secure?: boolean;
    /** Credentials; to a relay that is not on loopback they are sent only over TLS (STARTTLS required). */
    auth?: { user: string; pass: string };
    /**
     * The only trust anchors for the server's certificate, PEM (the embedded
     * server of a TLS deployment: its CA); absent: the system's roots. Either
     * way the certificate is verified and must name the host. A function is
     * asked again for each mail: the anchors of a deployment that reloads
     * them (a CA rotation) without a restart.
     */
    ca?: string | (() => string);
    /**
     * Asked on each connection once the server's certificate has verified and
     * names the host: a reason refuses it (the deployment's revoked
     * certificates, which a reload may change); undefined accepts it.
     */
    refuseCertificate?: (certificate: PeerCertificate) => string | undefined;
  };
  /** The sender, `address` or `Name <address>`. */
  from: string;
  /** Overrides of the default limits, validated (see `MailerLimits`). */
  limits?: Partial<MailerLimits>;
}

export interface OutgoingMail {
  /** One recipient, or several separated by commas (each one counts against the server's limit). */
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /**
   * Sends one plain-text mail (UTF-8) and resolves once the relay accepted it for
   * every recipient. Fails with a stable code: `REQUEST_INVALID` for a mail this
   * mailer will not send (no valid recipient, a subject or text over the limits);
   * `MAIL_REJECTED` (final) when the relay answers 5xx or refuses some recipients;
   * `MAIL_DELIVERY_FAILED` (retryable) for a 4xx answer, no connection, a timeout
   * or a failed TLS handshake. The detail is the relay's reply line, when there is one.
   */
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
}

// Control characters would let a value end a header line and start another.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const controlCharacters = /[\u0000-\u001f\u007f]/;
const smtpReplyDetailLengthMax = 200;

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/** The addresses of a header value (`a@x, Name <b@y>`), or undefined when one of them is not an address. */
function addressesOf(value: string): string[] | undefined {
  if (value.length === 0 || controlCharacters.test(value)) return undefined;
  const addresses = addressparser(value, { flatten: true }).map((entry) => entry.address);
  if (addresses.length === 0) return undefined;
  const valid = addresses.every(
    (address) => address.length <= addressLengthMax && /^[^@\s]+@[^@\s]+$/.test(address),
  );
  return valid ? addresses : undefined;
}

function checkOptions(options: MailerOptions): void {
  const { host, port } = options.smtp;
  if (typeof host !== 'string' || host.length === 0 || controlCharacters.test(host)) {
    throw new Error('mailer: smtp.host must be a host name or address');
  }
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) {
    throw new Error('mailer: smtp.port must be an integer in 1..65535');
  }
  if (addressesOf(options.from)?.length !== 1) throw new Error('mailer: from must be one address');
  const { ca } = options.smtp;
  if (ca !== undefined && typeof ca !== 'function') checkAnchors(ca);
}

function checkAnchors(ca: unknown): string {
  if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('mailer: smtp.ca must be PEM certificates');
  }
  return ca;
}

/** A nodemailer failure as a stable code: the SMTP reply class decides, no reply means try again later. */
export function mailErrorOf(error: unknown): MpayError {
  const { responseCode, response, code } = (error ?? {}) as {
    responseCode?: unknown;
    response?: unknown;
    code?: unknown;
  };
  const reply = typeof response === 'string' ? response.slice(0, smtpReplyDetailLengthMax) : undefined;
  if (typeof responseCode === 'number' && responseCode >= 500 && responseCode <= 599) {
    return new MpayError('MAIL_REJECTED', reply ?? `SMTP ${responseCode}`, { cause: error });
  }
  const detail = reply ?? (typeof code === 'string' ? code : 'no SMTP reply');
  return new MpayError('MAIL_DELIVERY_FAILED', detail, { cause: error });
}

/**
 * A mailer over SMTP (nodemailer's SMTP transport, one connection per mail).
 * Every network wait is bounded by `MailerLimits`.
 */
export function createMailer(options: MailerOptions): Mailer {
  checkOptions(options);
  const limits = createMailerLimits(options.limits);
  const { host, port, secure = false, auth, ca, refuseCertificate } = options.smtp;
  const loopback = isLoopbackHost(host);
  const transportFor = (anchors: string | undefined) =>
    nodemailer.createTransport({
      host,
      port,
      secure,
      ...(auth === undefined ? {} : { auth: { user: auth.user, pass: auth.pass } }),
      // Credentials never cross a network in clear: without TLS from the start, STARTTLS is required.
      requireTLS: auth !== undefined && !secure && !loopback,
      // Certificates are always verified (TLS 1.2 at least); with `ca`, under those anchors only.
      tls: {
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(anchors === undefined ? {} : { ca: anchors }),
        ...(refuseCertificate === undefined
          ? {}
          : {
              checkServerIdentity: (name: string, certificate: PeerCertificate) => {
                const named = checkServerIdentity(name, certificate);
                if (named !== undefined) return named;
                const refused = refuseCertificate(certificate);
                return refused === undefined
                  ? undefined
                  : new Error(`the mail server's certificate: ${refused}`);
              },
            }),
      },
      // A relay on this machine is reached even where loopback is the only interface.
      allowInternalNetworkInterfaces: loopback,
      connectionTimeout: limits.connectionTimeoutMs,
      greetingTimeout: limits.greetingTimeoutMs,
      socketTimeout: limits.socketTimeoutMs,
      dnsTimeout: limits.dnsTimeoutMs,
      // The mails are plain text from this process: no attachment may read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
  // The transport of the anchors in use, made again when a function gives others (one connection per mail anyway).
  let current: { anchors: string | undefined; transport: ReturnType<typeof transportFor> } | undefined;
  const transportNow = () => {
    const anchors = typeof ca === 'function' ? checkAnchors(ca()) : ca;
    if (current === undefined || current.anchors !== anchors) {
      current?.transport.close();
      current = { anchors, transport: transportFor(anchors) };
    }
    return current.transport;
  };

  return Object.freeze({
    async send(mail: OutgoingMail): Promise<{ messageId: string }> {
      const recipients = typeof mail.to === 'string' ? addressesOf(mail.to) : undefined;
      if (recipients === undefined) throw new MpayError('REQUEST_INVALID', 'mail: to');
      if (
        typeof mail.subject !== 'string' ||
        mail.subject.length > limits.subjectLengthMax ||
        controlCharacters.test(mail.subject)
      ) {
        throw new MpayError('REQUEST_INVALID', 'mail: subject');
      }
      if (typeof mail.text !== 'string' || Buffer.byteLength(mail.text, 'utf8') > limits.textBytesMax) {
        throw new MpayError('REQUEST_INVALID', 'mail: text');
      }
      let info: { messageId: string; rejected: readonly unknown[]; response: string };
      try {
        info = await transportNow().sendMail({
          from: options.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
        });
      } catch (error) {
        throw mailErrorOf(error);
      }
      // A relay may accept some recipients and refuse others: the mail went out, but not to everyone.
      if (info.rejected.length > 0) {
        throw new MpayError(
          'MAIL_REJECTED',
          `refused for ${info.rejected.length} of ${recipients.length} recipients`,
        );
      }
      return { messageId: info.messageId };
    },
  });
}
