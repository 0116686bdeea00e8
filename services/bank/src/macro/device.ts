import { type KeyBinding, verifyKeyBinding } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { BankIdentity } from '../bank-identity.ts';
import { useRequestNonce } from '../http/request-nonces.ts';
import { selectKeyBinding, selectKeyBindingByKid } from '../key-depository/store.ts';

/** A key binding of this bank, verified as issued and active. */
export interface BoundKey {
  readonly serial: string;
  readonly binding: KeyBinding;
}

/** Why a key or binding was not accepted: for the log only, never for the caller. */
export class BindingRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BindingRejected';
  }
}

async function verifiedBinding(
  bank: BankIdentity,
  record: { serial: string; binding: string; revocation: unknown },
  now: Date,
): Promise<BoundKey> {
  try {
    const binding = await verifyKeyBinding(record.binding, (kid) => bank.resolveKey(kid), {
      isRevoked: () => record.revocation !== undefined,
      issuer: bank.id,
      clockSkewSeconds: 0,
      now: () => now.getTime(),
    });
    return { serial: record.serial, binding };
  } catch (error) {
    const code = isMpayError(error) ? error.code : 'error';
    throw new BindingRejected(`binding ${record.serial}: ${code}`);
  }
}

/**
 * The binding of a signing key (by kid, as a signature's header names it),
 * checked as the consent check of payment orders checks it: this bank's own
 * signature over it, active at `now` on the bank's clock (no skew), not
 * revoked. `lock` holds its row to the end of the transaction, so that a
 * revocation cannot commit between the check and the debit.
 */
export async function boundKeyOfKid(
  sql: Sql,
  bank: BankIdentity,
  kid: string,
  now: Date,
  lock: boolean,
): Promise<BoundKey> {
  const record = await selectKeyBindingByKid(sql, kid, lock);
  if (record === undefined) throw new BindingRejected(`key ${kid} is not bound at this bank`);
  return verifiedBinding(bank, record, now);
}

/** The binding `serial`, verified and active at `now` (BindingRejected otherwise). */
export async function boundKeyOfSerial(
  sql: Sql,
  bank: BankIdentity,
  serial: string,
  now: Date,
  lock: boolean,
): Promise<BoundKey> {
  const record = await selectKeyBinding(sql, serial, lock);
  if (record === undefined) throw new BindingRejected(`binding ${serial} is unknown`);
  return verifiedBinding(bank, record, now);
}

export interface DeviceRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly rawBody: string;
}

/** The device (its party and binding) that signed a request. */
export interface AuthenticatedDevice extends BoundKey {
  readonly partyId: string;
}

/**
 * Authenticates a request of a customer's device (seed 002 step 7: the client
 * talks to its bank directly, never through the MPASP): a signed request
 * token (`Authorization: MPay <jws>`, packages/http-client signRequest) bound
 * to the method, path and body, addressed to this bank, under a device key
 * of an active binding of this bank found by the token's kid, whose issuer is
 * the binding's subject. Any failure is AUTHENTICATION_FAILED, saying nothing
 * more. The token is short-lived (60 s) and used once: its nonce is kept
 * until it expires, and a copy sent again is MESSAGE_REPLAYED.
 */
export async function authenticateDevice(
  database: Database,
  bank: BankIdentity,
  request: DeviceRequest,
  now: Date,
): Promise<AuthenticatedDevice> {
  let bound: BoundKey | undefined;
  const verified = await verifySignedRequest(
    {
      method: request.method,
      path: request.url,
      body: request.rawBody,
      authorization: request.authorization,
    },
    {
      audience: bank.id,
      resolveKey: async (kid) => {
        bound = await boundKeyOfKid(database, bank, kid, now, false);
        return bound.binding.signingJwk;
      },
    },
  );
  if (bound === undefined || verified.issuer !== bound.binding.subject) {
    throw new MpayError('AUTHENTICATION_FAILED');
  }
  // The token is used once, as on the bank's other signed routes.
  if (!(await useRequestNonce(database)(verified.issuer, verified.nonce, verified.expiresAtSeconds)))
    throw new MpayError('MESSAGE_REPLAYED');
  return { ...bound, partyId: bound.binding.subject };
}
