import {
  decodeUnverified,
  decryptCompact,
  decryptDirect,
  decryptWith,
  encodeBase64url,
  encryptDirect,
  encryptTo,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  importPublicKey,
  issueKeyBinding,
  issueKeyCertificate,
  keyResolverFromJwkSet,
  parsePublicJwk,
  signPayload,
  verifyKeyBinding,
  verifyKeyCertificate,
  verifyPayload,
} from '@mpay/envelope';
import fc from 'fast-check';
import { type Campaign, campaign, runEach } from '../harness.ts';
import { type Json, jsonInputs, mutatedText, textInputs } from '../mutate.ts';
import { canonicalText, type JwsInput, jwsInputs, jwsOf, segmentsOf } from './jws.ts';

/** The clock every seed was signed at and every verifier reads: cases do not depend on the date. */
const nowSeconds = 1_893_456_000; // 2030-01-01
const now = () => nowSeconds * 1000;
const daySeconds = 86_400;

const jwsCompact = campaign(
  'jws-compact',
  'verifyPayload (length limit, base64url, header policy, key lookup, signature, canonical payload, claims) and decodeUnverified',
  async () => {
    const es256 = await generateSigningKeyPair();
    const eddsa = await generateSigningKeyPair('EdDSA');
    const claims = {
      issuer: 'merkur.trade@merchant.ybank',
      audience: 'fsp.mpay',
      transactionId: 'txn-1',
      expiresInSeconds: 300,
      now,
    };
    const seeds = await Promise.all([
      signPayload({ ims: { amount: '1000.00', list: [1, 2, { a: null }] } }, claims, es256.privateJwk),
      signPayload({ decline: 'eyJ.e30.sig', text: 'caf\u00e9 \u{1f600}' }, claims, eddsa.privateJwk),
    ]);
    const resolve = keyResolverFromJwkSet({ keys: [es256.publicJwk, eddsa.publicJwk] });
    return {
      arbitrary: fc.record({
        input: jwsInputs(seeds, ['ES256', 'EdDSA', 'none', 'mpay+jws', 'kid']),
        eddsa: fc.boolean(),
      }),
      run: async ({ input, eddsa: useEddsa }: { input: JwsInput; eddsa: boolean }) => {
        const jws = await jwsOf(input, useEddsa ? eddsa.privateJwk : es256.privateJwk);
        decodeUnverified(jws);
        return verifyPayload(jws, resolve, { audience: 'fsp.mpay', issuer: claims.issuer }, { now });
      },
    };
  },
);

type JweInput =
  | { readonly kind: 'text'; readonly jwe: string }
  | { readonly kind: 'header'; readonly header: string; readonly seed: number };

function jweInputs(seeds: readonly string[]): fc.Arbitrary<JweInput> {
  const headers = seeds.map((jwe) => segmentsOf(jwe).header);
  const headerValues = headers.map((header) => JSON.parse(header) as Json);
  const tokens = ['ECDH-ES', 'ECDH-ES+A256KW', 'dir', 'A256GCM', 'epk', 'P-256', 'zip', 'DEF', 'crit'];
  return fc.oneof(
    {
      weight: 4,
      arbitrary: textInputs(seeds, { tokens: [...tokens, '.', 'eyJ'] }).map((jwe) => ({
        kind: 'text' as const,
        jwe,
      })),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('header' as const),
        header: fc.oneof(
          jsonInputs(headerValues, tokens).map(canonicalText),
          mutatedText(headers, { tokens }),
        ),
        seed: fc.nat({ max: seeds.length - 1 }),
      }),
    },
  );
}

/** A case's compact JWE: as given, or a seed with its protected header replaced. */
function jweOf(input: JweInput, seeds: readonly string[]): string {
  if (input.kind === 'text') return input.jwe;
  const [, ...rest] = (seeds[input.seed] ?? '').split('.');
  return [encodeBase64url(new TextEncoder().encode(input.header)), ...rest].join('.');
}

