import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MpayError } from '@mpay/protocol';

/** The web port's key and certificate (chain), PEM, as startWebServer takes them. */
export interface WebTlsPair {
  readonly key: string;
  readonly cert: string;
}

/** The operator's certificate for the web pages: its files, and the pair read from them. */
export interface OperatorWebTls extends WebTlsPair {
  readonly certPath: string;
  readonly keyPath: string;
  /** The certificate's subject and validity end, for the banner. */
  readonly subject: string;
  readonly validTo: string;
}

function refused(detail: string, cause?: unknown): MpayError {
  return new MpayError('CONFIGURATION_INVALID', detail, cause === undefined ? undefined : { cause });
}

async function readPem(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : String(error);
    throw refused(`${variable} ${path}: ${why}`, error);
  }
}

/**
 * The web pages' certificate an operator gives instead of the deployment's
 * (a publicly trusted one, so that browsers need not trust the deployment's
 * CA): MPAY_WEB_TLS_CERT (the certificate, PEM, its chain after it) and
 * MPAY_WEB_TLS_KEY (its private key, PEM), both or neither. Undefined when
 * neither is set. Read and checked now, at start: CONFIGURATION_INVALID
 * naming the variable, the file and the cause when a file cannot be read or
 * is not PEM, when the key is not the certificate's, or when the certificate
 * is expired (or not valid yet) at `now`.
 */
export async function operatorWebTlsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  now: Date = new Date(),
): Promise<OperatorWebTls | undefined> {
  const certText = env.MPAY_WEB_TLS_CERT?.trim() ?? '';
  const keyText = env.MPAY_WEB_TLS_KEY?.trim() ?? '';
  if (certText === '' && keyText === '') return undefined;
  if (certText === '' || keyText === '') {
    throw refused('MPAY_WEB_TLS_CERT and MPAY_WEB_TLS_KEY go together: set both or neither');
  }
  const certPath = resolve(certText);
  const keyPath = resolve(keyText);
  const cert = await readPem('MPAY_WEB_TLS_CERT', certPath);
  const key = await readPem('MPAY_WEB_TLS_KEY', keyPath);
  // The first certificate of the file is the server's; any after it are its chain, each checked too.
  const blocks = cert.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw refused(`MPAY_WEB_TLS_CERT ${certPath}: not a PEM certificate`);
  const chain: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      chain.push(new X509Certificate(block));
    } catch (error) {
      throw refused(
        `MPAY_WEB_TLS_CERT ${certPath}: certificate ${index + 1} is not a PEM certificate`,
        error,
      );
    }
  }
  const certificate = chain[0] as X509Certificate;
  let privateKey: KeyObject;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error('no PEM private key block');
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw refused(`MPAY_WEB_TLS_KEY ${keyPath}: not a PEM private key (unencrypted)`, error);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw refused(`MPAY_WEB_TLS_KEY ${keyPath}: not the key of the certificate in ${certPath}`);
  }
  const validFrom = new Date(certificate.validFrom);
  const validTo = new Date(certificate.validTo);
  if (validTo.getTime() <= now.getTime()) {
    throw refused(`MPAY_WEB_TLS_CERT ${certPath}: the certificate expired on ${validTo.toISOString()}`);
  }
  if (validFrom.getTime() > now.getTime()) {
    throw refused(
      `MPAY_WEB_TLS_CERT ${certPath}: the certificate is not valid before ${validFrom.toISOString()}`,
    );
  }
  return {
    // The blocks alone, one a line: stray text between them is not handed to TLS.
    cert: `${blocks.join('\n')}\n`,
    key,
    certPath,
    keyPath,
    subject: certificate.subject.replaceAll('\n', ', '),
    validTo: validTo.toISOString(),
  };
}
