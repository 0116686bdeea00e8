import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11 } from 'pkcs11js';
import type { HsmOptions } from '../hsm.ts';
import { assertTokenLabel, TOKEN_LABEL_LENGTH_MAX } from '../limits.ts';
import { hsmError } from '../pkcs11/errors.ts';
import { acquireModule, heldModule, releaseModule } from '../pkcs11/module.ts';
import { findFreeSlot, findTokenSlot, initializedTokenCount, isUserPinInitialized } from '../pkcs11/token.ts';
import { ensurePrivateDirectory, withDirectoryLock, writeFileIfChanged } from './directory.ts';
import { locateSoftHsmModule } from './locate.ts';
import { generatePins, readPinFile, type TokenOwner, type TokenPins, writePinFile } from './pins.ts';

export interface SoftHsmTokenOptions {
  /** Holds softhsm2.conf, the token folder and pins.json; created with mode 0700. */
  readonly directory: string;
  readonly tokenLabel: string;
  /**
   * A token made for one process's run only: recorded with its PINs when the
   * token is made, so that `sweepSoftHsmTokens` can delete it once that
   * process is gone. A token found already keeps what it has.
   */
  readonly owner?: TokenOwner;
}

/**
 * The embedded default HSM: a softhsm2 token that the project creates on first
 * use, with random user and SO PINs kept in `directory/pins.json` (mode 0600).
 * Idempotent: a second call finds the token and its PINs.
 *
 * One configuration per process. softhsm2 reads SOFTHSM2_CONF at C_Initialize
 * and the process loads the library once, so every token a process uses lives
 * under one directory: the first call sets SOFTHSM2_CONF for the process, and
 * a call for another directory while the library is initialised here (an
 * `Hsm` is open) is refused with HSM_UNAVAILABLE. Once every `Hsm` is closed
 * the library is finalised, and the next call may move to another directory.
 *
 * Tokens are created through PKCS#11 itself (C_InitToken on softhsm2's free
 * slot, then C_InitPIN in an SO session), not with `softhsm2-util`: softhsm2
 * scans its token folder only at C_Initialize, so a token made by another
 * process stays invisible to a process that has the library initialised,
 * while one made through the process's own library is there at once. For the
 * same reason a token that another process created after this process
 * initialised the library cannot be opened until every `Hsm` here is closed;
 * that is refused with a detail saying so, rather than creating a second token
 * with the same label.
 */
export async function ensureSoftHsmToken(
  options: SoftHsmTokenOptions,
): Promise<HsmOptions & { configPath: string }> {
  const { tokenLabel } = options;
  assertTokenLabel(tokenLabel);
  const modulePath = locateSoftHsmModule();
  if (modulePath === undefined) {
    throw new MpayError('HSM_UNAVAILABLE', 'softhsm2 is not installed (Debian packages softhsm2 and opensc)');
  }
  const directory = resolve(options.directory);
  const configPath = prepareDirectory(directory);
  // Binding and token work run in one synchronous block under the lock, so no other call of this
  // process can finalise the library or move SOFTHSM2_CONF in between.
  const pins = await withDirectoryLock(directory, () => {
    bindConfiguration(modulePath, configPath);
    return ensureToken(modulePath, directory, tokenLabel, options.owner);
  });
  return Object.freeze({ modulePath, tokenLabel, userPin: pins.userPin, configPath });
}