const jweCompact = campaign(
  'jwe-compact',
  'decryptWith, decryptCompact (ECDH-ES, ECDH-ES+A256KW) and decryptDirect (dir): header rules, key choice, AES-GCM',
  async () => {
    const ecdh = await generateEncryptionKeyPair();
    const wrapped = await generateEncryptionKeyPair('ECDH-ES+A256KW');
    const sessionKey = new Uint8Array(32).fill(7);
    const seeds = await Promise.all([
      encryptTo('{"ims":{"type":"small"}}', ecdh.publicJwk, { contentType: 'mpay+jws' }),
      encryptTo(new Uint8Array([0, 1, 2, 255]), wrapped.publicJwk),
      encryptDirect('private data', sessionKey, { kid: 'session-1' }),
      encryptDirect('', sessionKey),
    ]);
    return {
      arbitrary: fc.record({ input: jweInputs(seeds), decrypter: fc.nat({ max: 2 }) }),
      run: async ({ input, decrypter }: { input: JweInput; decrypter: number }) => {
        const jwe = jweOf(input, seeds);
        if (decrypter === 0) return decryptWith(jwe, [ecdh.privateJwk, wrapped.privateJwk]);
        if (decrypter === 1) return decryptCompact(jwe, ecdh.privateJwk);
        return decryptDirect(jwe, sessionKey, { kid: 'session-1' });
      },
    };
  },
);

const keyDocuments = campaign(
  'key-certificate',
  'verifyKeyCertificate and verifyKeyBinding (signed key documents: members, keys, validity, revocation)',
  async () => {
    const issuer = await generateSigningKeyPair();
    const signing = await generateSigningKeyPair('EdDSA');
    const encryption = await generateEncryptionKeyPair();
    const validity = { notBefore: nowSeconds - daySeconds, notAfter: nowSeconds + 365 * daySeconds, now };
    const certificate = await issueKeyCertificate(
      {
        issuer: 'gateway',
        subject: 'john.bernard@person.xbank',
        signingJwk: signing.publicJwk,
        encryptionJwk: encryption.publicJwk,
        serialNumber: 'c-000001',
        ...validity,
      },
      issuer.privateJwk,
    );
    const binding = await issueKeyBinding(
      {
        issuer: 'xbank',
        subject: 'john.bernard@person.xbank',
        deviceId: 'phone-1',
        accounts: ['0a1b2c3d-0000-4000-8000-000000000002', '0a1b2c3d-0000-4000-8000-000000000001'],
        signingJwk: signing.publicJwk,
        encryptionJwk: encryption.publicJwk,
        serialNumber: 'kb-000001',
        ...validity,
      },
      issuer.privateJwk,
    );
    const resolve = keyResolverFromJwkSet({ keys: [issuer.publicJwk] });
    const options = { isRevoked: (serial: string) => serial === 'revoked', now };
    return {
      arbitrary: jwsInputs(
        [certificate, binding],
        ['kty', 'crv', 'EC', 'OKP', 'Ed25519', 'sig', 'enc', 'revoked'],
      ),
      run: async (input: JwsInput) => {
        const jws = await jwsOf(input, issuer.privateJwk);
        await runEach([
          () => verifyKeyCertificate(jws, resolve, options),
          () => verifyKeyBinding(jws, resolve, options),
        ]);
      },
    };
  },
);

const publicJwk = campaign(
  'public-jwk',
  'parsePublicJwk, importPublicKey and keyResolverFromJwkSet (keys registered by merchants, banks and devices)',
  async () => {
    const keys = await Promise.all([
      generateSigningKeyPair(),
      generateSigningKeyPair('EdDSA'),
      generateEncryptionKeyPair(),
      generateEncryptionKeyPair('ECDH-ES+A256KW'),
    ]);
    const seeds = keys.map((key) => key.publicJwk as unknown as Json);
    return {
      arbitrary: fc.record({
        value: fc.oneof(
          jsonInputs(seeds, ['EC', 'OKP', 'P-256', 'Ed25519', 'ES256', 'sig']),
          jsonInputs([{ keys: seeds }]),
        ),
        kid: fc.constantFrom(...keys.map((key) => key.kid), 'unknown'),
      }),
      run: async ({ value, kid }: { value: Json; kid: string }) => {
        await runEach([
          () => parsePublicJwk(value),
          () => importPublicKey(value),
          () => keyResolverFromJwkSet(value)(kid),
        ]);
      },
    };
  },
);

export const envelopeCampaigns: readonly Campaign[] = [jwsCompact, jweCompact, keyDocuments, publicJwk];
