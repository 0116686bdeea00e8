import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { isIPv4 } from 'node:net';
import { resolve } from 'node:path';
import { createHttpServer, sendError, serverOnlyTls, type TlsReloadHook } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import { isSmsToken, messagesPath, smsTokenLengthMax, smsTokenLengthMin } from '../api.ts';
import { inboxFolderOf, newSmsId } from '../inbox/names.ts';
import { openSmsInbox, type SmsInbox } from '../inbox/open.ts';
import type { StoredSms } from '../inbox/stored-sms.ts';
import { countSms, inboxFolders, prepareDataDir, writeSms } from '../inbox/write.ts';
import { createSmsLimits, type SmsLimits } from '../limits.ts';
import { invalidSmsFieldOf, isSmsSenderId } from '../message.ts';

export interface SmsGatewayOptions {
  /** Where the inboxes live (created if absent); the platform uses `<data>/sms`. */
  dataDir: string;
  /** A loopback address or `localhost` (default `127.0.0.1`); any other host is refused. */
  host?: string;
  /** TCP port; 0 (the default) takes any free one, read it from `SmsGateway.port`. */
  port?: number;
  /** The bearer token a sender must present (a b64token of 16..512 characters). */
  token: string;
  /** Overrides of the default limits, validated (see `SmsLimits`). */
  limits?: Partial<SmsLimits>;
  /** The clock that stamps `receivedAt` and the message ids (tests move it). */
  clock?: () => Date;
  /** Told of a failed write (answered 503): the sender will try again. */
  onError?: (error: Error) => void;
  /**
   * HTTPS with this key and certificate, PEM (`mpay up`: the deployment's
   * `sms.mpay`/`sms` certificate); absent: plain HTTP. No client certificate
   * is asked for (the bearer token authenticates the sender). `onReload`:
   * as @mpay/http-server's ServerTls.onReload (a new key and certificate
   * for the connections to come).
   */
  tls?: { readonly key: string; readonly cert: string; readonly onReload?: TlsReloadHook | undefined };
}

export interface SmsGateway {
  /** The base URL to give `createSmsSender({ url })`: `http://127.0.0.1:<port>` (`https://` with `tls`). */
  readonly url: string;
  /** The address it listens on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
  /** The messages it stored, read from its data folder. */
  readonly inbox: SmsInbox;
  /** Stops accepting, lets open requests finish and waits for the last write. */
  close(): Promise<void>;
}

/** The body of `POST /messages`: its shape only; the values are checked by the rules the sender uses. */
const messageBodySchema = {
  type: 'object',
  required: ['from', 'to', 'text'],
  additionalProperties: false,
  properties: {
    from: { type: 'string' },
    to: { type: 'string' },
    text: { type: 'string' },
  },
} as const;

