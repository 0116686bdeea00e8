import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMsisdn, MpayError } from '@mpay/protocol';
import {
  type BankingKeyState,
  type BankingKeyStore,
  type BankingSessionState,
  exportBankingKeyState,
  importBankingKeyState,
} from '@mpay/sdk';

/**
 * The device the CLI plays, on disk:
 * - `<data>/banking/devices/<user>.json`: the device's banking keys
 *   (private keys INCLUDED: the KMM's state, `exportBankingKeyState`) and its
 *   phone number; mode 0600 in a 0700 folder.
 * - `<data>/banking/sessions/<user>.json`: the open session and its key
 *   (`exportSession`), as secret as the keys; mode 0600. Removed when the
 *   bank ends the session (BANKING_SESSION_INVALID), a device revokes
 *   itself or a key is renewed.
 * Every write goes to a new file that replaces the old one (rename), so a
 * crash never leaves half a key file, and the mode is the new file's.
 */

export const deviceFileVersion = 1;
/** A device or session file larger than this is not one the CLI wrote. */
const fileBytesMax = 256 * 1024;

export function devicePathOf(dataDir: string, userId: string): string {
  return join(dataDir, 'banking', 'devices', `${userId}.json`);
}

export function sessionPathOf(dataDir: string, userId: string): string {
  return join(dataDir, 'banking', 'sessions', `${userId}.json`);
}

/** Writes `text` to `path` (mode 0600, its folder 0700) through a new file renamed over the old one. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const temporary = join(folder, `.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function readSecretFile(path: string): Promise<string | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    if (Buffer.byteLength(text) > fileBytesMax)
      throw new MpayError('REQUEST_INVALID', `${path} is too large`);
    return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** What the device file holds besides the KMM's state: the SIM's number, the "phone number" factor. */
export interface DeviceFile {
  readonly version: typeof deviceFileVersion;
  readonly userId: string;
  readonly msisdn: string;
  /** The KMM's state (`exportBankingKeyState`); absent only before the enrolment answered. */
  readonly keys?: BankingKeyState | undefined;
}

function parseDeviceFile(text: string, path: string, userId: string): DeviceFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MpayError('REQUEST_INVALID', `${path} is not JSON`);
  }
  const record = value as Record<string, unknown> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.version !== deviceFileVersion ||
    record.userId !== userId ||
    !isMsisdn(record.msisdn)
  ) {
    throw new MpayError('REQUEST_INVALID', `${path} is not a banking device file of ${userId}`);
  }
  const keys = record.keys === undefined ? undefined : importBankingKeyState(JSON.stringify(record.keys));
  return Object.freeze({ version: deviceFileVersion, userId, msisdn: record.msisdn, keys });
}

function deviceFileText(file: DeviceFile): string {
  const keys =
    file.keys === undefined ? undefined : (JSON.parse(exportBankingKeyState(file.keys)) as unknown);
  return `${JSON.stringify({ version: file.version, userId: file.userId, msisdn: file.msisdn, keys }, null, 2)}\n`;
}

/** The device file of `userId`, or undefined when this data folder has none. */
export async function readDeviceFile(dataDir: string, userId: string): Promise<DeviceFile | undefined> {
  const path = devicePathOf(dataDir, userId);
  const text = await readSecretFile(path);
  return text === undefined ? undefined : parseDeviceFile(text, path, userId);
}

/** The device file of `userId` with its keys: KEY_UNKNOWN (enrol first) when there is none. */
export async function requireDevice(
  dataDir: string,
  userId: string,
): Promise<DeviceFile & { keys: BankingKeyState }> {
  const file = await readDeviceFile(dataDir, userId);
  if (file?.keys === undefined)
    throw new MpayError(
      'KEY_UNKNOWN',
      `no banking device of ${userId} in ${devicePathOf(dataDir, userId)}: enrol it first (npx mpay banking enrol)`,
    );
  return file as DeviceFile & { keys: BankingKeyState };
}

/**
 * The KMM's store, kept in the device file (mode 0600): every save rewrites
 * the file whole, so the new pair of a renewal is on disk before the renewal
 * request goes out (the KMM saves first).
 */
export class DeviceFileKeyStore implements BankingKeyStore {
  readonly #path: string;
  readonly #userId: string;
  readonly #msisdn: string;

  constructor(dataDir: string, userId: string, msisdn: string) {
    this.#path = devicePathOf(dataDir, userId);
    this.#userId = userId;
    this.#msisdn = msisdn;
  }

  async load(): Promise<BankingKeyState | undefined> {
    const text = await readSecretFile(this.#path);
    return text === undefined ? undefined : parseDeviceFile(text, this.#path, this.#userId).keys;
  }

  async save(state: BankingKeyState): Promise<void> {
    await writeSecretFile(
      this.#path,
      deviceFileText({ version: deviceFileVersion, userId: this.#userId, msisdn: this.#msisdn, keys: state }),
    );
  }
}

/** The saved session of `userId`, or undefined (never logged in, or ended). */
export async function readSessionFile(
  dataDir: string,
  userId: string,
): Promise<BankingSessionState | undefined> {
  const path = sessionPathOf(dataDir, userId);
  const text = await readSecretFile(path);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as BankingSessionState;
    if (typeof value !== 'object' || value === null || typeof value.sessionKey !== 'string')
      throw new Error('not a session');
    return value;
  } catch {
    // A damaged session file is as good as none: the customer logs in again.
    await rm(path, { force: true });
    return undefined;
  }
}

export async function writeSessionFile(
  dataDir: string,
  userId: string,
  session: BankingSessionState,
): Promise<void> {
  await writeSecretFile(sessionPathOf(dataDir, userId), `${JSON.stringify(session, null, 2)}\n`);
}

export async function removeSessionFile(dataDir: string, userId: string): Promise<void> {
  await rm(sessionPathOf(dataDir, userId), { force: true });
}
