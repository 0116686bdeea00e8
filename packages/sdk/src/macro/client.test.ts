import {
  decryptWith,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
  verifyPayload,
} from '@mpay/envelope';
import { signedContentMatches } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { createMacroDeviceSecret } from './channel-key.ts';
import { MacroClient } from './client.ts';

async function fixture() {
  const fspSigning = await generateSigningKeyPair();
  const fspEncryption = await generateEncryptionKeyPair();
  const device = await generateSigningKeyPair();
  const fsp = { id: 'fsp.mpay', keys: publicJwkSet([fspSigning.publicJwk, fspEncryption.publicJwk]) };
  const deviceSecret = createMacroDeviceSecret();
  const client = new MacroClient({ gatewayUrl: 'http://127.0.0.1:1', fsp, deviceSecret });
  const input = {
    binding: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
    signingKey: device.privateJwk,
    partyId: 'ann.smith@person.xbank',
    msisdn: '+38970111222',
    email: 'ann.smith@mail.example',
    name: '  Ann Smith ',
    secretQuestion: 'Name of your first school?',
    secretAnswer: 'Saint Mary',
    now: () => Date.parse('2026-12-02T10:00:00.000Z'),
  };
  return { fspEncryption, device, deviceSecret, client, input };
}

describe('MacroClient.prepareRegistration', () => {
  it('signs exactly the registration for the MPASP and seals it, with the binding and the answer, to the MPASP', async () => {
    const { fspEncryption, device, deviceSecret, client, input } = await fixture();
    const prepared = await client.prepareRegistration(input);
    expect(prepared.registration).toEqual({
      kind: 'macro_registration',
      partyId: input.partyId,
      msisdn: input.msisdn,
      email: input.email,
      name: 'Ann Smith',
      secretQuestion: input.secretQuestion,
      deviceSecret,
      issuedAt: '2026-12-02T10:00:00.000Z',
    });
    expect(prepared.idempotencyKey).toMatch(/^macro-registration-/);
    const opened = JSON.parse(
      new TextDecoder().decode(await decryptWith(prepared.body, [fspEncryption.privateJwk])),
    ) as Record<string, unknown>;
    expect(Object.keys(opened).sort()).toEqual(['binding', 'registration', 'secretAnswer', 'signature']);
    expect(opened.secretAnswer).toBe('Saint Mary');
    const verified = await verifyPayload(
      opened.signature,
      () => device.publicJwk,
      { issuer: input.partyId, audience: 'fsp.mpay', transactionId: input.partyId },
      { now: input.now },
    );
    expect(verified.claims.iat).toBe(Date.parse('2026-12-02T10:00:00.000Z') / 1000);
    expect(signedContentMatches(verified.payload, prepared.registration)).toBe(true);
    // The answer is not in the signed content.
    expect(JSON.stringify(verified.payload)).not.toContain('Saint');
  });

  it('refuses locally what the MPASP would refuse, and a malformed device secret at construction', async () => {
    const { client, input } = await fixture();
    await expect(
      client.prepareRegistration({ ...input, email: 'a@b.example, c@d.example' }),
    ).rejects.toMatchObject({
      code: 'MESSAGE_INVALID',
      detail: 'email',
    });
    await expect(client.prepareRegistration({ ...input, secretAnswer: 'ab' })).rejects.toMatchObject({
      code: 'MESSAGE_INVALID',
      detail: 'secretAnswer',
    });
    expect(
      () =>
        new MacroClient({
          gatewayUrl: 'http://127.0.0.1:1',
          fsp: { id: 'fsp.mpay', keys: { keys: [] } },
          deviceSecret: 'x',
        }),
    ).toThrow(expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }));
  });

  it('refuses a malformed client id or mPIN before any try is spent', async () => {
    const { client } = await fixture();
    await expect(client.openChannel('ann@person.xbank', '123456')).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
    await expect(client.openChannel('C042917365028.xbank', '12345')).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
      detail: 'mPin',
    });
  });
});