interface MessageBody {
  readonly from: string;
  readonly to: string;
  readonly text: string;
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ipv4 = mapped ?? address;
  if (isIPv4(ipv4)) return ipv4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The bearer token of an Authorization header (RFC 6750 §2.1), or undefined. */
function bearerTokenOf(header: string | undefined): string | undefined {
  const match = /^Bearer +([^ ]+) *$/i.exec(header ?? '');
  return match?.[1];
}

const defaultHost = '127.0.0.1';

/**
 * Starts the embedded SMS gateway: the HTTP SMS-gateway API (`api.ts`) on
 * loopback only (over HTTPS with `tls`), storing each accepted message durably in its recipient's inbox
 * under `dataDir` (see `inbox/write.ts`); `openSmsInbox(dataDir)` reads them
 * from any process. It delivers nothing further: the inbox is the handset.
 *
 * Answers: 202 `{id}` once stored; 401 for a wrong or missing token (before the
 * body is read); 413 for a body over `requestBodyBytesMax`; 400 REQUEST_INVALID
 * for a body that is not `{from, to, text}` or a value the sender's rules refuse;
 * 429 REQUEST_RATE_LIMITED with Retry-After `storageFullRetryAfterSeconds` for a
 * full inbox or one inbox too many (retryable: an inbox may be emptied, and
 * 429 is what SMS providers answer a sender that must slow down; 507 is WebDAV's
 * and no sender retries on it); 503 when a write fails.
 */
export async function startSmsGateway(options: SmsGatewayOptions): Promise<SmsGateway> {
  const limits = createSmsLimits(options.limits);
  const requestedHost = options.host ?? defaultHost;
  if (requestedHost !== 'localhost' && !isLoopbackAddress(requestedHost)) {
    throw new Error(`sms gateway: host must be a loopback address or localhost, not ${requestedHost}`);
  }
  const requestedPort = options.port ?? 0;
  if (!Number.isSafeInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new Error('sms gateway: port must be an integer in 0..65535');
  }
  if (!isSmsToken(options.token)) {
    throw new Error(
      `sms gateway: token must be a bearer token (b64token) of ${smsTokenLengthMin}..${smsTokenLengthMax} characters`,
    );
  }
  const tokenDigest = sha256(options.token);
  const dataDir = resolve(options.dataDir);
  const clock = options.clock ?? (() => new Date());
  const onError = options.onError ?? (() => undefined);
  await prepareDataDir(dataDir);

  // Writes run one at a time, so the capacity checks made just before a write are exact.
  let writes: Promise<unknown> = Promise.resolve();
  function serially<T>(task: () => Promise<T>): Promise<T> {
    const run = writes.then(task);
    writes = run.catch(() => undefined);
    return run;
  }

  /** Why `msisdn` cannot take one more message now, or undefined when it can. */
  async function capacityRefusal(msisdn: string): Promise<string | undefined> {
    const count = await countSms(dataDir, msisdn);
    if (count >= limits.messagesPerInboxMax) return `inbox full (at most ${limits.messagesPerInboxMax})`;
    if (count === 0) {
      const folders = await inboxFolders(dataDir);
      if (!folders.includes(inboxFolderOf(msisdn)) && folders.length >= limits.inboxesMax)
        return `storage full (at most ${limits.inboxesMax} inboxes)`;
    }
    return undefined;
  }

  async function store(body: MessageBody): Promise<StoredSms> {
    const stored = await serially(async () => {
      const full = await capacityRefusal(body.to);
      if (full !== undefined) return full;
      const receivedAt = clock();
      const sms: StoredSms = Object.freeze({
        id: newSmsId(receivedAt),
        from: body.from,
        to: body.to,
        text: body.text,
        receivedAt: receivedAt.toISOString(),
      });
      await writeSms(dataDir, sms);
      return sms;
    }).catch((error: unknown) => {
      onError(error instanceof Error ? error : new Error(String(error)));
      throw new MpayError('SERVICE_UNAVAILABLE', 'the message was not stored');
    });
    if (typeof stored === 'string') {
      throw new MpayError('REQUEST_RATE_LIMITED', stored, {
        retryAfterSeconds: limits.storageFullRetryAfterSeconds,
      });
    }
    return stored;
  }

  const tls = options.tls;
  if (tls !== undefined && (typeof tls.key !== 'string' || typeof tls.cert !== 'string')) {
    throw new Error('sms gateway: tls needs a key and a certificate, PEM');
  }
  const app = createHttpServer({
    name: 'sms-gateway',
    ...serverOnlyTls(tls),
    logger: false,
    bodyLimitBytes: limits.requestBodyBytesMax,
    requestTimeoutMs: limits.requestTimeoutMs,
    inFlightRequestsMax: limits.requestsInFlightMax,
  });

  // Listening on loopback already keeps others out; a request from elsewhere is refused all the same.
  app.addHook('onRequest', async (request, reply) => {
    if (!isLoopbackAddress(request.socket.remoteAddress)) {
      return sendError(reply, new MpayError('FORBIDDEN', 'loopback only'));
    }
  });

  app.post(
    messagesPath,
    {
      schema: { body: messageBodySchema },
      // Before the body is read: no one without the token makes this gateway parse anything.
      onRequest: async (request, reply) => {
        const token = bearerTokenOf(request.headers.authorization);
        if (token === undefined || !timingSafeEqual(sha256(token), tokenDigest)) {
          reply.header('www-authenticate', 'Bearer realm="sms"');
          return sendError(reply, new MpayError('AUTHENTICATION_FAILED'));
        }
      },
    },
    async (request, reply) => {
      const body = request.body as MessageBody;
      if (!isSmsSenderId(body.from)) throw new MpayError('REQUEST_INVALID', 'from');
      const invalid = invalidSmsFieldOf(body, limits.textCharactersMax);
      if (invalid !== undefined) throw new MpayError('REQUEST_INVALID', invalid);
      const sms = await store(body);
      return reply.code(202).send({ id: sms.id });
    },
  );

  await app.listen({ host: requestedHost, port: requestedPort });
  const address = app.server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    url: `${tls === undefined ? 'http' : 'https'}://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    inbox: openSmsInbox(dataDir),
    close(): Promise<void> {
      closing ??= app.close().then(() => writes.then(() => undefined));
      return closing;
    },
  });
}
