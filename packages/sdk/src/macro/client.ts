import { decryptDirect, encryptTo, type PrivateJwk, type SigningKey, signPayload } from '@mpay/envelope';
import { requestJson } from '@mpay/http-client';
import {
  isMacroClientId,
  isMacroDeviceSecret,
  isMpayError,
  type MacroRegistrationContent,
  MpayError,
  macroMpinPattern,
  parseMacroChannelConfirmation,
  parseMacroRegistration,
  parseSecretAnswer,
} from '@mpay/protocol';
import { type FspTrust, fspEncryptionKey } from '../fsp.ts';
import { deriveMacroChannelKey } from './channel-key.ts';

/**
 * The mobile client (MC) of seed 002's macro payments, its registration
 * (§3) and its mPIN channel to the MPASP (E_SP, hardened as issue 10 §3 asks).
 * The mPIN never leaves the device: it enters an OPAQUE login that the MPASP
 * counts; the channel key comes from that login and the device secret.
 */
export interface MacroClientOptions {
  readonly gatewayUrl: string;
  /** The FSP (the MPASP) as the client trusts it: its id and keys (pinned in a real app). */
  readonly fsp: FspTrust;
  /** The device secret of the registration (`createMacroDeviceSecret`), kept on the device with its keys. */
  readonly deviceSecret: string;
  readonly timeoutMs?: number;
}

export interface MacroRegistrationInput {
  /** The key binding the customer's bank issued to this device (compact JWS). */
  readonly binding: string;
  /** The device's bound signing key: it signs the registration. */
  readonly signingKey: PrivateJwk | SigningKey;
  /** The bank customer registering (the binding's subject). */
  readonly partyId: string;
  readonly msisdn: string;
  readonly email: string;
  readonly name: string;
  /** SQn: asked at step 2 of every payment. */
  readonly secretQuestion: string;
  /** SAns: sent only inside the JWE to the MPASP, which keeps a slow verifier of it. */
  readonly secretAnswer: string;
  /** Default: a fresh random key. Keep the prepared request to retry it under the same key. */
  readonly idempotencyKey?: string;
  /** The device's clock, milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** A registration ready to send: the exact bytes and key to send again on a retry. */
export interface PreparedMacroRegistration {
  readonly registration: MacroRegistrationContent;
  readonly body: string;
  readonly idempotencyKey: string;
}

export interface MacroRegistered {
  /** ID_C; the MPASP also mails it, with the mPIN. */
  readonly clientId: string;
  /** The address the mail went to, masked. */
  readonly mailedTo: string;
}

/** An open E_SP channel: `channelKey` seals and opens its messages (`encryptDirect` / `decryptDirect`, kid the session id). */
export interface MacroChannel {
  readonly clientId: string;
  readonly sessionId: string;
  readonly channelKey: Uint8Array;
  readonly expiresAt: string;
}

const registrationLifetimeSeconds = 300;
const answerBytesMax = 64 * 1024;
const timeoutMsDefault = 30_000;
const opaqueValuePattern = /^[A-Za-z0-9_-]{16,4096}$/;
const loginIdPattern = /^[0-9a-f-]{36}$/;

type Opaque = typeof import('@serenity-kit/opaque');
let opaqueModule: Promise<Opaque> | undefined;

/** The OPAQUE WebAssembly module, loaded on first use only. */
function loadOpaque(): Promise<Opaque> {
  opaqueModule ??= import('@serenity-kit/opaque').then(async (module) => {
    await module.ready;
    return module;
  });
  return opaqueModule;
}

function malformed(name: string): MpayError {
  return new MpayError('SERVICE_UNAVAILABLE', `MPASP answer: ${name}`);
}

function answerString(body: unknown, name: string, pattern: RegExp): string {
  const value = (body as Record<string, unknown> | null)?.[name];
  if (typeof value !== 'string' || !pattern.test(value)) throw malformed(name);
  return value;
}

export class MacroClient {
  readonly #options: MacroClientOptions;

  constructor(options: MacroClientOptions) {
    if (!isMacroDeviceSecret(options.deviceSecret)) throw new MpayError('CRYPTO_KEY_INVALID', 'deviceSecret');
    this.#options = Object.freeze({ ...options });
  }

  async #post(
    path: string,
    body: string,
    headers: Record<string, string> = {},
    contentType = 'application/json',
  ) {
    const { body: answer } = await requestJson<unknown>(`${this.#options.gatewayUrl}${path}`, {
      body,
      contentType,
      headers,
      timeoutMs: this.#options.timeoutMs ?? timeoutMsDefault,
      responseBytesMax: answerBytesMax,
    });
    return answer;
  }

