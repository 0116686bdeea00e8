import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11 } from 'pkcs11js';
import { hsmError, isReturnValue } from './errors.ts';
import type { LoadedModule } from './module.ts';
import { scanTokenSlots } from './token.ts';

/** Return values of C_Login that mean "this PIN will not do", as opposed to "the token is not there". */
const pinRefusals = new Set([
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_PIN_EXPIRED,
  pkcs11js.CKR_PIN_LOCKED,
  pkcs11js.CKR_USER_PIN_NOT_INITIALIZED,
]);

const SESSION_FLAGS = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

/** Key of the PIN digests below; per process, so a digest means nothing outside it. */
const pinDigestKey = randomBytes(32);

function pinDigest(pin: string): Buffer {
  return createHmac('sha256', pinDigestKey).update(pin, 'utf8').digest();
}

/**
 * One R/W session on one token, logged in as user.
 *
 * pkcs11js calls are synchronous, so every operation runs as one synchronous
 * block in `run` (C_SignInit with its C_Sign, C_FindObjectsInit with its
 * C_FindObjectsFinal): two async callers of one `Hsm` can never interleave
 * inside the session's single active operation.
 */
export class TokenSession {
  /** `token "label"`, the start of every error detail. */
  readonly where: string;
  readonly #module: LoadedModule;
  readonly #slot: Buffer;
  readonly #slotKey: string;
  #handle: Buffer | undefined;

  private constructor(module: LoadedModule, where: string, slot: Buffer, handle: Buffer) {
    this.#module = module;
    this.where = where;
    this.#slot = slot;
    this.#slotKey = slot.toString('hex');
    this.#handle = handle;
  }

  /** Opens the session; `module` is already acquired by the caller. */
  static open(module: LoadedModule, tokenLabel: string, userPin: string): TokenSession {
    const where = `token "${tokenLabel}"`;
    const { pkcs11 } = module;
    const { slot, unreadable } = scanTokenSlots(pkcs11, tokenLabel, where);
    if (slot === undefined) {
      const passedOver = unreadable === 0 ? '' : ` (${unreadable} unreadable token(s) passed over)`;
      throw new MpayError('HSM_UNAVAILABLE', `${where}: no such token in ${module.path}${passedOver}`);
    }
    let handle: Buffer;
    try {
      handle = pkcs11.C_OpenSession(slot, SESSION_FLAGS);
    } catch (cause) {
      throw hsmError('HSM_UNAVAILABLE', where, cause);
    }
    try {
      logIn(module, slot.toString('hex'), handle, userPin, where);
    } catch (error) {
      closeQuietly(pkcs11, handle);
      throw error;
    }
    return new TokenSession(module, where, slot, handle);
  }

  get isOpen(): boolean {
    return this.#handle !== undefined;
  }

  /**
   * Runs `operation` on the session. A PKCS#11 failure becomes HSM_UNAVAILABLE
   * naming the call and its return value; an MpayError passes unchanged.
   * After any PKCS#11 failure the session is replaced: a library may leave an
   * operation active after a failed call (softhsm2 does after C_Encrypt with
   * CKR_ARGUMENTS_BAD), and every later call would then fail with
   * CKR_OPERATION_ACTIVE.
   */
  run<T>(operation: (pkcs11: PKCS11, session: Buffer) => T): T {
    const handle = this.#handle;
    if (handle === undefined) throw new MpayError('HSM_UNAVAILABLE', `${this.where}: closed`);
    try {
      return operation(this.#module.pkcs11, handle);
    } catch (cause) {
      if (isPkcs11Failure(cause)) this.#renew(handle);
      if (cause instanceof MpayError) throw cause;
      throw hsmError('HSM_UNAVAILABLE', this.where, cause);
    }
  }

  /**
   * A fresh session in place of `stale`. The login is the token's, so the new
   * session is logged in already, and stays so when the stale one closes. If
   * no session can be opened, the stale one stays and the next call reports.
   */
  #renew(stale: Buffer): void {
    const { pkcs11 } = this.#module;
    try {
      this.#handle = pkcs11.C_OpenSession(this.#slot, SESSION_FLAGS);
    } catch {
      return;
    }
    closeQuietly(pkcs11, stale);
  }

  /** Logs out when this is the token's last session here, and closes the session. Idempotent. */
  close(): void {
    const handle = this.#handle;
    if (handle === undefined) return;
    this.#handle = undefined;
    const { pkcs11, logins } = this.#module;
    const login = logins.get(this.#slotKey);
    if (login !== undefined) {
      login.holders -= 1;
      if (login.holders === 0) {
        logins.delete(this.#slotKey);
        try {
          pkcs11.C_Logout(handle);
        } catch {
          // Closing the token's last session logs out as well.
        }
      }
    }
    closeQuietly(pkcs11, handle);
  }
}

/**
 * A PKCS#11 login belongs to the token, shared by all of the application's
 * sessions: a second C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever PIN
 * it was given. So the first login here is remembered (as an HMAC of its PIN),
 * and a second opener of the same token must present the same PIN; otherwise
 * anyone in the process could open a token with a wrong PIN while another
 * `Hsm` holds it.
 */
function logIn(module: LoadedModule, slotKey: string, session: Buffer, userPin: string, where: string): void {
  const digest = pinDigest(userPin);
  const existing = module.logins.get(slotKey);
  if (existing !== undefined) {
    if (!timingSafeEqual(existing.pinDigest, digest)) {
      throw new MpayError('HSM_LOCKED', `${where}: the PIN differs from the one this process logged in with`);
    }
    existing.holders += 1;
    return;
  }
  try {
    module.pkcs11.C_Login(session, pkcs11js.CKU_USER, userPin);
  } catch (cause) {
    if (isReturnValue(cause, pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) {
      throw new MpayError(
        'HSM_LOCKED',
        `${where}: logged in outside @mpay/hsm, so the PIN cannot be checked`,
      );
    }
    const refused = cause instanceof pkcs11js.Pkcs11Error && pinRefusals.has(cause.code);
    throw hsmError(refused ? 'HSM_LOCKED' : 'HSM_UNAVAILABLE', where, cause);
  }
  module.logins.set(slotKey, { holders: 1, pinDigest: digest });
}

function isPkcs11Failure(error: unknown): boolean {
  return (
    error instanceof pkcs11js.NativeError ||
    (error instanceof MpayError && error.cause instanceof pkcs11js.NativeError)
  );
}

function closeQuietly(pkcs11: PKCS11, session: Buffer): void {
  try {
    pkcs11.C_CloseSession(session);
  } catch {
    // The session is gone either way.
  }
}
