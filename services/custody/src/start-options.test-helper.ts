import { generateEncryptionKeyPair, generateSigningKeyPair, publicJwkSet } from '@mpay/envelope';

/**
 * What a test custody service needs besides its database and HSM: its own
 * keys, an FSP at `fspUrl` (by default a port nothing listens on) with a key
 * of its own, and no banks.
 */
export async function custodyStartOptions(fspUrl = 'http://127.0.0.1:1') {
  const fspKey = await generateSigningKeyPair('ES256');
  return {
    custody: {
      id: 'custody.test',
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    },
    fsp: { id: 'fsp.test', url: fspUrl, keys: publicJwkSet([fspKey.publicJwk]) },
    banks: [],
  };
}