  /**
   * Builds the registration (§3): the content signed with the bound key
   * (issuer the party, audience the MPASP), and the JWE to the MPASP that
   * carries it with the binding and the secret answer. Checks locally what
   * the MPASP would refuse (MESSAGE_INVALID with the member's path).
   */
  async prepareRegistration(input: MacroRegistrationInput): Promise<PreparedMacroRegistration> {
    const nowMs = (input.now ?? Date.now)();
    const registration = parseMacroRegistration({
      kind: 'macro_registration',
      partyId: input.partyId,
      msisdn: input.msisdn,
      email: input.email,
      name: input.name.trim(),
      secretQuestion: input.secretQuestion.trim(),
      deviceSecret: this.#options.deviceSecret,
      issuedAt: new Date(nowMs).toISOString(),
    });
    parseSecretAnswer(input.secretAnswer);
    const signature = await signPayload(
      registration,
      {
        issuer: registration.partyId,
        audience: this.#options.fsp.id,
        transactionId: registration.partyId,
        expiresInSeconds: registrationLifetimeSeconds,
        now: () => nowMs,
      },
      input.signingKey,
    );
    const body = await encryptTo(
      JSON.stringify({ binding: input.binding, registration, signature, secretAnswer: input.secretAnswer }),
      fspEncryptionKey(this.#options.fsp),
    );
    return {
      registration,
      body,
      idempotencyKey: input.idempotencyKey ?? `macro-registration-${crypto.randomUUID()}`,
    };
  }

  /** Sends a prepared registration (again, on a retry: the MPASP answers the first answer). */
  async sendRegistration(prepared: PreparedMacroRegistration): Promise<MacroRegistered> {
    const answer = await this.#post(
      '/macro/registrations',
      prepared.body,
      { 'idempotency-key': prepared.idempotencyKey },
      'application/jose',
    );
    const clientId = answerString(answer, 'clientId', /^.{1,100}$/);
    if (!isMacroClientId(clientId)) throw malformed('clientId');
    return { clientId, mailedTo: answerString(answer, 'mailedTo', /^.{1,254}$/) };
  }

  /** Registers with the MPASP: the client id and the mPIN then arrive by mail. */
  async register(input: MacroRegistrationInput): Promise<MacroRegistered> {
    return this.sendRegistration(await this.prepareRegistration(input));
  }

  /**
   * Opens an E_SP channel with the mailed mPIN: an OPAQUE login at the MPASP
   * (which counts the try), then the channel key from its session key and the
   * device secret, checked against the MPASP's sealed confirmation. A wrong
   * mPIN is MACRO_MPIN_REFUSED (the device tells the MPASP, so that the
   * failure that reaches the limit blocks at once), a blocked id
   * MACRO_MPIN_BLOCKED; a confirmation that does not open is
   * CRYPTO_VERIFICATION_FAILED (not the MPASP, or not this device's secret).
   */
  async openChannel(clientId: string, mPin: string): Promise<MacroChannel> {
    if (!isMacroClientId(clientId)) throw new MpayError('REQUEST_INVALID', 'clientId');
    // A malformed mPIN is refused here: no try is spent on it.
    if (!macroMpinPattern.test(mPin)) throw new MpayError('REQUEST_INVALID', 'mPin');
    const opaque = await loadOpaque();
    const start = opaque.client.startLogin({ password: mPin });
    const started = await this.#post(
      '/macro/sessions',
      JSON.stringify({ clientId, startLoginRequest: start.startLoginRequest }),
    );
    const loginId = answerString(started, 'loginId', loginIdPattern);
    const loginResponse = answerString(started, 'loginResponse', opaqueValuePattern);
    const finishPath = `/macro/sessions/${encodeURIComponent(loginId)}/finish`;
    let finished: ReturnType<Opaque['client']['finishLogin']>;
    try {
      finished = opaque.client.finishLogin({
        clientLoginState: start.clientLoginState,
        loginResponse,
        password: mPin,
        identifiers: { client: clientId, server: this.#options.fsp.id },
      });
    } catch {
      finished = undefined;
    }
    if (finished === undefined) {
      // The mPIN was wrong (or the answer not the MPASP's): say so; its refusal (or block) is the answer.
      await this.#post(finishPath, JSON.stringify({ finishLoginRequest: null }));
      throw new MpayError('MACRO_MPIN_REFUSED');
    }
    const opened = await this.#post(
      finishPath,
      JSON.stringify({ finishLoginRequest: finished.finishLoginRequest }),
    );
    const sessionId = answerString(opened, 'sessionId', loginIdPattern);
    const expiresAt = answerString(opened, 'expiresAt', /^.{1,40}$/);
    const channelKey = await deriveMacroChannelKey({
      sessionKey: finished.sessionKey,
      deviceSecret: this.#options.deviceSecret,
      clientId,
      sessionId,
    });
    await this.#checkConfirmation(
      answerString(opened, 'confirmation', /^[A-Za-z0-9_.-]{1,4096}$/),
      channelKey,
      {
        clientId,
        sessionId,
        expiresAt,
      },
    );
    return Object.freeze({ clientId, sessionId, channelKey, expiresAt });
  }

  async #checkConfirmation(
    sealed: string,
    channelKey: Uint8Array,
    expected: { clientId: string; sessionId: string; expiresAt: string },
  ): Promise<void> {
    try {
      const plaintext = await decryptDirect(sealed, channelKey, { kid: expected.sessionId });
      const confirmation = parseMacroChannelConfirmation(JSON.parse(new TextDecoder().decode(plaintext)));
      if (
        confirmation.from === this.#options.fsp.id &&
        confirmation.to === expected.clientId &&
        confirmation.sessionId === expected.sessionId &&
        confirmation.expiresAt === expected.expiresAt
      ) {
        return;
      }
    } catch (error) {
      if (!isMpayError(error) && !(error instanceof SyntaxError)) throw error;
    }
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
}
