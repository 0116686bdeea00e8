import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TlsMaterial, TlsReloadHook } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';

/** The web port's key and certificate (chain), PEM, as startWebServer takes them. */
export interface WebTlsPair {
  readonly key: string;
  readonly cert: string;
  /** How the web server gives itself a new pair without a restart (ServerTls.onReload). */
  readonly onReload?: TlsReloadHook | undefined;
}

/** The operator's certificate for the web pages: its files, and the pair read from them. */
export interface OperatorWebTls extends WebTlsPair {
  readonly certPath: string;
  readonly keyPath: string;
  /** The certificate's subject and validity end, for the banner. */
  readonly subject: string;
  readonly validTo: string;
  /** The certificate's serial number (hex) and SHA-256 fingerprint: a reload says whether it changed. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
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
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
  };
}

/** The operator's web certificate of a running `mpay up`, which a reload signal reads again. */
export interface ReloadableOperatorWebTls {
  /** For startWebServer: the pair of the start, with the hook through which `reload` switches the server. */
  readonly pair: WebTlsPair;
  /** The certificate in use. */
  current(): OperatorWebTls;
  /**
   * Reads MPAY_WEB_TLS_CERT/KEY's files again (the paths of the start) with
   * the checks of the start, and gives the web server the new pair for the
   * connections to come (open ones keep theirs). A file that fails a check,
   * or a pair node:tls refuses, rejects (CONFIGURATION_INVALID naming the
   * file) and the server keeps the certificate it has. Reloads run one after
   * the other. Resolves with the certificate before and after.
   */
  reload(now?: Date): Promise<{ readonly previous: OperatorWebTls; readonly current: OperatorWebTls }>;
}

export function reloadableOperatorWebTls(initial: OperatorWebTls): ReloadableOperatorWebTls {
  let current = initial;
  let apply: ((material: TlsMaterial) => void) | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  const reloadNow = async (now: Date) => {
    const next = await operatorWebTlsFromEnv(
      { MPAY_WEB_TLS_CERT: initial.certPath, MPAY_WEB_TLS_KEY: initial.keyPath },
      now,
    );
    if (next === undefined) throw new Error('assertion failed: both web TLS files named');
    const previous = current;
    if (next.cert !== previous.cert || next.key !== previous.key) {
      try {
        apply?.({ key: next.key, cert: next.cert });
      } catch (error) {
        throw refused(`MPAY_WEB_TLS_CERT ${next.certPath}: refused by TLS (${String(error)})`, error);
      }
    }
    current = next;
    return { previous, current: next };
  };
  return {
    pair: {
      key: initial.key,
      cert: initial.cert,
      onReload: (switchTo) => {
        apply = switchTo;
      },
    },
    current: () => current,
    reload(now = new Date()) {
      const run = reloading.then(() => reloadNow(now));
      reloading = run.catch(() => undefined);
      return run;
    },
  };
}

/** What `mpay up` prints of a reload of the operator's web certificate. */
export function describeWebTlsReload(change: {
  readonly previous: OperatorWebTls;
  readonly current: OperatorWebTls;
}): string {
  const { previous, current } = change;
  const what =
    previous.fingerprint256 === current.fingerprint256
      ? `certificate ${current.serialNumber} unchanged`
      : `certificate ${previous.serialNumber} → ${current.serialNumber}`;
  return `TLS reloaded: web pages (${current.certPath}: ${current.subject}) ${what}, valid until ${current.validTo}`;
}

/** What `mpay up` prints when the operator's web certificate is not reloaded. */
export function describeWebTlsReloadRefusal(error: unknown): string {
  const why = error instanceof MpayError ? `${error.code} ${error.detail ?? error.message}` : String(error);
  return `TLS reload of the web pages refused, their old certificate stays in use: ${why}`;
}
