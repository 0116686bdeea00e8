import { createHash, randomBytes } from 'node:crypto';

/** A fresh random identifier (128 bits, base64url): credentials, logins, delegations. */
export function newOpaqueId(): string {
  return randomBytes(16).toString('base64url');
}

export const opaqueIdPattern = /^[A-Za-z0-9_-]{22}$/;

/** A device's bearer token: 256 random bits; custody keeps only its SHA-256. */
export function newDeviceToken(): string {
  return `mdt_${randomBytes(32).toString('base64url')}`;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
