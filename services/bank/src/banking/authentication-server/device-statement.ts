import { createHash } from 'node:crypto';
import { decodeBase64url, encodeBase64url, type MessageClaims, verifyPayload } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { BindingRejected, type BoundKey, boundKeyOfKid } from '../../macro/device.ts';
import type { BankingContext } from '../context.ts';

/**
 * A device's signed statement to the authentication server (its banking
 * registration, a password step, a login's first or second step): a compact JWS by a
 * key of an active binding of this bank, found by the signature's kid, whose
 * payload is exactly one content member plus the six claims of signPayload.
 */

/** The claims signPayload adds next to the content. */
const claimNames: readonly string[] = ['iss', 'aud', 'txn', 'iat', 'exp', 'nonce'];

/** Longest device statement, in characters (banking_devices.registration and banking_sessions.device_statement). */
export const deviceStatementLengthMax = 16_384;

/** Why a statement was not accepted: for the log only; the caller answers its own generic code. */
export class StatementRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'StatementRejected';
  }
}

export interface VerifiedDeviceStatement {
  readonly bound: BoundKey;
  /** The content member, as signed (the caller parses it strictly). */
  readonly content: unknown;
  readonly claims: MessageClaims;
}

/** The content member of a verified payload that must be exactly it plus the claims, else undefined. */
export function exactContent(payload: Readonly<Record<string, unknown>>, member: string): unknown {
  const names = Object.keys(payload);
  const expected = [member, ...claimNames];
  if (names.length !== expected.length || !expected.every((name) => Object.hasOwn(payload, name))) {
    return undefined;
  }
  return payload[member];
}

export interface StatementExpectations {
  /** The content member: 'bankingDevice', 'bankingPassword', 'bankingLoginStart', 'bankingLogin'. */
  readonly member: string;
  /**
   * The txn the statement must name; 'serial' for the signing key's binding
   * serial; 'caller' when the caller checks it (a login start's fresh txn).
   */
  readonly transactionId: string | 'serial' | 'caller';
  /** The issuer; the binding's subject in any case. */
  readonly issuer?: string;
}

/**
 * Verifies `jws` (signature under the bound key its kid names, lifetime and
 * age within the bank's customer-authorisation limits on the bank's clock,
 * aud this bank, iss the binding's subject, txn as expected, members exactly
 * the content plus the claims). `lock` holds the binding's row to the end of
 * the transaction. StatementRejected (with the reason) otherwise.
 */
export async function verifyDeviceStatement(
  sql: Sql,
  context: BankingContext,
  jws: string,
  expected: StatementExpectations,
  now: Date,
  lock: boolean,
): Promise<VerifiedDeviceStatement> {
  let bound: BoundKey | undefined;
  try {
    if (jws.length > deviceStatementLengthMax) throw new StatementRejected('statement too long');
    const verified = await verifyPayload(
      jws,
      async (kid) => {
        bound = await boundKeyOfKid(sql, context.bank, kid, now, lock);
        return bound.binding.signingJwk;
      },
      {
        audience: context.bank.id,
        ...(expected.issuer === undefined ? {} : { issuer: expected.issuer }),
        ...(expected.transactionId === 'serial' || expected.transactionId === 'caller'
          ? {}
          : { transactionId: expected.transactionId }),
      },
      {
        maxAgeSeconds: context.limits.customerAuthorisationLifetimeSecondsMax,
        clockSkewSeconds: context.limits.customerAuthorisationClockSkewSeconds,
        now: () => now.getTime(),
        compactLengthMax: deviceStatementLengthMax,
      },
    );
    if (bound === undefined) throw new Error('assertion failed: a verified statement has its binding');
    if (verified.claims.iss !== bound.binding.subject) throw new StatementRejected('iss is not the subject');
    if (expected.transactionId === 'serial' && verified.claims.txn !== bound.serial) {
      throw new StatementRejected('txn is not the binding serial');
    }
    const content = exactContent(verified.payload, expected.member);
    if (content === undefined)
      throw new StatementRejected(`members other than ${expected.member} and the claims`);
    return { bound, content, claims: verified.claims };
  } catch (error) {
    if (error instanceof StatementRejected) throw error;
    if (error instanceof BindingRejected) throw new StatementRejected(error.message);
    if (!isMpayError(error)) throw error;
    const under = bound === undefined ? '' : ` under binding ${bound.serial}`;
    throw new StatementRejected(`signature${under}: ${error.code}${error.detail ? ` ${error.detail}` : ''}`);
  }
}

/**
 * The content member of a statement this bank verified before it stored it
 * (a device registration, a login's second step): read back from our own
 * database, not from the network, so its signature is not checked again
 * (it may have expired since).
 */
export function storedContent(jws: string, member: string): unknown {
  const payload = decodeBase64url(jws.split('.')[1] ?? '');
  if (payload === undefined) throw new Error('assertion failed: a stored statement is a JWS');
  const parsed = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  if (!Object.hasOwn(parsed, member)) throw new Error(`assertion failed: a stored statement has ${member}`);
  return parsed[member];
}

/** base64url(SHA-256(utf8 of text)): how a password step's signature covers the OPAQUE message it carries. */
export function messageHash(text: string): string {
  return encodeBase64url(new Uint8Array(createHash('sha256').update(text, 'utf8').digest()));
}
