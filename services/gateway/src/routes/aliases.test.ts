import { type GeneratedKeyPair, generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import type { Database } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FspIdentity } from '../context.ts';
import { registerAlias } from '../registry/bindings.ts';
import { registerMerchant } from '../registry/register.ts';
import { createGatewayService, type GatewayService } from '../service.ts';
import {
  addBank,
  enrolCustomer,
  openGatewayDatabase,
  type TestCustomer,
  testFspIdentity,
  wholeSecond,
} from '../test-helpers.ts';

/**
 * GET /aliases/:msisdn over real HTTP: a phone number is personal data, so
 * only a certified merchant resolves one, with its signed token, and at most
 * aliasLookupsPerMerchantMax times per window.
 */
let database: Database;
let fsp: FspIdentity;
let service: GatewayService;
let url: string;
let now = wholeSecond();
let john: TestCustomer;
const shop = { id: 'shop@merchant.ybank' } as { id: string; signing: GeneratedKeyPair };
const msisdn = '+38970123456';

beforeAll(async () => {
  database = await openGatewayDatabase();
  fsp = await testFspIdentity();
  service = await createGatewayService({
    database,
    fsp,
    clock: () => now,
    backgroundIntervalMs: 3_600_000,
    limits: { aliasLookupsPerMerchantMax: 2, rateWindowSeconds: 60 },
  });
  url = await service.listen();
  const xbank = await addBank(database, 'xbank');
  await addBank(database, 'ybank');
  john = await enrolCustomer(database, xbank, 'john');
  await database.transaction((sql) => registerAlias(sql, msisdn, john.id));
  shop.signing = await generateSigningKeyPair();
  const encryption = await generateEncryptionKeyPair();
  await database.transaction((sql) =>
    registerMerchant(service.context, sql, {
      id: shop.id,
      displayName: 'Shop',
      signingJwk: shop.signing.publicJwk,
      encryptionJwk: encryption.publicJwk,
    }),
  );
});

afterAll(async () => {
  await service?.close();
  await database?.close();
});

async function lookup(signer?: { id: string; signing: GeneratedKeyPair }) {
  const path = `/aliases/${encodeURIComponent(msisdn)}`;
  const headers: Record<string, string> = {};
  if (signer !== undefined)
    headers.authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: signer.id, audience: fsp.id, key: signer.signing.privateJwk },
    );
  const response = await fetch(`${url}${path}`, { headers });
  const body = (await response.json()) as { partyId?: string; error?: { code: string } };
  return {
    status: response.status,
    code: body.error?.code,
    partyId: body.partyId,
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('GET /aliases/:msisdn', () => {
  it('refuses anyone without a token, and a customer with one', async () => {
    expect(await lookup()).toMatchObject({ status: 401, code: 'AUTHENTICATION_FAILED' });
    expect(await lookup({ id: john.id, signing: john.signing })).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
    });
  });

  it('answers a merchant, then refuses past its limit with Retry-After until the window moves on', async () => {
    expect(await lookup(shop)).toMatchObject({ status: 200, partyId: john.id });
    expect(await lookup(shop)).toMatchObject({ status: 200, partyId: john.id });
    const limited = await lookup(shop);
    expect(limited).toMatchObject({ status: 429, code: 'REQUEST_RATE_LIMITED' });
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    now = new Date(now.getTime() + 61_000);
    expect(await lookup(shop)).toMatchObject({ status: 200, partyId: john.id });
  });

  it('takes a signed token once: the same Authorization again is MESSAGE_REPLAYED and answers nothing', async () => {
    now = new Date(now.getTime() + 61_000);
    const path = `/aliases/${encodeURIComponent(msisdn)}`;
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: shop.id, audience: fsp.id, key: shop.signing.privateJwk },
    );
    const send = async () => {
      const response = await fetch(`${url}${path}`, { headers: { authorization } });
      const body = (await response.json()) as { partyId?: string; error?: { code: string } };
      return { status: response.status, code: body.error?.code, partyId: body.partyId };
    };
    expect(await send()).toMatchObject({ status: 200, partyId: john.id });
    const replayed = await send();
    expect(replayed.code).toBe('MESSAGE_REPLAYED');
    expect(replayed.partyId).toBeUndefined();
    // A token signed anew for the same request is answered.
    expect(await lookup(shop)).toMatchObject({ status: 200, partyId: john.id });
  });
});
