import { decodeUnverified, encryptTo, type PublicJwk, parsePublicJwk } from '@mpay/envelope';
import type { Sql } from '@mpay/storage';
import type { DepositoryContext } from '../key-depository/context.ts';
import { openTotpSecret, sealTotpSecret, type TotpSecret } from './secret.ts';
import { insertSecondFactor, selectSecondFactor } from './store.ts';
import { newTotpSecret, totpParametersDefault, totpUri } from './totp.ts';

/**
 * The JWE `cty` of the authenticator the bank gives an enrolling device; the
 * plaintext is `{ partyId, uri }`, the uri an otpauth Key URI
 * (otpauth://totp/BANK:PARTY?secret=…), what an authenticator app scans.
 */
export const authenticatorContentType = 'mpay-authenticator+json';

function sealAuthenticator(
  bankId: string,
  secret: TotpSecret,
  deviceEncryptionJwk: PublicJwk,
): Promise<string> {
  const uri = totpUri(bankId, secret.partyId, secret.secret, secret);
  return encryptTo(JSON.stringify({ partyId: secret.partyId, uri }), deviceEncryptionJwk, {
    contentType: authenticatorContentType,
  });
}

/**
 * At an enrolment, in its transaction: when the party has no second factor
 * yet, a new TOTP secret, stored sealed to the bank's key, and the
 * authenticator for the enrolling device, sealed to that device's
 * encryption key (the one in the binding just issued). A party that has a
 * second factor gets nothing: the secret leaves the bank once, to the first
 * device enrolled (its holder keeps it in an authenticator app). Nothing
 * either when the bank has no encryption key.
 */
export async function provisionSecondFactor(
  context: DepositoryContext,
  sql: Sql,
  enrolled: { partyId: string; serial: string; deviceEncryptionJwk: PublicJwk },
  now: Date,
): Promise<string | undefined> {
  const key = context.bank.encryption;
  if (key === undefined) return undefined;
  if ((await selectSecondFactor(sql, enrolled.partyId)) !== undefined) return undefined;
  const secret: TotpSecret = { partyId: enrolled.partyId, secret: newTotpSecret(), ...totpParametersDefault };
  const inserted = await insertSecondFactor(
    sql,
    {
      partyId: enrolled.partyId,
      sealedSecret: await sealTotpSecret(secret, key),
      provisionedTo: enrolled.serial,
    },
    now,
  );
  if (!inserted) return undefined;
  context.log.info({ partyId: enrolled.partyId, serial: enrolled.serial }, 'second factor provisioned');
  return sealAuthenticator(context.bank.id, secret, enrolled.deviceEncryptionJwk);
}

/**
 * A device retried the enrolment whose answer carried the authenticator (the
 * answer was lost): the same authenticator again, sealed to the encryption
 * key of that enrolment's binding (the bank's own record), never to a key
 * the retry presents. Any other enrolment gets nothing.
 */
export async function reprovisionedAuthenticator(
  context: DepositoryContext,
  sql: Sql,
  binding: { partyId: string; serial: string; binding: string },
): Promise<string | undefined> {
  const key = context.bank.encryption;
  const stored = await selectSecondFactor(sql, binding.partyId);
  if (key === undefined || stored === undefined || stored.provisionedTo !== binding.serial) return undefined;
  const payload = decodeUnverified(binding.binding)?.payload as { encryptionJwk?: unknown } | undefined;
  const deviceEncryptionJwk = parsePublicJwk(payload?.encryptionJwk);
  const secret = await openTotpSecret(stored.sealedSecret, key, binding.partyId);
  return sealAuthenticator(context.bank.id, secret, deviceEncryptionJwk);
}
