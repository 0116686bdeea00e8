import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, parseJsonObject } from '../encoding.ts';
import { signCanonical } from '../jws/sign.ts';
import type { GeneratedKeyPair } from '../keys/generate.ts';
import { resolverFor, T0_SECONDS } from '../test-support/fixtures.ts';
import { at, certificateFixture } from './fixture.test-helper.ts';
import { issueKeyCertificate, type KeyCertificateRequest } from './issue.ts';
import { CERTIFICATE_TYPE, CERTIFIED_NAME_LENGTH_MAX } from './payload.ts';
import { verifyKeyCertificate } from './verify.ts';

let fsp: GeneratedKeyPair;
let request: KeyCertificateRequest;
let unnamed: string;

beforeAll(async () => {
  ({ fsp, request, certificate: unnamed } = await certificateFixture());
});

const verifyAtT0 = (certificate: string) =>
  verifyKeyCertificate(certificate, resolverFor(fsp.publicJwk), at(T0_SECONDS));

/** The signed members of a certificate for `request`, as an FSP would sign them by hand. */
const contentOf = (name: unknown) => ({
  iss: request.issuer,
  sub: request.subject,
  iat: T0_SECONDS,
  nbf: request.notBefore,
  exp: request.notAfter,
  serialNumber: 'c-name',
  signingJwk: request.signingJwk,
  encryptionJwk: request.encryptionJwk,
  name,
});

/** Names no certificate may carry: each shows one thing a wallet could be made to display wrongly. */
const refusedNames: readonly [string, string][] = [
  ['empty', ''],
  ['only a space', ' '],
  ['leading space', ' Merkur Trade'],
  ['trailing space', 'Merkur Trade '],
  ['NUL', 'Merkur\u0000Trade'],
  ['line feed', 'Merkur\nTrade'],
  ['tab', 'Merkur\tTrade'],
  ['DEL', 'Merkur\u007fTrade'],
  ['C1 next line', 'Merkur\u0085Trade'],
  ['right-to-left override', 'Merkur \u202eedarT'],
  ['left-to-right embedding', 'Merkur \u202aTrade'],
  ['pop directional formatting', 'Merkur\u202c Trade'],
  ['right-to-left isolate', 'Merkur \u2067Trade\u2069'],
  ['right-to-left mark', 'Merkur\u200f Trade'],
  ['Arabic letter mark', 'Merkur\u061c Trade'],
  ['line separator', 'Merkur\u2028Trade'],
  ['zero width space', 'Merkur\u200bTrade'],
  ['byte order mark', '\ufeffMerkur Trade'],
  ['non-character', 'Merkur\uffffTrade'],
  ['unpaired surrogate', 'Merkur\ud800Trade'],
  ['one code unit too long', 'M'.repeat(CERTIFIED_NAME_LENGTH_MAX + 1)],
];

describe('the certified display name of a key certificate', () => {
  it('is signed into the certificate and returned by verify, in any script', async () => {
    for (const name of [
      'Merkur Trade',
      'Кафе „Меркур“',
      'مقهى الزاوية',
      'Chef 👩‍🍳 & Co.',
      'M'.repeat(CERTIFIED_NAME_LENGTH_MAX),
    ]) {
      const certificate = await issueKeyCertificate({ ...request, name }, fsp.privateJwk);
      const payload = parseJsonObject(decodeBase64url(certificate.split('.')[1]!)!);
      expect(payload?.name, name).toBe(name);
      const verified = await verifyAtT0(certificate);
      expect(verified.name, name).toBe(name);
      expect(verified.subject).toBe(request.subject);
    }
  });

  it('is absent from a certificate issued without one, which still verifies (certificates issued before names)', async () => {
    const payload = parseJsonObject(decodeBase64url(unnamed.split('.')[1]!)!);
    expect(payload).not.toHaveProperty('name');
    const verified = await verifyAtT0(unnamed);
    expect(verified.name).toBeUndefined();
    expect(verified).not.toHaveProperty('name');
    expect(verified.subject).toBe(request.subject);
  });

  it('is refused at issue when it has a control, bidi or invisible character, blanks at an end, or is too long', async () => {
    for (const [why, name] of refusedNames) {
      const refused = await issueKeyCertificate({ ...request, name }, fsp.privateJwk).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isMpayError(refused, 'REQUEST_INVALID'), why).toBe(true);
    }
  });

  it('makes a certificate the FSP signed by hand invalid when it breaks the rule or is not a string', async () => {
    // The same content with a good name verifies: what fails below is the name alone.
    await expect(
      verifyAtT0(await signCanonical(contentOf('Merkur Trade'), fsp.privateJwk, CERTIFICATE_TYPE)),
    ).resolves.toMatchObject({ name: 'Merkur Trade' });
    const notStrings: readonly [string, unknown][] = [
      ['null', null],
      ['number', 7],
      ['array', ['Merkur Trade']],
      ['object', { text: 'Merkur Trade' }],
    ];
    // A lone surrogate has no canonical JSON: no certificate can even be signed with one.
    const signable = refusedNames.filter(([why]) => why !== 'unpaired surrogate');
    for (const [why, name] of [...signable, ...notStrings]) {
      const signed = await signCanonical(contentOf(name), fsp.privateJwk, CERTIFICATE_TYPE);
      const refused = await verifyAtT0(signed).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isMpayError(refused, 'CERTIFICATE_INVALID'), why).toBe(true);
    }
  });

  it('is accepted at issue exactly when a certificate carrying it verifies (one rule on both sides)', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.string({
        unit: fc.constantFrom('a', ' ', '\u202e', '\u0007', '\u00e9', '\ud83d', '\ude00'),
        maxLength: 8,
      }),
    );
    await fc.assert(
      fc.asyncProperty(text, async (name) => {
        const issued = await issueKeyCertificate({ ...request, name }, fsp.privateJwk).catch(
          (error: unknown) => {
            if (!isMpayError(error, 'REQUEST_INVALID')) throw error;
            return undefined;
          },
        );
        const signed = await signCanonical(contentOf(name), fsp.privateJwk, CERTIFICATE_TYPE).catch(
          (error: unknown) => {
            // A lone surrogate has no canonical JSON: nobody can sign it, so nothing verifies.
            if (!isMpayError(error, 'CANONICALIZATION_FAILED')) throw error;
            return undefined;
          },
        );
        const verified =
          signed === undefined
            ? undefined
            : await verifyAtT0(signed).catch((error: unknown) => {
                if (!isMpayError(error, 'CERTIFICATE_INVALID')) throw error;
                return undefined;
              });
        expect(verified?.name).toBe(issued === undefined ? undefined : name);
      }),
      { numRuns: 60 },
    );
  });
});
