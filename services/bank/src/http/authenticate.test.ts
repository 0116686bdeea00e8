import { randomUUID } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank, testBearerVerifier } from '../test-helpers.ts';
import type { RequestToVerify } from './authenticate.ts';

let bank: TestBank;
const seen: RequestToVerify[] = [];
beforeAll(async () => {
  const verifier = testBearerVerifier();
  bank = await startTestBank({
    limits: { bodyLimitBytes: 1024 },
    verifyRequest: async (request) => {
      seen.push(request);
      if (request.headers['x-test-forbidden']) throw new MpayError('FORBIDDEN', 'route not allowed');
      if (request.headers['x-test-revealing'])
        throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'byte 17 differs');
      if (request.headers['x-test-empty-caller']) return { callerId: '' };
      // A single-use token, as bankRequestVerifier returns it: its nonce and expiry.
      const nonce = request.headers['x-test-nonce'];
      if (typeof nonce === 'string')
        return { ...(await verifier(request)), once: { nonce, expiresAtSeconds: 4_000_000_000 } };
      return verifier(request);
    },
  });
});
afterAll(() => bank.close());

const funding = { owner: 'xbank', currency: 'EUR', kind: 'funding' };

describe('authentication', () => {
  it('refuses every route without the right credentials (401), before looking at the body', async () => {
    for (const headers of [
      { authorization: '' },
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic eDp5' },
    ]) {
      const post = await bank.call('POST', '/accounts', funding, headers);
      expect([post.status, errorCodeOf(post)]).toEqual([401, 'AUTHENTICATION_FAILED']);
      const invalid = await bank.call('POST', '/transfers', { nonsense: true }, headers);
      expect([invalid.status, errorCodeOf(invalid)]).toEqual([401, 'AUTHENTICATION_FAILED']);
      const get = await bank.call('GET', '/audit', undefined, headers);
      expect(get.status).toBe(401);
    }
    expect(
      errorCodeOf(await bank.call('POST', '/accounts', funding, { authorization: 'Bearer wrong' })),
    ).toBe('AUTHENTICATION_FAILED');
  });

  it('says nothing about why authentication failed', async () => {
    const answer = await bank.call('POST', '/accounts', funding, { authorization: 'Bearer wrong' });
    expect(answer.body).toEqual({
      error: { code: 'AUTHENTICATION_FAILED', message: 'Authentication failed.' },
    });
  });

  it('hands the verifier the method, url, headers and the body exactly as sent', async () => {
    const raw = `{"owner":"xbank",   "currency":"EUR","kind":"funding"}`;
    seen.length = 0;
    expect((await bank.call('POST', '/accounts?probe=1', raw)).status).toBe(201);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/accounts?probe=1', rawBody: raw });
    expect(seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('takes a single-use token once: the same token again is MESSAGE_REPLAYED before the route runs', async () => {
    const nonce = randomUUID();
    const first = await bank.call('POST', '/accounts', funding, { 'x-test-nonce': nonce });
    expect(first.status).toBe(201);
    const replayed = await bank.call('POST', '/accounts', funding, { 'x-test-nonce': nonce });
    expect([replayed.status, errorCodeOf(replayed)]).toEqual([409, 'MESSAGE_REPLAYED']);
    // Read-only routes too: a copied token answers nothing.
    const read = await bank.call('GET', '/audit', undefined, { 'x-test-nonce': nonce });
    expect(errorCodeOf(read)).toBe('MESSAGE_REPLAYED');
    expect((await bank.call('POST', '/accounts', funding, { 'x-test-nonce': randomUUID() })).status).toBe(
      201,
    );
  });

  it('leaves /health open', async () => {
    const answer = await bank.call('GET', '/health', undefined, { authorization: '' });
    expect(answer).toEqual({ status: 200, body: { status: 'ok', service: 'xbank' } });
  });

  it('refuses a body above the limit (413)', async () => {
    const answer = await bank.call('POST', '/accounts', { ...funding, owner: 'x'.repeat(2000) });
    expect([answer.status, errorCodeOf(answer)]).toEqual([413, 'REQUEST_TOO_LARGE']);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first response for the same request and refuses the key for another', async () => {
    const key = randomUUID();
    const first = await bank.call('POST', '/accounts', funding, { 'idempotency-key': key });
    const again = await bank.call('POST', '/accounts', funding, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(again).toEqual(first);
    const other = await bank.call(
      'POST',
      '/accounts',
      { ...funding, currency: 'USD' },
      { 'idempotency-key': key },
    );
    expect([other.status, errorCodeOf(other)]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
  });

  it('scopes keys by caller', async () => {
    const key = randomUUID();
    const ann = await bank.call('POST', '/accounts', funding, {
      'idempotency-key': key,
      'x-test-caller': 'ann',
    });
    const bob = await bank.call('POST', '/accounts', funding, {
      'idempotency-key': key,
      'x-test-caller': 'bob',
    });
    expect([ann.status, bob.status]).toEqual([201, 201]);
    expect(ann.body.id).not.toBe(bob.body.id);
  });

  it('replays a final refusal as the same refusal', async () => {
    const key = randomUUID();
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    const body = {
      id: randomUUID(),
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '5',
      currency: 'EUR',
    };
    const first = await bank.call('POST', '/transfers', body, { 'idempotency-key': key });
    expect(errorCodeOf(first)).toBe('INSUFFICIENT_FUNDS');
    await bank.fund(customer, 10n);
    const again = await bank.call('POST', '/transfers', body, { 'idempotency-key': key });
    expect(again).toEqual(first);
    expect((await bank.call('POST', '/transfers', body)).status).toBe(201);
  });

  it('refuses a malformed key', async () => {
    const answer = await bank.call('POST', '/accounts', funding, { 'idempotency-key': 'has space' });
    expect([answer.status, errorCodeOf(answer)]).toEqual([400, 'IDEMPOTENCY_KEY_INVALID']);
  });
});
