import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type GeneratedKeyPair, generateSigningKeyPair, issueKeyCertificate } from '@mpay/envelope';
import { emvCrcOf, parseTillCode } from '@mpay/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { createTillQr, type TillClaim, tillClaimOf } from '../merchant/till.ts';
import { merchantId, type Parties, parties } from '../payment-request/fixture.test-helper.ts';
import type { PaymentRequestView } from '../payment-request/verify.ts';
import { awaitTillRequest, claimTill, readTillQr, requestMatchesOffer, type TillOffer } from './till.ts';

/**
 * The till and the wallet through the SDK, against a stand-in FSP on
 * loopback (GET /fsp, GET /parties/:id, POST /m-trade/claims) whose answers
 * the tests choose: real HTTP, real keys, real signatures.
 */

const customerId = 'john.bernard@person.xbank';
const checker = fileURLToPath(new URL('../../../../docs/verify-emvqr.py', import.meta.url));
const run = promisify(execFile);

let setup: Parties;
let device: GeneratedKeyPair;
let server: Server;
let url: string;
/** What GET /parties/:id answers, by merchant id; anything else is 404 PARTY_UNKNOWN. */
let registry: Map<string, { status: number; body: unknown }>;
let requests: { method: string; path: string; body: string; authorization: string | undefined }[];

/** The name the stand-in FSP certifies for its merchants. */
const certifiedName = 'Merkur Trade';

async function certificateFor(
  subject: string,
  signing: GeneratedKeyPair,
  signedBy: GeneratedKeyPair = setup.fspKeys.signing,
  /** null: a certificate that names no one (issued before names were certified). */
  name: string | null = certifiedName,
): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return issueKeyCertificate(
    {
      issuer: setup.fsp.id,
      subject,
      name: name ?? undefined,
      signingJwk: signing.publicJwk,
      encryptionJwk: setup.merchantKeys.encryption.publicJwk,
      notBefore: nowSeconds - 60,
      notAfter: nowSeconds + 86_400,
      serialNumber: `serial-${crypto.randomUUID()}`,
    },
    signedBy.privateJwk,
  );
}

async function register(id: string, signing: GeneratedKeyPair, certificate?: string): Promise<void> {
  registry.set(id, {
    status: 200,
    body: {
      id,
      kind: 'merchant',
      // Signed by no one: what a wallet must not show (the certificate names the merchant).
      displayName: 'Somebody Else Ltd',
      certificate: certificate ?? (await certificateFor(id, signing)),
    },
  });
}

