import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FetchFunction } from '@mpay/http-client';
import type { TlsReloadHook } from '@mpay/http-server';
import {
  createSmsSender,
  isSmsToken,
  type SmsGateway,
  type SmsSender,
  smsGatewayUrlProblem,
  smsTokenLengthMax,
  smsTokenLengthMin,
  startSmsGateway,
} from '@mpay/sms';
import { smsDirOf } from '../commands/sms.ts';

/** An HTTP SMS gateway (a provider's) the platform sends its SMS through instead of the embedded one. */
export interface SmsRelay {
  /** The gateway's base URL; messages go to `{url}/messages`. */
  readonly url: string;
  /** Its bearer token. */
  readonly token: string;
  /**
   * The fetch to call it with; absent: the global fetch (the system's roots).
   * A `mpay up --processes` bank calls the supervisor's embedded gateway of a
   * TLS deployment with its fetch that trusts the deployment's CA only.
   */
  readonly fetch?: FetchFunction | undefined;
}

/** The sender id the platform's SMS (one-time login codes, key-renewal notices) come from. */
export const platformSmsFrom = 'mpay';

/**
 * The gateway named by the environment, or undefined for the embedded one:
 * MPAY_SMS_URL (required to use one: https, or http on loopback only) and
 * MPAY_SMS_TOKEN (its bearer token, 16..512 characters, required with a URL).
 */
export function smsRelayFromEnv(env: Readonly<Record<string, string | undefined>>): SmsRelay | undefined {
  const url = env.MPAY_SMS_URL?.trim();
  if (url === undefined || url === '') return undefined;
  const problem = smsGatewayUrlProblem(url);
  if (problem !== undefined) throw new Error(`MPAY_SMS_URL ${problem}`);
  const token = env.MPAY_SMS_TOKEN?.trim();
  if (!isSmsToken(token)) {
    throw new Error(
      `MPAY_SMS_TOKEN must be the gateway's bearer token, ${smsTokenLengthMin}..${smsTokenLengthMax} characters of A-Z a-z 0-9 - . _ ~ + / (then =)`,
    );
  }
  return { url, token };
}

/** The platform's SMS: the sender the services send with, and the embedded gateway unless a relay is used. */
export interface PlatformSms {
  readonly sender: SmsSender;
  /** The embedded gateway (loopback HTTP that stores what it receives); undefined when a relay is used. */
  readonly gateway: SmsGateway | undefined;
  /** Where the embedded gateway keeps its inboxes (`openSmsInbox(dir)`); undefined when a relay is used. */
  readonly dir: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the SMS of the platform: with a relay, only a sender for it; else
 * the embedded gateway on loopback (HTTPS with `tls`), keeping its messages under `<data>/sms`
 * (read with `mpay sms`), or under a temporary folder removed on close when
 * the platform keeps no data folder (tests). The embedded gateway's token is
 * drawn anew at each start (256 bits) and known only to this process's sender.
 */
export async function startPlatformSms(options: {
  readonly dataDir: string | undefined;
  readonly relay: SmsRelay | undefined;
  readonly port: number | undefined;
  /** The embedded gateway's token (`mpay up --processes` hands it to the banks' processes); default drawn here. */
  readonly token?: string | undefined;
  /**
   * A TLS deployment's (./tls.ts): the embedded gateway serves HTTPS with
   * this key and certificate (`sms.mpay`'s `sms`), and the sender calls it
   * with `fetch`, which trusts the deployment's CA only. Not used with a
   * relay. Absent: plain HTTP on loopback.
   */
  readonly tls?:
    | {
        readonly key: string;
        readonly cert: string;
        readonly fetch: FetchFunction;
        /** PlatformTls.reload's hook (the server's `tls.onReload`): new key and certificate without a restart. */
        readonly onReload?: TlsReloadHook | undefined;
      }
    | undefined;
}): Promise<PlatformSms> {
  if (options.relay !== undefined) {
    return {
      sender: createSmsSender({
        url: options.relay.url,
        token: options.relay.token,
        from: platformSmsFrom,
        ...(options.relay.fetch === undefined ? {} : { fetch: options.relay.fetch }),
      }),
      gateway: undefined,
      dir: undefined,
      close: async () => undefined,
    };
  }
  const temporary = options.dataDir === undefined;
  const dir = temporary ? await mkdtemp(join(tmpdir(), 'mpay-sms-')) : smsDirOf(options.dataDir);
  const token = options.token ?? randomBytes(32).toString('base64url');
  const tls = options.tls;
  let gateway: SmsGateway;
  try {
    gateway = await startSmsGateway({
      dataDir: dir,
      host: '127.0.0.1',
      port: options.port ?? 0,
      token,
      ...(tls === undefined ? {} : { tls }),
    });
  } catch (error) {
    if (temporary) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    sender: createSmsSender({
      url: gateway.url,
      token,
      from: platformSmsFrom,
      ...(tls === undefined ? {} : { fetch: tls.fetch }),
    }),
    gateway,
    dir,
    async close() {
      await gateway.close();
      if (temporary) await rm(dir, { recursive: true, force: true });
    },
  };
}
