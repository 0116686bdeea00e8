import { verifyPayload } from '@mpay/envelope';
import { canonicalize, MpayError } from '@mpay/protocol';
import type { CustodyContext } from '../context.ts';
import { storeCredential, useRegistration } from '../pin/registrations.ts';
import { confirmActiveAtBank, verifiedBinding } from './banks.ts';

export interface WalletPinRegistration {
  readonly registrationId: string;
  readonly registrationRecord: string;
  /** The customer's bank's key binding of the wallet's device key. */
  readonly binding: string;
  /** signPayload({ walletPin: { registrationId, partyId } }, { iss: partyId, aud: custody, txn: registrationId }) by the bound key. */
  readonly proof: string;
}

/**
 * A device-key wallet registers the PIN its keystore is wrapped under (the
 * OPAQUE export key needs this server, which counts every try). Only the
 * holder of a key the customer's bank bound may do so, for that customer.
 */
export async function registerWalletPin(
  context: CustodyContext,
  registration: WalletPinRegistration,
): Promise<{ credentialId: string }> {
  const binding = await verifiedBinding(context, registration.binding);
  const partyId = binding.subject;
  const now = context.clock();
  const verified = await verifyPayload(
    registration.proof,
    async (kid) => (kid === binding.signingJwk.kid ? binding.signingJwk : undefined),
    { issuer: partyId, audience: context.custody.id, transactionId: registration.registrationId },
    {
      maxAgeSeconds: context.limits.messageAgeSecondsMax,
      clockSkewSeconds: context.limits.clockSkewSeconds,
      now: () => now.getTime(),
    },
  );
  const expected = { registrationId: registration.registrationId, partyId };
  if (canonicalize(verified.payload.walletPin) !== canonicalize(expected)) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  // Only after the proof: nobody makes custody call a bank with a binding they do not hold the key of.
  await confirmActiveAtBank(context, binding);
  await context.database.transaction(async (sql) => {
    if (!(await useRegistration(sql, registration.registrationId, now))) {
      throw new MpayError('REQUEST_INVALID', 'registrationId');
    }
    await sql.query(
      `INSERT INTO customers (party_id, kind, bank_id, created_at) VALUES ($1, 'wallet', $2, $3)
       ON CONFLICT (party_id) DO NOTHING`,
      [partyId, binding.issuer, now.toISOString()],
    );
    // A custody customer's PIN is the one registered at enrolment: no second credential may
    // log in for them (its successes would give back tries counted against the custody PIN).
    const { rows } = await sql.query<{ kind: string }>('SELECT kind FROM customers WHERE party_id = $1', [
      partyId,
    ]);
    if (rows[0]?.kind !== 'wallet') throw new MpayError('ENROLMENT_FAILED', 'a custody customer');
    await storeCredential(sql, registration.registrationId, partyId, registration.registrationRecord, now);
  });
  context.log.info({ partyId, serial: binding.serialNumber }, 'wallet PIN registered');
  return { credentialId: registration.registrationId };
}
