import {
  keyResolverFromJwkSet,
  type PrivateJwk,
  type PublicJwk,
  type PublicJwkSet,
  sealPrivateData,
  verifyKeyBinding,
} from '@mpay/envelope';
import { requestObject, signRequest } from '@mpay/http-client';
import { type ImsPrivateData, type ImsSealedData, MpayError, parsePartyId } from '@mpay/protocol';
import type { FspTrust } from '../fsp.ts';

/**
 * What a merchant must know of a bank to seal a payment's private fields for
 * it: its id, its signing keys (to check the key bindings it issues: the
 * customer's device key comes from one) and its encryption key. Pinned in a
 * real app, like the FSP's keys, or read from the bank itself
 * (`fetchBankTrust`), never from the FSP, which must not read what is sealed.
 */
export interface BankTrust {
  id: string;
  keys: PublicJwkSet;
  encryptionJwk: PublicJwk;
  /** Where the bank answers; with it, a binding's status is asked of the bank before sealing to it. */
  url?: string;
}

/** A bank's public keys from its own GET /bank. */
export async function fetchBankTrust(bankUrl: string): Promise<BankTrust> {
  const { body } = await requestObject<Partial<BankTrust>>(`${bankUrl}/bank`);
  if (typeof body.id !== 'string' || body.keys === undefined || body.encryptionJwk === undefined)
    throw new MpayError('KEY_UNKNOWN', 'bank encryption key');
  return { id: body.id, keys: body.keys, encryptionJwk: body.encryptionJwk, url: bankUrl };
}

export interface SealingContext {
  readonly gatewayUrl: string;
  readonly merchantId: string;
  readonly signingKey: PrivateJwk;
  readonly fsp: FspTrust;
  readonly banks: readonly BankTrust[];
}

/** The bank a person's or merchant's party id names (`name@kind.bank`). */
function bankOfParty(partyId: string): string {
  const parsed = parsePartyId(partyId);
  if (parsed.kind !== 'person' && parsed.kind !== 'merchant') throw new MpayError('PARTY_UNKNOWN', partyId);
  return parsed.bank;
}

function trustedBank(banks: readonly BankTrust[], id: string): BankTrust {
  const bank = banks.find((candidate) => candidate.id === id);
  if (bank === undefined) throw new MpayError('KEY_UNKNOWN', `bank ${id}`);
  return bank;
}

/**
 * The customer's device encryption key as the customer's bank bound it: the
 * FSP hands over the bank's signed binding (GET /parties/:id/sealing-key,
 * with the merchant's signed token), and the merchant checks it under that
 * bank's pinned keys, so an FSP that substitutes a key of its own is caught
 * here. Returns the bank and the key.
 */
async function customerSealingKey(
  context: SealingContext,
  customerId: string,
): Promise<{ bank: BankTrust; encryptionJwk: PublicJwk }> {
  const path = `/parties/${encodeURIComponent(customerId)}/sealing-key`;
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: context.merchantId, audience: context.fsp.id, key: context.signingKey },
  );
  const { body } = await requestObject<{ partyId?: unknown; bankId?: unknown; binding?: unknown }>(
    `${context.gatewayUrl}${path}`,
    { headers: { authorization } },
  );
  const bankId = bankOfParty(customerId);
  const bank = trustedBank(context.banks, bankId);
  if (typeof body.binding !== 'string') throw new MpayError('KEY_BINDING_INVALID');
  const binding = await verifyKeyBinding(body.binding, keyResolverFromJwkSet(bank.keys), {
    issuer: bank.id,
    isRevoked: () => false,
  });
  if (binding.subject !== customerId) throw new MpayError('KEY_BINDING_INVALID', 'subject');
  if (bank.url !== undefined) await requireActiveBinding(bank.url, binding.serialNumber);
  return { bank, encryptionJwk: binding.encryptionJwk };
}

/**
 * The bank's own word that a binding is still active (GET /key-bindings/:serial):
 * the FSP could hand over a binding the customer revoked (a lost phone whose
 * key someone else now holds), which still verifies under the bank's key.
 */
async function requireActiveBinding(bankUrl: string, serial: string): Promise<void> {
  const { body } = await requestObject<{ status?: unknown }>(
    `${bankUrl}/key-bindings/${encodeURIComponent(serial)}`,
  );
  if (body.status === 'revoked') throw new MpayError('KEY_BINDING_REVOKED');
  if (body.status !== 'active') throw new MpayError('KEY_BINDING_EXPIRED');
}

/**
 * iMS "the data can be encrypted to secure the privacy of every player": the
 * description and the order lines sealed for the customer's device, the
 * customer's bank and the merchant's own bank (`sealPrivateData`), each key
 * from its owner. The FSP sees the parties and the amount only.
 */
export async function sealForPayment(
  context: SealingContext,
  customerId: string,
  data: ImsPrivateData,
): Promise<ImsSealedData> {
  const customer = await customerSealingKey(context, customerId);
  const payeeBank = trustedBank(context.banks, bankOfParty(context.merchantId));
  return sealPrivateData(data, {
    customer: customer.encryptionJwk,
    payerBank: customer.bank.encryptionJwk,
    payeeBank: payeeBank.encryptionJwk,
  });
}
