import { join } from 'node:path';
import { requestJson, signRequest } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';
import {
  type CustodyEnrolment,
  createKeystore,
  enrolDevice,
  enrolWithCustody,
  parseKeystore,
  registerWithFsp,
  type WalletKeystoreData,
} from '@mpay/sdk';
import type { BankAccess } from './banks.ts';
import { generatePartyKeys, loadOrCreate, type PartyKeys, writeSecret } from './identities.ts';

/** The demo parties, addressed as in the iMS paper. */
export const demoParties = {
  bank: { id: 'xbank', fundingAccount: '0b0a0000-0000-4000-8000-000000000000', currency: 'EUR' },
  merchantBank: { id: 'ybank' },
  customer: {
    id: 'john.bernard@person.xbank',
    displayName: 'John Bernard',
    msisdn: '+38970123456',
    account: '0b0a0000-0000-4000-8000-000000001234',
    deviceId: 'john-phone-1',
    openingBalanceMinor: 1_000_00n,
    pin: '2468',
  },
  /** A customer whose phone holds no key: the key is in custody's HSM (iMS §5). */
  custodyCustomer: {
    id: 'mila.novak@person.xbank',
    displayName: 'Mila Novak',
    msisdn: '+38970765432',
    account: '0b0a0000-0000-4000-8000-000000005678',
    deviceId: 'mila-phone-1',
    openingBalanceMinor: 500_00n,
    pin: '1357',
  },
  merchant: {
    id: 'merkur.trade@merchant.ybank',
    displayName: 'Merkur Trade',
    account: '0b0a0000-0000-4000-8000-000000009876',
    /** The merchant's backend, as its bank's key binding names the "device" holding its key. */
    backendId: 'merkur-backend-1',
  },
} as const;

export interface DemoCredentials {
  merchantKeys: PartyKeys;
  customerKeystore: WalletKeystoreData;
  customerPin: string;
  /**
   * The customer's authenticator (an otpauth Key URI; `authenticatorCode` gives
   * its current code), which the bank gave the first enrolled device: kept
   * apart from the keystore, in `parties/<id>.authenticator.json`. Undefined
   * for a data folder enrolled before banks had second factors.
   */
  customerAuthenticator: string | undefined;
  /** The custody customer's phone: its token for custody, and the PIN credential (the key is in custody's HSM). */
  custodyCustomer: CustodyEnrolment;
}

interface SeedInput {
  readonly dataDir: string | undefined;
  readonly gatewayUrl: string;
  readonly operatorToken: string;
  readonly banks: readonly BankAccess[];
  readonly merchantKeys: PartyKeys;
  readonly merchantShopUrl: string;
  /** Custody, the server that checks and counts the customer's PIN (OPAQUE), and its id. */
  readonly custodyUrl: string;
  readonly custodyId: string;
}

/** A signed call to a bank as its operator; `tolerate` names answers that mean "already done". */
async function bankPost<T>(
  bank: BankAccess,
  path: string,
  body: unknown,
  tolerate: string[] = [],
): Promise<T | undefined> {
  const text = JSON.stringify(body);
  const authorization = await signRequest(
    { method: 'POST', path, body: text },
    { issuer: bank.operatorId, audience: bank.id, key: bank.operatorKey },
  );
  try {
    const answer = await requestJson<T>(`${bank.url}${path}`, {
      body: text,
      contentType: 'application/json',
      headers: { authorization },
    });
    return answer.body;
  } catch (error) {
    if (isMpayError(error) && tolerate.includes(error.code)) return undefined;
    throw error;
  }
}

/** How long the seed waits for custody's registration of its customer to reach the FSP. */
const custodyRegistrationDeadlineMs = 120_000;

/** Runs `call` until the FSP knows the party it names (PARTY_UNKNOWN meanwhile), up to the deadline. */
async function untilRegistered(call: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + custodyRegistrationDeadlineMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isMpayError(error, 'PARTY_UNKNOWN') || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
    }
  }
}

/** A call to the gateway's operator API (Bearer token), idempotent by its key. */
async function gatewayAdminPost(
  input: SeedInput,
  path: string,
  body: unknown,
  idempotencyKey: string,
): Promise<void> {
  await requestJson(`${input.gatewayUrl}${path}`, {
    body: JSON.stringify(body),
    contentType: 'application/json',
    headers: { authorization: `Bearer ${input.operatorToken}`, 'idempotency-key': idempotencyKey },
  });
}

function bankOf(input: SeedInput, id: string): BankAccess {
  const bank = input.banks.find((candidate) => candidate.id === id);
  if (bank === undefined) throw new Error(`assertion failed: bank ${id} is running`);
  return bank;
}

