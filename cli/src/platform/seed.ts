import { join } from 'node:path';
import { publicPart } from '@mpay/envelope';
import { findParty, type GatewayService, insertBank, registerParty, updateWebhookUrl } from '@mpay/gateway';
import { requestJson } from '@mpay/http/client';
import { signRequest } from '@mpay/http/signed-request';
import { createKeystore, type WalletKeystoreData } from '@mpay/sdk';
import type { BankAccess } from './banks.ts';
import { generatePartyKeys, loadOrCreate, type PartyKeys } from './identities.ts';

/** The demo parties, addressed as in the iMS paper. */
export const demoParties = {
  bank: { id: 'xbank', fundingAccount: '0b0a0000-0000-4000-8000-000000000000', currency: 'EUR' },
  merchantBank: { id: 'ybank' },
  customer: {
    id: 'john.bernard@person.xbank',
    displayName: 'John Bernard',
    msisdn: '+38970123456',
    account: '0b0a0000-0000-4000-8000-000000001234',
    openingBalanceMinor: 1_000_00n,
    pin: '2468',
  },
  merchant: {
    id: 'merkur.trade@merchant.ybank',
    displayName: 'Merkur Trade',
    account: '0b0a0000-0000-4000-8000-000000009876',
  },
} as const;

export interface DemoCredentials {
  merchantKeys: PartyKeys;
  customerKeystore: WalletKeystoreData;
  customerPin: string;
}

interface SeedInput {
  dataDir: string | undefined;
  gateway: GatewayService;
  banks: readonly BankAccess[];
  merchantKeys: PartyKeys;
  merchantShopUrl: string;
  pbkdf2Iterations?: number | undefined;
}

async function bankPost(bank: BankAccess, path: string, body: unknown): Promise<void> {
  const text = JSON.stringify(body);
  const authorization = await signRequest(
    { method: 'POST', path, body: text },
    { issuer: bank.operatorId, audience: bank.id, key: bank.operatorKey },
  );
  await requestJson(`${bank.url}${path}`, {
    body: text,
    contentType: 'application/json',
    headers: { authorization },
  }).catch((error: unknown) => {
    if ((error as { code?: string }).code !== 'ACCOUNT_EXISTS') throw error;
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
  await bankPost(bank, '/accounts', {
    id: demoParties.bank.fundingAccount,
    owner: bank.id,
    currency,
    kind: 'funding',
  });
  await bankPost(bank, '/accounts', { id: customer.account, owner: customer.id, currency, kind: 'customer' });
  await bankPost(merchantBank, '/accounts', {
    id: merchant.account,
    owner: merchant.id,
    currency,
    kind: 'merchant',
  });
  await bankPost(bank, '/transfers', {
    id: '00000000-0000-4000-8000-000000000001',
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: customer.account,
    amount: customer.openingBalanceMinor.toString(),
    currency,
    reference: 'opening balance',
  });
}

/** Creates the bank accounts and registers the parties with the FSP, once; later runs only refresh URLs. */
export async function seedDemo(input: SeedInput): Promise<DemoCredentials> {
  const database = input.gateway.context.database;
  for (const bank of input.banks) await insertBank(database, { id: bank.id, url: bank.url });
  const bank = bankOf(input, demoParties.bank.id);
  const merchantBank = bankOf(input, demoParties.merchantBank.id);
  const { customer, merchant } = demoParties;
  const customerKeys = await generatePartyKeys();
  const customerKeystore = await loadOrCreate(
    input.dataDir,
    join('parties', `${customer.id}.wallet.json`),
    () =>
      createKeystore(
        customer.id,
        customer.pin,
        customerKeys,
        input.pbkdf2Iterations ? { iterations: input.pbkdf2Iterations } : {},
      ),
  );
  if ((await findParty(database, merchant.id)) === undefined) {
    await openAccounts(bank, merchantBank);
    await registerParty(input.gateway.context, {
      id: customer.id,
      displayName: customer.displayName,
      bankId: bank.id,
      accountId: customer.account,
      aliases: [customer.msisdn],
      signingJwk: customerKeystore.signingPublicJwk,
      encryptionJwk: publicPart(customerKeystore.encryptionPrivateJwk),
    });
    await registerParty(input.gateway.context, {
      id: merchant.id,
      displayName: merchant.displayName,
      bankId: merchantBank.id,
      accountId: merchant.account,
      signingJwk: input.merchantKeys.signing.publicJwk,
      encryptionJwk: input.merchantKeys.encryption.publicJwk,
    });
  }
  await updateWebhookUrl(database, merchant.id, `${input.merchantShopUrl}/webhooks/mpay`);
  return { merchantKeys: input.merchantKeys, customerKeystore, customerPin: customer.pin };
}
