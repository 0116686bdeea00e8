import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMailer,
  type Mailer,
  type MailerOptions,
  type MailServer,
  type MailServerOptions,
  openMailbox,
  startMailServer,
} from '@mpay/mail';
import { MpayError } from '@mpay/protocol';
import { mailDirOf } from '../commands/mail.ts';

/** An SMTP relay the platform sends its mail through instead of the embedded server (as the operator gives it: anchors as PEM text). */
export type SmtpRelay = MailerOptions['smtp'] & { ca?: string };

/** Who the MPASP's mail (macro §3: client id and mPIN) comes from. */
export const platformMailFrom = 'MPASP <mpasp@fsp.mpay>';

/**
 * The relay named by the environment, or undefined for the embedded server:
 * MPAY_SMTP_HOST (required to use a relay), MPAY_SMTP_PORT (default 587, or
 * 465 with TLS), MPAY_SMTP_SECURE (`true`: TLS from the first byte; otherwise
 * STARTTLS when offered, required when credentials are sent), MPAY_SMTP_USER
 * and MPAY_SMTP_PASS (both or neither).
 */
export function smtpRelayFromEnv(env: Readonly<Record<string, string | undefined>>): SmtpRelay | undefined {
  const host = env.MPAY_SMTP_HOST?.trim();
  if (host === undefined || host === '') return undefined;
  const secureText = env.MPAY_SMTP_SECURE?.trim().toLowerCase() ?? '';
  if (!['', 'true', 'false', '1', '0'].includes(secureText)) {
    throw new Error('MPAY_SMTP_SECURE must be true or false');
  }
  const secure = secureText === 'true' || secureText === '1';
  const portText = env.MPAY_SMTP_PORT?.trim() || (secure ? '465' : '587');
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65_535) {
    throw new Error('MPAY_SMTP_PORT must be a port number');
  }
  const user = env.MPAY_SMTP_USER;
  const pass = env.MPAY_SMTP_PASS;
  if ((user === undefined) !== (pass === undefined)) {
    throw new Error('MPAY_SMTP_USER and MPAY_SMTP_PASS go together');
  }
  return {
    host,
    port,
    secure,
    ...(user === undefined || pass === undefined ? {} : { auth: { user, pass } }),
  };
}

/** The platform's mail: the mailer the gateway sends with, and the embedded server unless a relay is used. */
export interface PlatformMail {
  readonly mailer: Mailer;
  /** The embedded server (loopback SMTP that stores what it receives); undefined when a relay is used. */
  readonly server: MailServer | undefined;
  /** Where the embedded server keeps its mailboxes (`openMailbox(dir)`); undefined when a relay is used. */
  readonly dir: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the mail of the platform: with a relay, only a mailer for it; else
 * the embedded server on loopback (implicit TLS with `tls`), keeping its mail under `<data>/mail` (read
 * with `mpay mail`), or under a temporary folder removed on close when the
 * platform keeps no data folder (tests).
 */
export async function startPlatformMail(options: {
  readonly dataDir: string | undefined;
  /** A relay, or (a service process's gateway) the supervisor's embedded server, whose anchors may follow reloads. */
  readonly relay: MailerOptions['smtp'] | undefined;
  readonly port: number | undefined;
  /**
   * A TLS deployment's (./tls.ts): the embedded server speaks implicit TLS
   * (TLS from the first byte, as on port 465) with this key and certificate
   * (`mail.mpay`'s `smtp`), and the mailer connects with `secure` and the
   * deployment's CA as its only trust anchor. Not used with a relay (it
   * keeps its own settings). Absent: plain SMTP on loopback.
   */
  readonly tls?:
    | {
        readonly key: string;
        readonly cert: string;
        /** The deployment's trust bundle for the mailer: a function follows PlatformTls's reloads (a CA rotation). */
        readonly caPem: string | (() => string);
        /** Refuses the server's certificate when revoked (PlatformTls.revokedSerials of the last reload). */
        readonly refuseCertificate?: MailerOptions['smtp']['refuseCertificate'];
        /** PlatformTls.reload's hook (the server's `tls.onReload`): new key and certificate without a restart. */
        readonly onReload?: NonNullable<MailServerOptions['tls']>['onReload'];
      }
    | undefined;
}): Promise<PlatformMail> {
  if (options.relay !== undefined) {
    return {
      mailer: createMailer({ smtp: options.relay, from: platformMailFrom }),
      server: undefined,
      dir: undefined,
      close: async () => undefined,
    };
  }
  const temporary = options.dataDir === undefined;
  const dir = temporary ? await mkdtemp(join(tmpdir(), 'mpay-mail-')) : mailDirOf(options.dataDir);
  const tls = options.tls;
  const server = await startMailServer({
    dataDir: dir,
    host: '127.0.0.1',
    port: options.port ?? 0,
    ...(tls === undefined ? {} : { tls }),
  });
  return {
    mailer: createMailer({
      smtp: {
        host: server.host,
        port: server.port,
        ...(tls === undefined
          ? {}
          : {
              secure: true,
              ca: tls.caPem,
              ...(tls.refuseCertificate === undefined ? {} : { refuseCertificate: tls.refuseCertificate }),
            }),
      },
      from: platformMailFrom,
    }),
    server,
    dir,
    async close() {
      await server.close();
      if (temporary) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The MPASP's registration mail (macro §3) as the client reads it: its subject and the mPIN in it. */
export interface RegistrationMail {
  readonly subject: string;
  readonly mPin: string;
}

/**
 * The registration mail to `email` naming `clientId`, read from the embedded
 * mail server's `mailDir` as `mpay mail ADDRESS` reads it; `waitFor` asks
 * again until the mail is there (the caller's poll and deadline).
 */
export async function readRegistrationMail(
  mailDir: string,
  email: string,
  clientId: string,
  waitFor: <T>(what: string, read: () => Promise<T | undefined>) => Promise<T>,
): Promise<RegistrationMail> {
  const mail = await waitFor(`registration mail to ${email} in ${mailDir}`, async () =>
    (await openMailbox(mailDir).list(email)).find((candidate) =>
      candidate.text.includes(`Client id: ${clientId}`),
    ),
  );
  const mPin = /mPIN: +([0-9]{6})/.exec(mail.text)?.[1];
  if (mPin === undefined) throw new MpayError('SERVICE_UNAVAILABLE', `no mPIN in the mail to ${email}`);
  return { subject: mail.subject, mPin };
}
