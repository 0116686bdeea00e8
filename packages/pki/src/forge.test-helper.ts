import { webcrypto } from 'node:crypto';
import type { PemPair } from './ca.ts';
import { x509 } from './x509.ts';

/**
 * For tests only: certificates made with @peculiar/x509 directly, past the
 * checks of ./ca.ts, as someone holding a CA's key (or an older mpay) could.
 */

const keyAlgorithm: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signingAlgorithm: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

async function pemOfKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/** A deployment CA as mpay made them before name constraints: trusted for every name. */
export async function createUnconstrainedCa(now: Date, label: string): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=mpay deployment, CN=mpay deployment CA ${label}`,
    notBefore: new Date(now.getTime() - 300_000),
    notAfter: new Date(now.getTime() + 3_650 * 86_400_000),
    signingAlgorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: await pemOfKey(keys.privateKey), certPem: certificate.toString('pem') };
}

/** A server certificate signed with `issuer`'s key for exactly `names`, whatever the CA's name constraints say. */
export async function forgeLeaf(
  issuer: PemPair,
  names: { readonly dns?: readonly string[]; readonly ip?: readonly string[] },
  now: Date,
): Promise<PemPair> {
  const caCertificate = new x509.X509Certificate(issuer.certPem);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(issuer.keyPem),
    keyAlgorithm,
    false,
    ['sign'],
  );
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'O=xbank, OU=bank, CN=bank.xbank',
    issuer: caCertificate.subject,
    notBefore: new Date(now.getTime() - 300_000),
    notAfter: new Date(now.getTime() + 30 * 86_400_000),
    signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...(names.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(names.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
    ],
  });
  return { keyPem: await pemOfKey(keys.privateKey), certPem: certificate.toString('pem') };
}
