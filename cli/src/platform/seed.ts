import { join } from 'node:path';
import { type PrivateJwk, publicPart } from '@mpay/envelope';
import { findParty, type GatewayService, insertBank, registerParty, updateWebhookUrl } from '@mpay/gateway';
import { requestJson } from '@mpay/http/client';
import { signRequest } from '@mpay/http/signed-request';
import { createKeystore, type WalletKeystoreData } from '@mpay/sdk';
import { generatePartyKeys, loadOrCreate, type PartyKeys } from './identities.ts';

/** The demo parties, addressed as in the iMS paper. */
export const demoParties = {
  bank: { id: 'xbank', fundingAccount: '0b0a0000-0000-4000-8000-000000000000', currency: 'EUR' },
  customer: {
    id: 'john.bernard@person.xbank',
    displayName: 'John Bernard',
    msisdn: '+38970123456',
    account: '0b0a0000-0000-4000-8000-000000001234',
    openingBalanceMinor: 1_000_00n,
    pin: '2468',
  },
  merchant: {
    id: 'merkur.trade@merchant.xbank',
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
  bank: { id: string; url: string; operatorId: string; operatorKey: PrivateJwk };
  merchantKeys: PartyKeys;
  merchantShopUrl: string;
  pbkdf2Iterations?: number | undefined;
}

async function bankPost(bank: SeedInput['bank'], path: string, body: unknown): Promise<void> {
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

async function openAccounts(bank: SeedInput['bank']): Promise<void> {
  const { customer, merchant } = demoParties;
  const currency = demoParties.bank.currency;
  await bankPost(bank, '/accounts', {
    id: demoParties.bank.fundingAccount,
    owner: bank.id,
    currency,
    kind: 'funding',
  });
  await bankPost(bank, '/accounts', { id: customer.account, owner: customer.id, currency, kind: 'customer' });
  await bankPost(bank, '/accounts', { id: merchant.account, owner: merchant.id, currency, kind: 'merchant' });
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
  await insertBank(database, { id: input.bank.id, url: input.bank.url });
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
    await openAccounts(input.bank);
    await registerParty(input.gateway.context, {
      id: customer.id,
      displayName: customer.displayName,
      bankId: input.bank.id,
      accountId: customer.account,
      aliases: [customer.msisdn],
      signingJwk: customerKeystore.signingPublicJwk,
      encryptionJwk: publicPart(customerKeystore.encryptionPrivateJwk),
    });
    await registerParty(input.gateway.context, {
      id: merchant.id,
      displayName: merchant.displayName,
      bankId: input.bank.id,
      accountId: merchant.account,
      signingJwk: input.merchantKeys.signing.publicJwk,
      encryptionJwk: input.merchantKeys.encryption.publicJwk,
    });
  }
  await updateWebhookUrl(database, merchant.id, `${input.merchantShopUrl}/webhooks/mpay`);
  return { merchantKeys: input.merchantKeys, customerKeystore, customerPin: customer.pin };
}