beforeAll(async () => {
  setup = await parties();
  device = await generateSigningKeyPair();
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = decodeURIComponent(request.url ?? '');
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: request.method ?? '',
        path,
        body,
        authorization: request.headers.authorization,
      });
      const answer = (status: number, json: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(json));
      };
      if (path === '/fsp') return answer(200, setup.fsp);
      if (path.startsWith('/parties/')) {
        const found = registry.get(path.slice('/parties/'.length));
        return found === undefined
          ? answer(404, { error: { code: 'PARTY_UNKNOWN', message: 'No such party.' } })
          : answer(found.status, found.body);
      }
      if (path === '/m-trade/claims' && request.method === 'POST') {
        const { payload } = JSON.parse(body) as { payload: string };
        const transactionId = parseTillCode(payload).transactionId;
        return answer(201, { transactionId, status: 'claimed', claimedAt: new Date().toISOString() });
      }
      return answer(404, { error: { code: 'NOT_FOUND', message: 'No such resource.' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

beforeEach(async () => {
  registry = new Map();
  requests = [];
  await register(merchantId, setup.merchantKeys.signing);
});

const context = () => ({ gatewayUrl: url, fsp: setup.fsp });
const till = {
  merchantId,
  get signingKey() {
    return setup.merchantKeys.signing.privateJwk;
  },
};

/** The payload with its amount text replaced and the CRC made right again: what a forger can do. */
function withAmount(payload: string, from: string, to: string): string {
  const tlv = (text: string) => `54${String(text.length).padStart(2, '0')}${text}`;
  const body = payload.slice(0, -8).replace(tlv(from), tlv(to));
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

describe('createTillQr and readTillQr', () => {
  it('the wallet reads what the till signed and shows the name the FSP certified for the merchant', async () => {
    const now = new Date();
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n }, city: 'Skopje' }, now);
    const code = parseTillCode(qr.payload);
    expect(code.merchantName).toBe('merkur.trade'); // the till's own text, by default the id's name
    expect(code.keyId).toBe(setup.merchantKeys.signing.publicJwk.kid);
    const offer = await readTillQr(qr.payload, context());
    expect(offer).toEqual({
      merchantId,
      merchantName: certifiedName,
      amount: { currency: 'EUR', minor: 12_50n },
      transactionId: qr.transactionId,
      expiresAt: qr.expiresAt,
      payload: qr.payload,
    });
    expect(new Date(qr.expiresAt).getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000 + 300_000);
    // Reading sends nothing about the customer: one lookup of the merchant's certificate.
    expect(requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `GET /parties/${merchantId}`,
    ]);
  });

  it('shows the merchant’s id, flagged, when its certificate names no one; the registry’s unsigned name never', async () => {
    await register(
      merchantId,
      setup.merchantKeys.signing,
      await certificateFor(merchantId, setup.merchantKeys.signing, setup.fspKeys.signing, null),
    );
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    const offer = await readTillQr(qr.payload, context());
    expect(offer).toMatchObject({ merchantId, merchantName: merchantId, merchantNameCertified: false });
    // An answer without the unsigned name reads the same: the certificate is all the wallet needs.
    registry.set(merchantId, {
      status: 200,
      body: {
        id: merchantId,
        kind: 'merchant',
        certificate: await certificateFor(merchantId, setup.merchantKeys.signing),
      },
    });
    const named = await readTillQr(qr.payload, context());
    expect(named.merchantName).toBe(certifiedName);
    expect(named).not.toHaveProperty('merchantNameCertified');
  });

  it('also with an Ed25519 merchant key', async () => {
    const edwards = await generateSigningKeyPair('EdDSA');
    await register('kiosk@merchant.ybank', edwards);
    const qr = await createTillQr(
      { merchantId: 'kiosk@merchant.ybank', signingKey: edwards.privateJwk },
      { amount: { currency: 'JPY', minor: 999n } },
    );
    expect((await readTillQr(qr.payload, context())).amount).toEqual({ currency: 'JPY', minor: 999n });
  });

  it('refuses an amount changed after signing, though the CRC was made right (QR_SIGNATURE_INVALID)', async () => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    for (const amount of ['1.25', '125.00', '12.51']) {
      const altered = withAmount(qr.payload, '12.50', amount);
      expect(parseTillCode(altered).amount).not.toEqual({ currency: 'EUR', minor: 12_50n });
      expect(await rejectedCodeOf(readTillQr(altered, context())), amount).toBe('QR_SIGNATURE_INVALID');
    }
  });

  it('refuses a bad CRC before asking the FSP anything', async () => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    const last = qr.payload.at(-1)!;
    const bad = `${qr.payload.slice(0, -1)}${last === '0' ? '1' : '0'}`;
    expect(await rejectedCodeOf(readTillQr(bad, context()))).toBe('QR_CRC_INVALID');
    expect(requests).toEqual([]);
  });

  it('refuses codes no certified key of the merchant signed', async () => {
    const stranger = await generateSigningKeyPair();
    const forged = await createTillQr(
      { merchantId, signingKey: stranger.privateJwk },
      { amount: { currency: 'EUR', minor: 12_50n } },
    );
    expect(await rejectedCodeOf(readTillQr(forged.payload, context()))).toBe('QR_SIGNATURE_INVALID');
    // The merchant's certificate is for another subject, or signed by someone who is not the FSP.
    for (const certificate of [
      await certificateFor('other@merchant.ybank', setup.merchantKeys.signing),
      await certificateFor(merchantId, setup.merchantKeys.signing, stranger),
    ]) {
      await register(merchantId, setup.merchantKeys.signing, certificate);
      const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
      expect(await rejectedCodeOf(readTillQr(qr.payload, context()))).toBe('QR_SIGNATURE_INVALID');
    }
    // A merchant the FSP does not know, or an answer that is not the FSP's registry entry.
    registry.clear();
    const unknown = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    expect(await rejectedCodeOf(readTillQr(unknown.payload, context()))).toBe('QR_SIGNATURE_INVALID');
    registry.set(merchantId, {
      status: 200,
      body: { id: merchantId, kind: 'person', displayName: 'x', certificate: 'y' },
    });
    expect(await rejectedCodeOf(readTillQr(unknown.payload, context()))).toBe('QR_SIGNATURE_INVALID');
    // The FSP down is not a forgery: retry later.
    registry.set(merchantId, { status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE' } } });
    expect(await rejectedCodeOf(readTillQr(unknown.payload, context()))).toBe('SERVICE_UNAVAILABLE');
  });

  it('refuses an expired code (QR_EXPIRED) and one valid for too long (QR_INVALID)', async () => {
    const old = await createTillQr(
      till,
      { amount: { currency: 'EUR', minor: 12_50n }, expiresInSeconds: 60 },
      new Date(Date.now() - 10 * 60_000),
    );
    expect(await rejectedCodeOf(readTillQr(old.payload, context()))).toBe('QR_EXPIRED');
    const future = await createTillQr(
      till,
      { amount: { currency: 'EUR', minor: 12_50n }, expiresInSeconds: 900 },
      new Date(Date.now() + 10 * 60_000),
    );
    expect(await rejectedCodeOf(readTillQr(future.payload, context()))).toBe('QR_INVALID');
    expect(requests).toEqual([]);
  });

  it('refuses till inputs it cannot encode', async () => {
    for (const expiresInSeconds of [0, -1, 1.5, 901]) {
      expect(
        await rejectedCodeOf(
          createTillQr(till, { amount: { currency: 'EUR', minor: 1n }, expiresInSeconds }),
        ),
      ).toBe('QR_INVALID');
    }
    expect(
      await rejectedCodeOf(
        createTillQr(till, { amount: { currency: 'EUR', minor: 1n }, city: 'x'.repeat(16) }),
      ),
    ).toBe('QR_INVALID');
    expect(await rejectedCodeOf(createTillQr(till, { amount: { currency: 'EUR', minor: 0n } }))).toBe(
      'AMOUNT_INVALID',
    );
  });

  it('property: any one character of a signed code changed is refused with a QR code', async () => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    const characters = Array.from(qr.payload);
    const refusals = new Set([
      'QR_INVALID',
      'QR_CRC_INVALID',
      'QR_SIGNATURE_INVALID',
      'QR_UNSUPPORTED',
      'QR_EXPIRED',
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: characters.length - 1 }),
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme-ascii' }),
          fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
        ),
        async (position, replacement) => {
          fc.pre(characters[position] !== replacement);
          const changed = [...characters];
          changed[position] = replacement;
          const code = await rejectedCodeOf(readTillQr(changed.join(''), context()));
          expect(refusals, `${position}: ${JSON.stringify(replacement)} → ${code}`).toContain(code);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a code with its CRC made right after any one character changed still fails its signature', async () => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    const body = Array.from(qr.payload.slice(0, -8));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: body.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme-ascii' }),
        async (position, replacement) => {
          fc.pre(body[position] !== replacement);
          const changed = [...body];
          changed[position] = replacement;
          const text = `${changed.join('')}6304`;
          const code = await rejectedCodeOf(readTillQr(`${text}${emvCrcOf(text)}`, context()));
          expect(['QR_INVALID', 'QR_SIGNATURE_INVALID', 'QR_UNSUPPORTED', 'QR_EXPIRED']).toContain(code);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('claimTill', () => {
  it('sends an offer readTillQr verified, signed as the device, and nothing else', async () => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n } });
    const offer = await readTillQr(qr.payload, context());
    const claimed = await claimTill(offer, { ...context(), partyId: customerId, key: device.privateJwk });
    expect(claimed).toMatchObject({ transactionId: qr.transactionId, status: 'claimed' });
    const post = requests.find((request) => request.method === 'POST');
    expect(post).toMatchObject({ path: '/m-trade/claims', body: JSON.stringify({ payload: qr.payload }) });
    expect(post?.authorization).toMatch(/^MPay ey/);

    requests = [];
    const handMade: TillOffer = { ...offer, amount: { currency: 'EUR', minor: 1n } };
    const refused = await rejectedCodeOf(
      claimTill(handMade, { ...context(), partyId: customerId, key: device.privateJwk }),
    );
    expect(refused).toBe('QR_SIGNATURE_INVALID');
    expect(requests).toEqual([]);
  });
});