async function openAccounts(bank: BankAccess, merchantBank: BankAccess): Promise<void> {
  const { customer, merchant } = demoParties;
  const currency = demoParties.bank.currency;
  const exists = ['ACCOUNT_EXISTS'];
  await bankPost(
    bank,
    '/accounts',
    { id: demoParties.bank.fundingAccount, owner: bank.id, currency, kind: 'funding' },
    exists,
  );
  await bankPost(
    bank,
    '/accounts',
    { id: customer.account, owner: customer.id, currency, kind: 'customer' },
    exists,
  );
  await bankPost(
    merchantBank,
    '/accounts',
    { id: merchant.account, owner: merchant.id, currency, kind: 'merchant' },
    exists,
  );
  await bankPost(bank, '/transfers', {
    id: '00000000-0000-4000-8000-000000000001',
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: customer.account,
    amount: customer.openingBalanceMinor.toString(),
    currency,
    reference: 'opening balance',
  });
  const { custodyCustomer } = demoParties;
  await bankPost(
    bank,
    '/accounts',
    { id: custodyCustomer.account, owner: custodyCustomer.id, currency, kind: 'customer' },
    exists,
  );
  await bankPost(bank, '/transfers', {
    id: '00000000-0000-4000-8000-000000000002',
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: custodyCustomer.account,
    amount: custodyCustomer.openingBalanceMinor.toString(),
    currency,
    reference: 'opening balance',
  });
}

/**
 * The custody customer (iMS §5): the bank's operator issues a one-time code,
 * the phone registers the PIN with custody (OPAQUE) and asks custody to
 * enrol; custody generates the key in its HSM, enrols it at the bank with the
 * code (the bank binds it to the account) and registers the customer with the
 * FSP. The phone keeps only its token for custody.
 */
async function enrolCustodyCustomer(input: SeedInput, bank: BankAccess): Promise<CustodyEnrolment> {
  const { custodyCustomer } = demoParties;
  const invitation = await bankPost<{ code: string }>(bank, '/enrolment-codes', {
    partyId: custodyCustomer.id,
    accountIds: [custodyCustomer.account],
  });
  if (invitation === undefined) throw new Error('assertion failed: the bank issued an enrolment code');
  return enrolWithCustody({
    custodyUrl: input.custodyUrl,
    bankId: bank.id,
    partyId: custodyCustomer.id,
    code: invitation.code,
    deviceId: custodyCustomer.deviceId,
    displayName: custodyCustomer.displayName,
    pin: custodyCustomer.pin,
  });
}

/**
 * The customer's device enrols with its bank (SA2pMP §4.3): the bank's
 * operator issues a one-time code for the customer's account, the device
 * generates its keys, sends the public ones with the code and a proof of
 * possession, and keeps the bank's signed binding in its keystore. The PIN is
 * registered at custody (OPAQUE), which counts every try; the keys are
 * wrapped under what only a login there gives. The device then registers
 * with the FSP on the strength of the binding.
 */
async function enrolCustomer(
  input: SeedInput,
  bank: BankAccess,
  keepAuthenticator: (authenticator: string) => void,
): Promise<WalletKeystoreData> {
  const { customer } = demoParties;
  const invitation = await bankPost<{ code: string }>(bank, '/enrolment-codes', {
    partyId: customer.id,
    accountIds: [customer.account],
  });
  if (invitation === undefined) throw new Error('assertion failed: the bank issued an enrolment code');
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice(
    { bankUrl: bank.url, bankId: bank.id, partyId: customer.id, code: invitation.code },
    customer.deviceId,
    keys,
  );
  if (enrolment.authenticator !== undefined) keepAuthenticator(enrolment.authenticator);
  return createKeystore({
    partyId: customer.id,
    pin: customer.pin,
    keys,
    binding: enrolment.binding,
    bankEncryptionJwk: enrolment.bankEncryptionJwk,
    pinServer: { url: input.custodyUrl, custodyId: input.custodyId },
  });
}

/**
 * The merchant's signing key bound by the merchant's bank to the merchant
 * account, as a customer's device key is to the customer's (the same public
 * APIs: the operator's one-time code naming the account, then the enrolment
 * with a proof of possession): a refund the merchant signs is checked by its
 * bank under this binding before the merchant is debited. The key is the one
 * the FSP certified. Done once per data folder (a key is bound once, ever).
 */
async function enrolMerchantKey(input: SeedInput, merchantBank: BankAccess): Promise<{ serial: string }> {
  const { merchant } = demoParties;
  const invitation = await bankPost<{ code: string }>(merchantBank, '/enrolment-codes', {
    partyId: merchant.id,
    accountIds: [merchant.account],
  });
  if (invitation === undefined) throw new Error('assertion failed: the bank issued an enrolment code');
  const enrolment = await enrolDevice(
    { bankUrl: merchantBank.url, bankId: merchantBank.id, partyId: merchant.id, code: invitation.code },
    merchant.backendId,
    { signing: input.merchantKeys.signing, encryption: input.merchantKeys.encryption },
  );
  return { serial: enrolment.serial };
}

