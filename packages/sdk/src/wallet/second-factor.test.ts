import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  answerKeyOf,
  decryptWith,
  encodeBase64url,
  encryptAnswer,
  encryptTo,
  encryptToWithAnswerKey,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  attachPayload,
  canonicalBytes,
  consentPayload,
  customerSignedContent,
  defaultSecurityPolicy,
  errorCategoryOf,
  parseDetachedConsent,
} from '@mpay/protocol';
import { HOTP, Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { type FakeCustody, startFakeCustody } from '../custody/fake-custody.test-helper.ts';
import {
  customerId,
  type Parties,
  parties,
  paymentRequestPush,
} from '../payment-request/fixture.test-helper.ts';
import {
  createKeystore,
  type DeviceKeyPairs,
  unwrapKeystore,
  type WalletKeystoreData,
  wrapKeystore,
} from './keystore.ts';
import vectors from './rfc4226-rfc6238.vectors.json' with { type: 'json' };
import {
  authenticatorCode,
  authenticatorContentType,
  openAuthenticator,
  sealSecondFactor,
  secondFactorContentType,
} from './second-factor.ts';
import { Wallet } from './wallet.ts';

let bank: GeneratedKeyPair;

beforeAll(async () => {
  bank = await generateEncryptionKeyPair();
});

const protectedHeaderOf = (jwe: string) =>
  JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('sealSecondFactor', () => {
  it('seals { code, transactionId, payerId } to the bank key alone, naming what it is', async () => {
    const input = { code: '287082', transactionId: crypto.randomUUID(), payerId: customerId };
    const jwe = await sealSecondFactor(input, bank.publicJwk);
    expect(protectedHeaderOf(jwe)).toMatchObject({
      alg: 'ECDH-ES',
      enc: 'A256GCM',
      kid: bank.kid,
      cty: secondFactorContentType,
    });
    const plaintext = await decryptWith(jwe, [bank.privateJwk]);
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual(input);
    const other = await generateEncryptionKeyPair();
    expect(await rejectedCodeOf(decryptWith(jwe, [other.privateJwk]))).toBe('CRYPTO_DECRYPTION_FAILED');
    // Two seals of one code differ (fresh ephemeral key and IV): a sealed code says nothing about another.
    expect(await sealSecondFactor(input, bank.publicJwk)).not.toBe(jwe);
  });
});

describe('the authenticator (standing for the customer’s authenticator app)', () => {
  const { totp } = vectors;
  const secrets = totp.secrets_ascii as Record<string, string>;

  it.each(totp.values)(
    'shows the RFC 6238 code $otp at $unix_time ($algorithm)',
    ({ unix_time, algorithm, otp }) => {
      const uri = new TOTP({
        issuer: 'xbank',
        label: customerId,
        secret: Secret.fromLatin1(secrets[algorithm]!),
        algorithm,
        digits: totp.digits,
        period: totp.step_seconds,
      }).toString();
      expect(authenticatorCode(uri, new Date(unix_time * 1000))).toBe(otp);
    },
  );

  it('refuses what is not a TOTP Key URI', () => {
    const hotp = new HOTP({ secret: Secret.fromLatin1(vectors.hotp.secret_ascii) }).toString();
    for (const notTotp of [hotp, 'otpauth://totp/', 'https://example.invalid/', '']) {
      expect(() => authenticatorCode(notTotp), notTotp).toThrow(
        expect.objectContaining({ code: 'REQUEST_INVALID' }),
      );
    }
  });

  it('is opened from the enrolment answer only by the device, only for its party', async () => {
    const device = await generateEncryptionKeyPair();
    const uri = new TOTP({ issuer: 'xbank', label: customerId, secret: new Secret() }).toString();
    const seal = (content: unknown, contentType = authenticatorContentType) =>
      encryptTo(JSON.stringify(content), device.publicJwk, { contentType });
    expect(
      await openAuthenticator(await seal({ partyId: customerId, uri }), device.privateJwk, customerId),
    ).toBe(uri);
    const other = await generateEncryptionKeyPair();
    const refused = [
      [await seal({ partyId: customerId, uri }), other.privateJwk, customerId],
      [await seal({ partyId: customerId, uri }), device.privateJwk, 'eve@person.xbank'],
      [await seal({ partyId: customerId, uri, extra: 1 }), device.privateJwk, customerId],
      [
        await seal({ partyId: customerId, uri: 'otpauth://hotp/x?secret=AAAA' }),
        device.privateJwk,
        customerId,
      ],
    ] as const;
    for (const [jwe, key, party] of refused) {
      expect(await rejectedCodeOf(openAuthenticator(jwe, key, party))).toBe('CRYPTO_DECRYPTION_FAILED');
    }
  });
});

describe('the bank key in the keystore', () => {
  let keys: DeviceKeyPairs;
  const exportKey = Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64url');
  const pinServer = {
    url: 'http://custody.invalid',
    custodyId: 'custody.test',
    credentialId: 'credential-1',
  };

  beforeAll(async () => {
    keys = { signing: await generateSigningKeyPair('ES256'), encryption: await generateEncryptionKeyPair() };
  });

  it('is kept beside the keys and authenticated with them: a file whose bank key was swapped does not unlock', async () => {
    const keystore = await wrapKeystore(
      { partyId: customerId, keys, binding: 'binding.jws', bankEncryptionJwk: bank.publicJwk, pinServer },
      exportKey,
    );
    expect(keystore.bankEncryptionJwk).toEqual(bank.publicJwk);
    await unwrapKeystore(structuredClone(keystore), exportKey);
    const attacker = await generateEncryptionKeyPair();
    const swapped = { ...keystore, bankEncryptionJwk: attacker.publicJwk };
    expect(await rejectedCodeOf(unwrapKeystore(swapped, exportKey))).toBe('CRYPTO_KEY_INVALID');
    const { bankEncryptionJwk: _, ...dropped } = keystore;
    expect(await rejectedCodeOf(unwrapKeystore(dropped as WalletKeystoreData, exportKey))).toBe(
      'CRYPTO_KEY_INVALID',
    );
    const signingKey = { ...keystore, bankEncryptionJwk: keys.signing.publicJwk };
    expect(await rejectedCodeOf(unwrapKeystore(signingKey, exportKey))).toBe('CRYPTO_KEY_INVALID');
  });
});

describe('Wallet.confirm at the large level', () => {
  const pin = '2468';
  let custody: FakeCustody;
  let setup: Parties;
  let keystore: WalletKeystoreData;
  let gateway: Server;
  let gatewayUrl: string;
  /** What the stand-in gateway received: the customer-signed iMS message, decrypted. */
  const confirmations: unknown[] = [];
  /** Who the stand-in signs the receipt as (another than the FSP: a receipt that does not verify). */
  let receiptIssuer: string | undefined;
  /**
   * How the stand-in answers `?receipt=`: `ignores` the whole JWS encrypted to the device's key whatever is
   * asked (an FSP that ignores the parameter); `older` refuses v3 with REQUEST_INVALID as a gateway before v3
   * did, answering v2 like `ignores`; `v3` under the confirmation's answer key; `wrong-key` under another key.
   */
  let answerMode: 'ignores' | 'older' | 'v3' | 'wrong-key' = 'ignores';
  /** The `receipt` parameter of every confirmation the stand-in received. */
  const asked: string[] = [];

  beforeAll(async () => {
    custody = await startFakeCustody();
    setup = await parties();
    const keys = {
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    };
    keystore = await createKeystore({
      partyId: customerId,
      pin,
      keys,
      binding: 'bank.binding.jws',
      bankEncryptionJwk: bank.publicJwk,
      pinServer: { url: custody.url, custodyId: custody.trust.id },
    });
    // The FSP's side of iMS steps 5 and 10: decrypts the confirmation, answers an FSP-signed receipt.
    gateway = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', async () => {
        const [, paymentId = '', form = ''] =
          /^\/payments\/([^/?]+)\/confirmation\?receipt=(v\d)$/.exec(request.url ?? '') ?? [];
        asked.push(form);
        if (answerMode === 'older' && form === 'v3') {
          const refusal = {
            error: {
              code: 'REQUEST_INVALID',
              message: 'querystring/receipt must be equal to one of the allowed values',
            },
          };
          response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(refusal));
          return;
        }
        const jwe = Buffer.concat(chunks).toString('utf8');
        const plaintext = await decryptWith(jwe, [setup.fspKeys.encryption.privateJwk]);
        confirmations.push(JSON.parse(new TextDecoder().decode(plaintext)).consent);
        const receipt = await signPayload(
          { receipt: { paymentId, status: 'completed' } },
          {
            issuer: receiptIssuer ?? setup.fsp.id,
            audience: customerId,
            transactionId: paymentId,
            expiresInSeconds: 600,
          },
          setup.fspKeys.signing.privateJwk,
        );
        const otherKey = (
          await encryptToWithAnswerKey('another confirmation', setup.fspKeys.encryption.publicJwk)
        ).answerKey;
        const sealed =
          answerMode === 'v3'
            ? await encryptAnswer(receipt, await answerKeyOf(jwe, setup.fspKeys.encryption.privateJwk))
            : answerMode === 'wrong-key'
              ? await encryptAnswer(receipt, otherKey)
              : await encryptTo(receipt, keystore.encryptionPublicJwk);
        const body = JSON.stringify({ status: 'completed', receipt: sealed });
        response.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => gateway?.close(resolve));
    await custody?.close();
  });

  /** A verified payment request, shown as large (the wallet reads the level's protections from the message). */
  async function largeRequest(session: Wallet) {
    const { push } = await paymentRequestPush(setup);
    const view = await session.openPaymentRequest(
      await encryptTo(JSON.stringify(push), keystore.encryptionPublicJwk),
    );
    return {
      ...view,
      message: {
        ...view.message,
        type: 'large' as const,
        protections: defaultSecurityPolicy.levels.large,
        // At a sealing level no account and no description travel in clear.
        data: { amount: view.message.data.amount },
      },
    };
  }

  it('without the code: SECOND_FACTOR_REQUIRED, and nothing is signed or sent', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    const request = await largeRequest(session);
    const sent = confirmations.length;
    expect(await rejectedCodeOf(session.confirm(request, pin))).toBe('SECOND_FACTOR_REQUIRED');
    expect(confirmations).toHaveLength(sent);
  });

  it('with the code: sealed to the bank for this payment, inside what the customer signs', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    const request = await largeRequest(session);
    const receipt = await session.confirm(request, pin, { secondFactorCode: '359152' });
    expect(receipt.payload).toMatchObject({ receipt: { paymentId: request.paymentId } });
    // consent/v1: the signature with its payload detached, the three claims and the sealed code.
    const sent = confirmations.at(-1);
    const consent = parseDetachedConsent(sent);
    const secondFactor = consent.secondFactor ?? '';
    // The FSP's side: the payload re-attached, byte for byte, from the message it sent plus the sealed code.
    const message = {
      ...request.message,
      address: { ...request.message.address, from: { ...request.message.address.from, secondFactor } },
    };
    const payload = consentPayload(
      customerSignedContent(message),
      { iss: customerId, aud: setup.fsp.id, txn: request.paymentId },
      consent,
    );
    const sign = attachPayload(consent, encodeBase64url(canonicalBytes(payload)));
    const opened = JSON.parse(new TextDecoder().decode(await decryptWith(secondFactor, [bank.privateJwk])));
    expect(opened).toEqual({ code: '359152', transactionId: request.paymentId, payerId: customerId });
    // The customer's signature covers the sealed code: the FSP cannot swap it.
    const signed = await verifyPayload(
      sign,
      (kid) => (kid === keystore.signingPublicJwk.kid ? keystore.signingPublicJwk : undefined),
      { issuer: customerId, audience: setup.fsp.id, transactionId: request.paymentId },
    );
    expect(signed.payload).toMatchObject({
      type: 'large',
      address: { from: { id: customerId, secondFactor } },
    });
    // A resend is the same confirmation, byte for byte, with no code asked again.
    await session.confirm(request, pin);
    expect(confirmations.at(-1)).toEqual(sent);
  });

  it('asks for receipt/v3 and opens an answer under its confirmation’s answer key, or one to its own key', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    for (const mode of ['v3', 'ignores'] as const) {
      answerMode = mode;
      const request = await largeRequest(session);
      asked.length = 0;
      const receipt = await session.confirm(request, pin, { secondFactorCode: '359152' });
      expect(receipt.payload, mode).toMatchObject({ receipt: { paymentId: request.paymentId } });
      expect(asked, mode).toEqual(['v3']);
    }
    answerMode = 'ignores';
  });

  it('asks again for receipt/v2 with the same confirmation when an older gateway refuses v3', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    answerMode = 'older';
    const request = await largeRequest(session);
    asked.length = 0;
    const sent = confirmations.length;
    const receipt = await session.confirm(request, pin, { secondFactorCode: '359152' });
    expect(receipt.payload).toMatchObject({ receipt: { paymentId: request.paymentId } });
    expect(asked).toEqual(['v3', 'v2']);
    // Refused before anything was read: the stand-in decrypted one confirmation, the v2 one.
    expect(confirmations).toHaveLength(sent + 1);
    answerMode = 'ignores';
  });

  it('an answer under another answer key is RECEIPT_UNVERIFIED, never a refusal', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    answerMode = 'wrong-key';
    const request = await largeRequest(session);
    const code = await rejectedCodeOf(session.confirm(request, pin, { secondFactorCode: '359152' }));
    answerMode = 'ignores';
    expect(code).toBe('RECEIPT_UNVERIFIED');
  });

  it('a small payment needs no code and carries none', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    const { push } = await paymentRequestPush(setup);
    const request = await session.openPaymentRequest(
      await encryptTo(JSON.stringify(push), keystore.encryptionPublicJwk),
    );
    await session.confirm(request, pin, { secondFactorCode: '359152' });
    const consent = parseDetachedConsent(confirmations.at(-1));
    expect(consent).not.toHaveProperty('secondFactor');
  });

  it('a receipt that does not verify once the FSP answered completed is RECEIPT_UNVERIFIED (retryable), never a refusal', async () => {
    const session = new Wallet({ gatewayUrl, keystore: structuredClone(keystore), fsp: setup.fsp });
    await session.unlock(pin);
    const { push } = await paymentRequestPush(setup);
    const request = await session.openPaymentRequest(
      await encryptTo(JSON.stringify(push), keystore.encryptionPublicJwk),
    );
    receiptIssuer = 'someone.else';
    try {
      const failure: unknown = await session.confirm(request, pin).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'RECEIPT_UNVERIFIED', detail: request.paymentId });
      expect(errorCategoryOf('RECEIPT_UNVERIFIED')).toBe('retryable');
    } finally {
      receiptIssuer = undefined;
    }
  });
});