/** The directory, its token folder and its softhsm2.conf; returns the configuration's path. */
function prepareDirectory(directory: string): string {
  const tokenDirectory = join(directory, 'tokens');
  ensurePrivateDirectory(directory);
  ensurePrivateDirectory(tokenDirectory);
  const configPath = join(directory, 'softhsm2.conf');
  writeFileIfChanged(
    configPath,
    [
      '# Written by @mpay/hsm: the embedded softhsm2 tokens of this directory.',
      `directories.tokendir = ${tokenDirectory}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      'slots.removable = false',
      'slots.mechanisms = ALL',
      'library.reset_on_fork = false',
      '',
    ].join('\n'),
  );
  return configPath;
}

/** Points this process's softhsm2 at `configPath`, unless the library already runs with another configuration. */
function bindConfiguration(modulePath: string, configPath: string): void {
  const held = heldModule(modulePath);
  if (held !== undefined && held.softHsmConfigAtInitialization !== configPath) {
    throw new MpayError(
      'HSM_UNAVAILABLE',
      `softhsm2 is initialised in this process with ${held.softHsmConfigAtInitialization ?? 'a configuration it did not set'}` +
        ` and reads SOFTHSM2_CONF only at C_Initialize; close every Hsm before using ${configPath}`,
    );
  }
  process.env.SOFTHSM2_CONF = configPath;
}

/**
 * Under the directory lock: the token's PINs, creating the token (or finishing
 * one whose creation was interrupted) when needed. The PINs are written before
 * the token is made, so an interruption leaves PINs for a token still to be
 * made, never a token nobody can log in to.
 */
function ensureToken(
  modulePath: string,
  directory: string,
  tokenLabel: string,
  owner: TokenOwner | undefined,
): TokenPins {
  const where = `token "${tokenLabel}"`;
  const file = readPinFile(directory);
  const { module, initializedNow } = acquireModule(modulePath);
  try {
    const { pkcs11 } = module;
    // Slots whose token another process deleted after this one initialised the library are passed over.
    let slot = findTokenSlot(pkcs11, tokenLabel, where);
    // Own members only: a label such as 'constructor' must not find Object.prototype's.
    const known = Object.hasOwn(file.tokens, tokenLabel) ? file.tokens[tokenLabel] : undefined;
    if (slot !== undefined && known === undefined) {
      throw new MpayError('HSM_LOCKED', `${where}: exists in ${directory} but its PINs are not in pins.json`);
    }
    if (slot === undefined && known !== undefined && !initializedNow) {
      throw new MpayError(
        'HSM_UNAVAILABLE',
        `${where}: listed in ${directory}/pins.json but not visible here; softhsm2 scans its tokens only at` +
          ' C_Initialize, so a token made by another process after that needs every Hsm of this process closed first',
      );
    }
    if (slot === undefined && known !== undefined) refuseOverUnreadableTokens(pkcs11, directory, where);
    const pins = known ?? { ...generatePins(), ...(owner === undefined ? {} : { owner }) };
    if (known === undefined) writePinFile(directory, { tokens: { ...file.tokens, [tokenLabel]: pins } });
    try {
      slot ??= initializeToken(pkcs11, tokenLabel, pins, where);
      if (!isUserPinInitialized(pkcs11, slot)) initializeUserPin(pkcs11, slot, pins);
    } catch (cause) {
      if (cause instanceof MpayError) throw cause;
      throw hsmError('HSM_UNAVAILABLE', where, cause);
    }
    return pins;
  } finally {
    releaseModule(module);
  }
}

/**
 * A token whose PINs are listed but which softhsm2 does not show is made
 * again (its creation was interrupted after the PINs were written), unless
 * the folder holds a token softhsm2 cannot read: softhsm2 leaves a damaged
 * token out of its slots at C_Initialize without a word, and a new token
 * under its label would take the place of the keys and sealed secrets of the
 * damaged one (custody's, in a platform's data folder). Counted on this
 * call's own C_Initialize only, under the directory's lock: then every token
 * folder is one the library read, or failed to.
 */
function refuseOverUnreadableTokens(pkcs11: PKCS11, directory: string, where: string): void {
  const tokenDirectory = join(directory, 'tokens');
  const folders = readdirSync(tokenDirectory, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  const unreadable = folders.length - initializedTokenCount(pkcs11);
  if (unreadable <= 0) return;
  throw new MpayError(
    'HSM_UNAVAILABLE',
    `${where}: listed in ${directory}/pins.json but not found, and ${unreadable} token folder(s) of ${tokenDirectory}` +
      ' are ones softhsm2 cannot read; restore them from a backup, or remove them to make the token anew',
  );
}

/**
 * C_InitToken on softhsm2's free slot; softhsm2 then offers a new free slot.
 * pkcs11js hands the label over as a C string of its own length while
 * C_InitToken reads 32 bytes, so the label is padded to 32 with blanks (the
 * standard padding) rather than letting the library read past it.
 */
function initializeToken(pkcs11: PKCS11, tokenLabel: string, pins: TokenPins, where: string): Buffer {
  const free = findFreeSlot(pkcs11);
  if (free === undefined) throw new MpayError('HSM_UNAVAILABLE', `${where}: softhsm2 offers no free slot`);
  pkcs11.C_InitToken(free, pins.soPin, tokenLabel.padEnd(TOKEN_LABEL_LENGTH_MAX, ' '));
  const slot = findTokenSlot(pkcs11, tokenLabel, where);
  if (slot === undefined) throw new MpayError('HSM_UNAVAILABLE', `${where}: not found after C_InitToken`);
  return slot;
}

/** C_InitPIN in a security officer session: the user PIN of a new token. */
function initializeUserPin(pkcs11: PKCS11, slot: Buffer, pins: TokenPins): void {
  const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    pkcs11.C_Login(session, pkcs11js.CKU_SO, pins.soPin);
    pkcs11.C_InitPIN(session, pins.userPin);
    pkcs11.C_Logout(session);
  } finally {
    pkcs11.C_CloseSession(session);
  }
}
