import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { GENERATED_PIN_BYTES, isTokenLabel } from '../limits.ts';

/**
 * The process a token was made for, when it was made for one run only (an
 * in-memory platform's): `sweepSoftHsmTokens` deletes the token once that
 * process is gone, whatever ended it. Opaque here; the caller tells whether
 * it still runs.
 */
export interface TokenOwner {
  readonly pid: number;
  /** The process's start time, so that a reused pid is not taken for it (absent where unknown). */
  readonly startTicks?: string;
  /** The machine (and boot) it ran on: a pid means nothing on another. */
  readonly host: string;
}

/** The PINs of one embedded token: random, made on first use, never chosen by a person. */
export interface TokenPins {
  readonly userPin: string;
  readonly soPin: string;
  /** Set for a token made for one process's run only. */
  readonly owner?: TokenOwner;
}

/** pins.json: the PINs of every token of the directory, by token label. */
export interface PinFile {
  readonly tokens: Readonly<Record<string, TokenPins>>;
}

const PIN_FILE_NAME = 'pins.json';
const PIN_FILE_MODE = 0o600;
const pinPattern = /^[A-Za-z0-9_-]{4,255}$/;

export function generatePins(): TokenPins {
  return Object.freeze({
    userPin: randomBytes(GENERATED_PIN_BYTES).toString('base64url'),
    soPin: randomBytes(GENERATED_PIN_BYTES).toString('base64url'),
  });
}

/** The directory's pins.json, or no tokens when there is none yet. A damaged file is refused, not replaced. */
export function readPinFile(directory: string): PinFile {
  const path = join(directory, PIN_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { tokens: {} };
    throw new MpayError('HSM_UNAVAILABLE', `${path}: unreadable`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new MpayError('HSM_UNAVAILABLE', `${path}: not JSON`, { cause });
  }
  if (!isPinFile(parsed)) throw new MpayError('HSM_UNAVAILABLE', `${path}: not a pin file`);
  return parsed;
}

/** Replaces pins.json whole (write, then rename): a crash leaves the old file or the new one, never half. */
export function writePinFile(directory: string, file: PinFile): void {
  const path = join(directory, PIN_FILE_NAME);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: PIN_FILE_MODE });
  renameSync(temporary, path);
}

function isPinFile(value: unknown): value is PinFile {
  if (typeof value !== 'object' || value === null) return false;
  const tokens = (value as { tokens?: unknown }).tokens;
  if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) return false;
  return Object.entries(tokens).every(
    ([label, pins]) =>
      isTokenLabel(label) &&
      typeof pins === 'object' &&
      pins !== null &&
      isPin((pins as { userPin?: unknown }).userPin) &&
      isPin((pins as { soPin?: unknown }).soPin) &&
      isOwnerOrAbsent((pins as { owner?: unknown }).owner),
  );
}

/** Longest `TokenOwner.host` kept (a host name of 253 characters, a boot id). */
const ownerHostLengthMax = 320;

function isOwnerOrAbsent(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { pid, startTicks, host } = value as { pid?: unknown; startTicks?: unknown; host?: unknown };
  return (
    typeof pid === 'number' &&
    Number.isSafeInteger(pid) &&
    pid > 0 &&
    (startTicks === undefined || (typeof startTicks === 'string' && /^[0-9]{1,20}$/.test(startTicks))) &&
    typeof host === 'string' &&
    host.length > 0 &&
    host.length <= ownerHostLengthMax
  );
}

function isPin(value: unknown): boolean {
  return typeof value === 'string' && pinPattern.test(value);
}
