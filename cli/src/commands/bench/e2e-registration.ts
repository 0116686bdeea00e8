/**
 * Customer registration as a new customer goes through it, shared by
 * `mpay bench e2e` (parent and profile drivers) and `mpay simulate`: the
 * bank's operator opens and funds the account and gives an enrolment code,
 * the device enrols with fresh keys; for iMS, the keystore, the FSP's
 * registration and the phone-number alias. Also the merchant's client as
 * the drivers build it. Nothing here is measured (registration precedes the
 * runs); it must not import e2e-driver.ts (a child's entry, with IPC at import).
 */
import type { PrivateJwk } from '@mpay/envelope';
import {
  createKeystore,
  enrolDevice,
  type FspTrust,
  fetchBankTrust,
  MerchantClient,
  registerWithFsp,
  type WalletKeystoreData,
} from '@mpay/sdk';
import { generatePartyKeys } from '../../platform/identities.ts';
import { demoParties } from '../../platform/seed.ts';
import { addAlias, type BenchTarget, bankOf, benchMsisdn, openFundedAccount } from './e2e-target.ts';

/** `partyId`'s account at the customers' bank opened and funded, and an enrolment code for it. */
export async function fundedEnrolmentCode(
  target: BenchTarget,
  partyId: string,
  openingBalanceMinor: bigint,
): Promise<string> {
  const bank = bankOf(target, demoParties.bank.id);
  const account = await openFundedAccount(target, partyId, openingBalanceMinor);
  const { code } = await bank.operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  return code;
}

export type PartyKeys = Awaited<ReturnType<typeof generatePartyKeys>>;
export type DeviceEnrolment = Awaited<ReturnType<typeof enrolDevice>>;

/** A new customer's device, `deviceId`, enrolled with fresh keys at the customers' bank (account funded). */
export async function enrolNewDevice(
  target: BenchTarget,
  partyId: string,
  openingBalanceMinor: bigint,
  deviceId: string,
): Promise<{ readonly keys: PartyKeys; readonly enrolment: DeviceEnrolment }> {
  const bank = bankOf(target, demoParties.bank.id);
  const code = await fundedEnrolmentCode(target, partyId, openingBalanceMinor);
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice({ bankUrl: bank.url, bankId: bank.id, partyId, code }, deviceId, keys);
  return { keys, enrolment };
}

export interface ImsCustomerOptions {
  readonly partyId: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly pin: string;
  /** Where the device reaches custody, its PIN server. */
  readonly pinServerUrl: string;
  readonly openingBalanceMinor: bigint;
}

/** An iMS customer with the key on the device: enrolled, its keystore made, registered at the FSP, its alias added. */
export async function registerImsCustomer(
  target: BenchTarget,
  options: ImsCustomerOptions,
): Promise<{ readonly keystore: WalletKeystoreData; readonly msisdn: string }> {
  const { partyId, pin } = options;
  const { keys, enrolment } = await enrolNewDevice(
    target,
    partyId,
    options.openingBalanceMinor,
    options.deviceId,
  );
  const keystore = await createKeystore({
    partyId,
    pin,
    keys,
    binding: enrolment.binding,
    bankEncryptionJwk: enrolment.bankEncryptionJwk,
    pinServer: { url: options.pinServerUrl, custodyId: target.custody.id },
  });
  await registerWithFsp(target.gatewayUrl, enrolment, options.displayName);
  const msisdn = benchMsisdn();
  const response = await addAlias(target, msisdn, partyId);
  if (!response.ok) throw new Error(`alias ${msisdn}: HTTP ${response.status} ${await response.text()}`);
  return { keystore, msisdn };
}

/** The merchant the drivers ask for payments as: its id and signing key. */
export interface BenchMerchantKeys {
  readonly id: string;
  readonly signingJwk: PrivateJwk;
}

/** The merchant's client, trusting the FSP and every bank named. */
export async function merchantClient(
  merchant: BenchMerchantKeys,
  gatewayUrl: string,
  bankUrls: readonly string[],
  fsp: FspTrust,
): Promise<MerchantClient> {
  return new MerchantClient({
    gatewayUrl,
    merchantId: merchant.id,
    signingKey: merchant.signingJwk,
    fsp,
    banks: await Promise.all(bankUrls.map((url) => fetchBankTrust(url))),
  });
}