describe('matching the till’s payment request to the offer', () => {
  const offer: TillOffer = {
    merchantId,
    merchantName: 'Merkur Trade',
    amount: { currency: 'EUR', minor: 12_50n },
    transactionId: '0b6f1c1e-6f0a-4c43-9a57-3f1b0d2c9e11',
    expiresAt: new Date().toISOString(),
    payload: '',
  };
  const view = (change: Partial<PaymentRequestView> = {}): PaymentRequestView =>
    ({
      paymentId: offer.transactionId,
      merchant: { id: merchantId, name: 'Merkur Trade' },
      amount: { currency: 'EUR', value: '12.50', minor: 12_50n },
      procedure: 'm-trade',
      ...change,
    }) as PaymentRequestView;

  it('matches only the same transaction, payee and amount, as m-trade', () => {
    expect(requestMatchesOffer(view(), offer)).toBe(true);
    expect(requestMatchesOffer(view({ paymentId: crypto.randomUUID() }), offer)).toBe(false);
    expect(
      requestMatchesOffer(view({ merchant: { id: 'other@merchant.ybank', name: 'Merkur Trade' } }), offer),
    ).toBe(false);
    expect(
      requestMatchesOffer(view({ amount: { currency: 'EUR', value: '12.51', minor: 12_51n } }), offer),
    ).toBe(false);
    expect(
      requestMatchesOffer(view({ amount: { currency: 'USD', value: '12.50', minor: 12_50n } }), offer),
    ).toBe(false);
    expect(requestMatchesOffer(view({ procedure: 'm-commerce' }), offer)).toBe(false);
  });

  it('waits past other requests; a request with the offer’s id that differs is TRADE_CLAIM_MISMATCH', async () => {
    async function* stream(...views: PaymentRequestView[]) {
      yield* views;
    }
    const other = view({ paymentId: crypto.randomUUID() });
    expect(await awaitTillRequest(stream(other, view()), offer)).toEqual(view());
    const wrong = view({ amount: { currency: 'EUR', value: '99.00', minor: 99_00n } });
    expect(await rejectedCodeOf(awaitTillRequest(stream(other, wrong, view()), offer))).toBe(
      'TRADE_CLAIM_MISMATCH',
    );
    expect(await rejectedCodeOf(awaitTillRequest(stream(other), offer))).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('tillClaimOf', () => {
  it('reads exactly the claim the FSP sends', () => {
    const claim = {
      transactionId: crypto.randomUUID(),
      customer: customerId,
      amount: { currency: 'EUR', minor: '1250' },
      claimedAt: new Date().toISOString(),
    };
    const read: TillClaim = tillClaimOf({ event: 'trade.claimed', claim });
    expect(read).toEqual({ ...claim, amount: { currency: 'EUR', minor: 12_50n } });
    for (const broken of [
      { ...claim, extra: 1 },
      { ...claim, amount: { currency: 'EUR', minor: 1250 } },
      { ...claim, amount: { currency: 'EUR', minor: '1250', value: '12.50' } },
      { ...claim, customer: undefined },
    ]) {
      expect(() => tillClaimOf({ event: 'trade.claimed', claim: broken })).toThrow(
        expect.objectContaining({ code: 'MESSAGE_INVALID' }),
      );
    }
    expect(() => tillClaimOf({ event: 'payment.updated', payment: {} })).toThrow(
      expect.objectContaining({ code: 'MESSAGE_INVALID' }),
    );
  });
});

describe('the independent checker (docs/verify-emvqr.py, Python standard library)', () => {
  const python = async (...args: string[]) => {
    try {
      const { stdout } = await run('python3', [checker, ...args], { timeout: 60_000 });
      return { status: 0, stdout };
    } catch (error) {
      const failed = error as { code?: number | string; stdout?: string };
      if (failed.code === 'ENOENT') return undefined;
      return { status: Number(failed.code), stdout: failed.stdout ?? '' };
    }
  };

  it('decodes the code, checks its CRC and verifies the merchant signature under the FSP’s certificate', async (test) => {
    const qr = await createTillQr(till, { amount: { currency: 'EUR', minor: 12_50n }, city: 'Skopje' });
    const checked = await python(qr.payload, '--gateway', url);
    if (checked === undefined) return test.skip('python3 is not installed');
    expect(checked.status, checked.stdout).toBe(0);
    expect(checked.stdout).toContain('OK EMV structure and CRC');
    expect(checked.stdout).toContain(`amount (54, 53): EUR 12.50 = 1250 minor units`);
    expect(checked.stdout).toContain(`payee ${merchantId}, transaction id ${qr.transactionId}`);
    expect(checked.stdout).toContain('OK merchant signature (ES256)');

    const altered = await python(withAmount(qr.payload, '12.50', '1.25'), '--gateway', url);
    expect(altered?.status).toBe(1);
    expect(altered?.stdout).toContain("REFUSED: the merchant's signature does not verify");
    const badCrc = await python(`${qr.payload.slice(0, -1)}${qr.payload.endsWith('0') ? '1' : '0'}`);
    expect(badCrc?.status).toBe(1);
    expect(badCrc?.stdout).toContain('REFUSED: CRC mismatch');
  });

  it('agrees with the EMVCo vectors', async (test) => {
    const vectors = JSON.parse(
      await import('node:fs/promises').then((fs) =>
        fs.readFile(new URL('../../../../test/vectors/emvqr/samples.json', import.meta.url), 'utf8'),
      ),
    ) as { valid: { payload: string }[]; invalid: { payload: string }[] };
    for (const { payload } of vectors.valid) {
      const checked = await python(payload);
      if (checked === undefined) return test.skip('python3 is not installed');
      expect(checked.status, checked.stdout).toBe(0);
    }
    for (const { payload } of vectors.invalid) expect((await python(payload))?.status).toBe(1);
  });
});
