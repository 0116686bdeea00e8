/**
 * The papers' crypto as they describe it against mpay's hardened profile:
 * the size each operation adds to a message and its CPU per operation on
 * this machine, with node:crypto (OpenSSL), one call at a time, the median
 * of repeated calls. What each paper names:
 *
 * - seed 000 (iMS): public-key signing and encryption of financial messages
 *   and of the PIN, certificates at the FSP and the trusted mobile
 *   certificate server, SSL to the WAP gateway, WTLS to the phone. No
 *   algorithm or key size is named: RSA-1024 with SHA-1 (the WPKI of the
 *   time) is our assumption, RSA-2048 beside it.
 * - seed 002 (macro): symmetric encryption under the shared mPIN (E_SP{M}),
 *   a one-way hash h(X), the client's signature DS_C. No algorithm named:
 *   AES-128-CBC keyed by SHA-1(mPIN) and SHA-1 are our assumptions; the
 *   point is the key space (10^6 mPINs), measured as an exhaustive search.
 * - seed 003 (SA2pMP): ECDSA with a 192-bit key and SHA-1, AES (key length
 *   not named: AES-128-CBC assumed).
 * - mpay: JWS ES256 (P-256, SHA-256) or EdDSA (Ed25519); JWE ECDH-ES on
 *   P-256 with A256GCM; OPAQUE with Argon2id for PINs (not in node:crypto:
 *   its cost is inside the run's device CPU of ims-custody and macro).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';

export interface CryptoRow {
  readonly scheme: string;
  readonly operation: string;
  /** Bytes the operation adds to (or makes of) a 256-byte message, as sent. */
  readonly bytes: number | undefined;
  /** Median µs per call on this machine; undefined when not measurable. */
  readonly micros: number | undefined;
  readonly note: string;
}

const message = Buffer.from(JSON.stringify({ pad: 'x'.repeat(256 - 10) }).slice(0, 256));

function medianMicros(work: () => unknown, budgetMs: number): number {
  work();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < 5 || (performance.now() - started < budgetMs && times.length < 100_000)) {
    const before = performance.now();
    work();
    times.push(performance.now() - before);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]! * 1000 * 10) / 10;
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function aesCbc(bits: 128 | 256, key: Buffer) {
  return () => {
    const iv = randomBytes(16);
    const cipher = createCipheriv(`aes-${bits}-cbc`, key, iv);
    return Buffer.concat([iv, cipher.update(message), cipher.final()]);
  };
}

function p256Jwk(key: KeyObject): { x: string; y: string } {
  const jwk = key.export({ format: 'jwk' });
  return { x: String(jwk.x), y: String(jwk.y) };
}

