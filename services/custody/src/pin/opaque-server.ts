import type { Hsm } from '@mpay/hsm';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import * as opaque from '@serenity-kit/opaque';

/** The HSM's AES key that seals custody's own secrets (never leaves the token). */
export const sealingKeyLabel = 'mpay-custody-sealing';
const serverSetupName = 'opaque-server-setup';
const textEncoder = new TextEncoder();

/**
 * The server side of OPAQUE (RFC 9807, `@serenity-kit/opaque`): custody never
 * sees a PIN, and what it stores (registration records) cannot test a guess
 * without the server's OPRF secret, the "server setup". That secret is sealed
 * by an AES key inside the HSM (AES-GCM in the token) and kept sealed in the
 * database, so a copy of the database alone tests nothing; custody counts every
 * online try.
 */
export class PinServer {
  readonly #serverSetup: string;

  private constructor(serverSetup: string) {
    this.#serverSetup = serverSetup;
  }

  /** Unseals the server setup with the HSM, creating and sealing it on the first start. */
  static async load(database: Database, hsm: Hsm, now: Date): Promise<PinServer> {
    await opaque.ready;
    await hsm.ensureSecretKey(sealingKeyLabel);
    const aad = textEncoder.encode(`mpay-custody/${serverSetupName}`);
    const { rows } = await database.query<{ sealed: string }>(
      'SELECT sealed FROM sealed_secrets WHERE name = $1',
      [serverSetupName],
    );
    if (rows[0] !== undefined) {
      const plain = await hsm.unseal(sealingKeyLabel, Buffer.from(rows[0].sealed, 'base64url'), aad);
      return new PinServer(new TextDecoder().decode(plain));
    }
    // A lost secret must not be replaced silently: every stored PIN would then fail as a wrong try.
    const stored = await database.query('SELECT 1 FROM pin_credentials LIMIT 1');
    if (stored.rows.length > 0) {
      throw new MpayError('HSM_UNAVAILABLE', 'the sealed OPAQUE server secret is missing while PINs exist');
    }
    const setup = opaque.server.createSetup();
    const sealed = await hsm.seal(sealingKeyLabel, textEncoder.encode(setup), aad);
    await database.query(
      'INSERT INTO sealed_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [serverSetupName, Buffer.from(sealed).toString('base64url'), now.toISOString()],
    );
    // Another process may have won the insert: use whatever is stored.
    return PinServer.load(database, hsm, now);
  }

  /** The server's public key, which clients may pin. */
  get publicKey(): string {
    return opaque.server.getPublicKey(this.#serverSetup);
  }

  registrationResponse(credentialId: string, registrationRequest: string): string {
    try {
      return opaque.server.createRegistrationResponse({
        serverSetup: this.#serverSetup,
        userIdentifier: credentialId,
        registrationRequest,
      }).registrationResponse;
    } catch {
      throw new MpayError('REQUEST_INVALID', 'registrationRequest');
    }
  }

  /**
   * The login's first answer. An unknown credential gets an answer made with
   * no record (the OPAQUE way to say nothing about which credentials exist);
   * its finish always fails.
   */
  startLogin(
    credentialId: string,
    registrationRecord: string | undefined,
    startLoginRequest: string,
  ): { loginResponse: string; serverLoginState: string } {
    try {
      return opaque.server.startLogin({
        serverSetup: this.#serverSetup,
        userIdentifier: credentialId,
        registrationRecord: registrationRecord ?? null,
        startLoginRequest,
      });
    } catch {
      throw new MpayError('REQUEST_INVALID', 'startLoginRequest');
    }
  }

  /** The session key when the client proved it knew the PIN, else undefined. */
  finishLogin(serverLoginState: string, finishLoginRequest: string): string | undefined {
    try {
      return opaque.server.finishLogin({ serverLoginState, finishLoginRequest }).sessionKey;
    } catch {
      return undefined;
    }
  }
}

/** A registration record as the client sent it: checked for shape before it is stored. */
export const opaqueMessagePattern = /^[A-Za-z0-9_-]{16,2048}$/;