/**
 * The demo customer's keystore: read from the data folder, or enrolled the
 * first time. Custody's URL is not part of what the keys are wrapped with, so
 * a keystore written when custody listened elsewhere is pointed at where it
 * listens now; another custody (another id) cannot open it: enrol again.
 */
async function customerKeystoreOf(
  input: SeedInput,
  bank: BankAccess,
  keepAuthenticator: (authenticator: string) => void,
): Promise<WalletKeystoreData> {
  const name = join('parties', `${demoParties.customer.id}.wallet-v2.json`);
  const stored = parseKeystore(
    await loadOrCreate(input.dataDir, name, () => enrolCustomer(input, bank, keepAuthenticator)),
  );
  if (stored.pinServer.custodyId !== input.custodyId)
    throw new Error(
      `${name} belongs to custody ${stored.pinServer.custodyId}, not ${input.custodyId}: enrol again`,
    );
  if (stored.pinServer.url === input.custodyUrl) return stored;
  const moved = { ...stored, pinServer: { ...stored.pinServer, url: input.custodyUrl } };
  if (input.dataDir !== undefined) await writeSecret(join(input.dataDir, name), moved);
  return moved;
}

/**
 * Sets up the demo through the services' public APIs only: the banks'
 * accounts (bank operator), the banks' keys at the FSP, the customer's device
 * enrolled at its bank and registered with the FSP, the customer's MSISDN
 * alias and the merchant (FSP operator). Every step is idempotent, so it runs
 * on every start (the merchant shop's URL may have changed).
 */
export async function seedDemo(input: SeedInput): Promise<DemoCredentials> {
  const bank = bankOf(input, demoParties.bank.id);
  const merchantBank = bankOf(input, demoParties.merchantBank.id);
  const { customer, merchant } = demoParties;
  for (const running of input.banks) {
    const { body } = await requestJson<{ id: string; keys: { keys: unknown[] } }>(`${running.url}/bank`);
    await gatewayAdminPost(
      input,
      '/admin/banks',
      { id: running.id, url: running.url, signingJwk: body.keys.keys[0] },
      `bank-${running.id}-${running.url}`,
    );
  }
  await openAccounts(bank, merchantBank);
  let enrolledAuthenticator: string | undefined;
  const customerKeystore = await customerKeystoreOf(input, bank, (authenticator) => {
    enrolledAuthenticator = authenticator;
  });
  const { authenticator: customerAuthenticator } = await loadOrCreate<{ authenticator?: string }>(
    input.dataDir,
    join('parties', `${customer.id}.authenticator.json`),
    async () => (enrolledAuthenticator === undefined ? {} : { authenticator: enrolledAuthenticator }),
  );
  await registerWithFsp(
    input.gatewayUrl,
    { serial: 'seed', binding: customerKeystore.binding },
    customer.displayName,
    {
      idempotencyKey: `customer-${customer.id}-${customerKeystore.signingPublicJwk.kid ?? ''}`,
    },
  );
  await gatewayAdminPost(
    input,
    '/admin/aliases',
    { alias: customer.msisdn, partyId: customer.id },
    `alias-${customer.msisdn}`,
  );
  const { custodyCustomer } = demoParties;
  const custodyEnrolment = await loadOrCreate(
    input.dataDir,
    join('parties', `${custodyCustomer.id}.custody-phone.json`),
    () => enrolCustodyCustomer(input, bank),
  );
  // Custody registers her with the FSP from its outbox: the answer to the enrolment may come first
  // (another worker holding the row, a busy FSP), so the alias waits until the FSP knows her.
  await untilRegistered(() =>
    gatewayAdminPost(
      input,
      '/admin/aliases',
      { alias: custodyCustomer.msisdn, partyId: custodyCustomer.id },
      `alias-${custodyCustomer.msisdn}`,
    ),
  );
  const webhookUrl = `${input.merchantShopUrl}/webhooks/mpay`;
  await gatewayAdminPost(
    input,
    '/admin/merchants',
    {
      id: merchant.id,
      displayName: merchant.displayName,
      webhookUrl,
      signingJwk: input.merchantKeys.signing.publicJwk,
      encryptionJwk: input.merchantKeys.encryption.publicJwk,
    },
    `merchant-${merchant.id}-${webhookUrl}`,
  );
  await loadOrCreate(input.dataDir, join('parties', `${merchant.id}.bank-binding.json`), () =>
    enrolMerchantKey(input, merchantBank),
  );
  return {
    merchantKeys: input.merchantKeys,
    customerKeystore,
    customerPin: customer.pin,
    customerAuthenticator,
    custodyCustomer: custodyEnrolment,
  };
}