/** Measures every row; `budgetMs` per operation (at least 5 calls). */
export function compareCrypto(budgetMs = 150): CryptoRow[] {
  const rows: CryptoRow[] = [];
  const add = (row: CryptoRow) => rows.push(row);

  // seed 000, iMS: RSA (assumed) — signatures and the PIN encrypted to the server.
  for (const bits of [1024, 2048] as const) {
    const rsa = generateKeyPairSync('rsa', { modulusLength: bits });
    const signature = sign('sha1', message, rsa.privateKey);
    add({
      scheme: 'iMS (seed 000), assumed',
      operation: `sign RSA-${bits} SHA-1`,
      bytes: signature.length,
      micros: medianMicros(() => sign('sha1', message, rsa.privateKey), budgetMs),
      note: 'the paper names no algorithm or key size',
    });
    add({
      scheme: 'iMS (seed 000), assumed',
      operation: `verify RSA-${bits} SHA-1`,
      bytes: undefined,
      micros: medianMicros(() => verify('sha1', message, rsa.publicKey, signature), budgetMs),
      note: '',
    });
    const pinBlock = Buffer.from('1357');
    add({
      scheme: 'iMS (seed 000), assumed',
      operation: `encrypt the PIN, RSA-${bits} OAEP`,
      bytes: publicEncrypt(rsa.publicKey, pinBlock).length,
      micros: medianMicros(() => publicEncrypt(rsa.publicKey, pinBlock), budgetMs),
      note: 'step 4: the PIN "encrypted by asymmetric" crypto',
    });
  }
  add({
    scheme: 'iMS (seed 000)',
    operation: 'WTLS to the phone, SSL to the WAP gateway',
    bytes: undefined,
    micros: undefined,
    note: 'not measurable: no WTLS in node:crypto (WAP 1.x, withdrawn); mpay uses HTTPS (TLS 1.3) end to end',
  });

  // seed 002, macro: symmetric under the mPIN (assumed AES-128-CBC, key SHA-1(mPIN)).
  const mPin = '493817';
  const pinKey = createHash('sha1').update(mPin).digest().subarray(0, 16);
  const sealed = aesCbc(128, pinKey)();
  add({
    scheme: 'macro (seed 002), assumed',
    operation: 'E_SP{M}: AES-128-CBC under SHA-1(mPIN)',
    bytes: sealed.length,
    micros: medianMicros(aesCbc(128, pinKey), budgetMs),
    note: 'the paper names no cipher; IV + padded ciphertext of 256 B',
  });
  const tryOne = () => {
    const key = createHash('sha1').update('000000').digest().subarray(0, 16);
    const decipher = createDecipheriv('aes-128-cbc', key, sealed.subarray(0, 16));
    decipher.setAutoPadding(false);
    return decipher.update(sealed.subarray(16, 32));
  };
  const perTry = medianMicros(tryOne, budgetMs);
  add({
    scheme: 'macro (seed 002), assumed',
    operation: 'guess one mPIN offline (derive + decrypt a block)',
    bytes: undefined,
    micros: perTry,
    note: `all 10^6 six-digit mPINs: ~${((perTry * 1e6) / 1e6).toFixed(1)} s on one core — why mpay puts the mPIN behind OPAQUE + Argon2id`,
  });
  add({
    scheme: 'macro (seed 002), assumed',
    operation: 'h(X): SHA-1',
    bytes: 20,
    micros: medianMicros(() => createHash('sha1').update(message).digest(), budgetMs),
    note: '',
  });

  // seed 003, SA2pMP: ECDSA P-192 SHA-1 and AES.
  const p192 = generateKeyPairSync('ec', { namedCurve: 'prime192v1' });
  const p192Signature = sign('sha1', message, p192.privateKey);
  add({
    scheme: 'SA2pMP (seed 003)',
    operation: 'sign ECDSA P-192 SHA-1',
    bytes: p192Signature.length,
    micros: medianMicros(() => sign('sha1', message, p192.privateKey), budgetMs),
    note: 'DER signature; the paper: "key size is 192 bits", "SHA-1 for message digesting"',
  });
  add({
    scheme: 'SA2pMP (seed 003)',
    operation: 'verify ECDSA P-192 SHA-1',
    bytes: undefined,
    micros: medianMicros(() => verify('sha1', message, p192.publicKey, p192Signature), budgetMs),
    note: '',
  });
  const aesKey = randomBytes(16);
  add({
    scheme: 'SA2pMP (seed 003), key length assumed',
    operation: 'encrypt AES-128-CBC',
    bytes: aesCbc(128, aesKey)().length,
    micros: medianMicros(aesCbc(128, aesKey), budgetMs),
    note: 'no integrity of its own (the signature inside gives it)',
  });

  // mpay: JWS and JWE compact, built here as @mpay/envelope builds them.
  const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwsHeader = b64(
    JSON.stringify({ alg: 'ES256', typ: 'mpay-message+jws', kid: randomBytes(16).toString('hex') }),
  );
  const signingInput = `${jwsHeader}.${b64(message)}`;
  const es256Sign = () =>
    sign('sha256', Buffer.from(signingInput), { key: es256.privateKey, dsaEncoding: 'ieee-p1363' });
  const es256Signature = es256Sign();
  const jws = `${signingInput}.${b64(es256Signature)}`;
  add({
    scheme: 'mpay',
    operation: 'sign JWS ES256 (P-256, SHA-256)',
    bytes: jws.length,
    micros: medianMicros(es256Sign, budgetMs),
    note: `the compact JWS of the 256 B message (${jws.length - 256} B over it)`,
  });
  add({
    scheme: 'mpay',
    operation: 'verify JWS ES256',
    bytes: undefined,
    micros: medianMicros(
      () =>
        verify(
          'sha256',
          Buffer.from(signingInput),
          { key: es256.publicKey, dsaEncoding: 'ieee-p1363' },
          es256Signature,
        ),
      budgetMs,
    ),
    note: '',
  });
  const ed = generateKeyPairSync('ed25519');
  const edSignature = sign(null, Buffer.from(signingInput), ed.privateKey);
  add({
    scheme: 'mpay',
    operation: 'sign JWS EdDSA (Ed25519)',
    bytes: signingInput.length + 1 + b64(edSignature).length,
    micros: medianMicros(() => sign(null, Buffer.from(signingInput), ed.privateKey), budgetMs),
    note: '',
  });
  add({
    scheme: 'mpay',
    operation: 'verify JWS EdDSA (Ed25519)',
    bytes: undefined,
    micros: medianMicros(() => verify(null, Buffer.from(signingInput), ed.publicKey, edSignature), budgetMs),
    note: '',
  });
  const recipient = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const seal = (plaintext: Buffer) => {
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient.publicKey });
    // Concat KDF (RFC 7518 §4.6), one round of SHA-256 for a 256-bit key.
    const cek = createHash('sha256')
      .update(Buffer.from([0, 0, 0, 1]))
      .update(shared)
      .update('A256GCM')
      .digest();
    const header = b64(
      JSON.stringify({
        alg: 'ECDH-ES',
        enc: 'A256GCM',
        epk: { kty: 'EC', crv: 'P-256', ...p256Jwk(ephemeral.publicKey) },
      }),
    );
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', cek, iv);
    cipher.setAAD(Buffer.from(header));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `${header}..${b64(iv)}.${b64(ciphertext)}.${b64(cipher.getAuthTag())}`;
  };
  const jwe = seal(message);
  add({
    scheme: 'mpay',
    operation: 'seal JWE ECDH-ES (P-256) + A256GCM',
    bytes: jwe.length,
    micros: medianMicros(() => seal(message), budgetMs),
    note: 'a fresh ephemeral key per message (key generation, ECDH, KDF, AES-GCM)',
  });
  const nested = seal(Buffer.from(jws));
  add({
    scheme: 'mpay',
    operation: 'sign then seal (JWE of the JWS)',
    bytes: nested.length,
    micros: undefined,
    note: 'size only: the sum of the two rows above',
  });
  const gcmKey = randomBytes(32);
  add({
    scheme: 'mpay',
    operation: 'A256GCM alone (session key)',
    bytes: 12 + message.length + 16,
    micros: medianMicros(() => {
      const cipher = createCipheriv('aes-256-gcm', gcmKey, randomBytes(12));
      return Buffer.concat([cipher.update(message), cipher.final(), cipher.getAuthTag()]);
    }, budgetMs),
    note: 'as the banking session seals a message',
  });
  add({
    scheme: 'mpay',
    operation: 'OPAQUE login with Argon2id (PIN, mPIN)',
    bytes: undefined,
    micros: undefined,
    note: 'not in node:crypto (WebAssembly in @serenity-kit/opaque): in the device CPU of ims-custody and macro above',
  });
  return rows;
}
