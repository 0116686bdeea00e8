import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode } from '../bytes.ts';
import { formatVerifierKey, generateNoteKey, parseSignerKey, parseVerifierKey } from '../note/note-key.ts';
import { openNote } from '../note/open.ts';
import { signNote } from '../note/sign.ts';
import { cosignatureTimestamp, generateCosignerKey, parseCosignerKey } from './cosigner-key.ts';
import {
  archeBody,
  archeLogKey,
  archeSignatureLines,
  archeSignedNote,
  archeTimestamp,
  archeWitnessKeys,
} from './published-vectors.test-helper.ts';

const body = 'log.mpay.example/transactions\n7\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n';

/** Key ID and signature checked with node:crypto directly, independent of the package code. */
function independentlyVerify(verifierKey: string, signatureLine: string, text: string): bigint {
  const [name, hashHex, keyBase64] = [
    verifierKey.split('+')[0]!,
    verifierKey.split('+')[1]!,
    verifierKey.slice(verifierKey.indexOf('+', verifierKey.indexOf('+') + 1) + 1),
  ];
  const typed = Buffer.from(keyBase64, 'base64');
  expect(typed[0]).toBe(0x04);
  const id = createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${name}\n`), typed]))
    .digest();
  expect(id.subarray(0, 4).toString('hex')).toBe(hashHex);
  const raw = Buffer.from(signatureLine.slice(signatureLine.lastIndexOf(' ') + 1), 'base64');
  expect(raw.length).toBe(4 + 8 + 64);
  expect(raw.subarray(0, 4).toString('hex')).toBe(hashHex);
  const timestamp = raw.readBigUInt64BE(4);
  const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`);
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: typed.subarray(1).toString('base64url') },
    format: 'jwk',
  });
  expect(verify(null, message, publicKey, raw.subarray(12))).toBe(true);
  return timestamp;
}

describe('c2sp.org/tlog-cosignature v1', () => {
  it('verifies a real published checkpoint: the log signature and four witness cosignatures (known answer)', async () => {
    const opened = await openNote(archeSignedNote, [archeLogKey, ...archeWitnessKeys]);
    expect(opened.text).toBe(archeBody);
    expect(opened.verifiedSignatures.map((signature) => signature.name)).toEqual([
      'arche2025h1.staging.ct.transparency.dev',
      'transparency.dev/DEV:witness-little-garden',
      'witness1.smartit.nu/witness1',
      'remora.n621.de',
      'witness.stagemole.eu',
    ]);
    expect(opened.unverifiedSignatures).toHaveLength(1);
    for (const signature of opened.verifiedSignatures.slice(1)) {
      expect(cosignatureTimestamp(signature)).toBe(archeTimestamp);
    }
    expect(cosignatureTimestamp(opened.verifiedSignatures[0]!)).toBeUndefined();
    for (const key of archeWitnessKeys)
      expect(
        independentlyVerify(
          key,
          archeSignatureLines.find((line) => line.includes(` ${key.split('+')[0]} `))!,
          archeBody,
        ),
      ).toBe(archeTimestamp);
  });

  it('parses the published cosigner keys as type 0x04 with their key IDs', async () => {
    const remora = await parseVerifierKey(
      'remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2',
    );
    expect([remora.name, remora.keyHash, remora.signatureType]).toEqual(['remora.n621.de', 0xda77ade7, 0x04]);
    const publicKey = remora.typedPublicKey.subarray(1);
    expect(await formatVerifierKey('remora.n621.de', publicKey, 0x04)).toBe(archeWitnessKeys[2]);
    // The same public key as a plain Ed25519 note key has another key ID: the type byte is in the hash.
    const plain = await parseVerifierKey(await formatVerifierKey('remora.n621.de', publicKey));
    expect(plain.keyHash).not.toBe(remora.keyHash);
    await expect(openNote(archeSignedNote, [plain])).rejects.toMatchObject({ code: 'NOTE_KEY_UNKNOWN' });
  });

  it('rejects the real checkpoint once its body, timestamp or signature changes', async () => {
    const witness = archeWitnessKeys[2]!;
    const line = archeSignatureLines[4]!;
    const bytes = base64Decode(line.slice(line.lastIndexOf(' ') + 1))!;
    const withBytes = (change: (copy: Uint8Array) => void) => {
      const copy = new Uint8Array(bytes);
      change(copy);
      return `${archeBody}\n${line.slice(0, line.lastIndexOf(' ') + 1)}${base64Encode(copy)}\n`;
    };
    const cases = [
      `${archeBody.replace('1432088532', '1432088533')}\n${line}\n`,
      withBytes((copy) => {
        copy[11]! ^= 1; // timestamp
      }),
      withBytes((copy) => {
        copy[40]! ^= 1; // signature
      }),
      withBytes((copy) => {
        copy[4] = 0x80; // timestamp beyond 2^63 - 1
      }),
    ];
    for (const note of cases) {
      await expect(openNote(note, [witness])).rejects.toMatchObject({ code: 'NOTE_SIGNATURE_INVALID' });
    }
    const truncated = `${archeBody}\n${line.slice(0, line.lastIndexOf(' ') + 1)}${base64Encode(bytes.subarray(0, 68))}\n`;
    await expect(openNote(truncated, [witness])).rejects.toMatchObject({ code: 'NOTE_SIGNATURE_INVALID' });
  });

  it('cosigns with a generated key at the clock time; node:crypto verifies it independently', async () => {
    const { signerKey, verifierKey } = await generateCosignerKey('witness.mpay.example');
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+witness\.mpay\.example\+[0-9a-f]{8}\+B[A-P]/);
    expect(verifierKey).toMatch(/^witness\.mpay\.example\+[0-9a-f]{8}\+B[A-P]/);
    const cosigner = await parseCosignerKey(signerKey, () => new Date(1_700_000_000_999));
    const signed = await signNote(body, [cosigner]);
    const line = signed.slice(body.length + 1, -1);
    expect(independentlyVerify(verifierKey, line, body)).toBe(1_700_000_000n);
    const opened = await openNote(signed, [verifierKey]);
    expect(cosignatureTimestamp(opened.verifiedSignatures[0]!)).toBe(1_700_000_000n);
    const explicit = await cosigner.cosign(new TextEncoder().encode(body), 42n);
    expect(new DataView(explicit.buffer).getBigUint64(0)).toBe(42n);
    await expect(cosigner.cosign(new TextEncoder().encode(body), 1n << 63n)).rejects.toMatchObject({
      code: 'INTERNAL',
    });
  });

  it('keeps note keys and cosigner keys apart', async () => {
    const noteKey = await generateNoteKey('log.example');
    const cosignerKey = await generateCosignerKey('witness.example');
    await expect(parseCosignerKey(noteKey.signerKey)).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
    await expect(parseSignerKey(cosignerKey.signerKey)).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
    await expect(parseCosignerKey(cosignerKey.verifierKey)).rejects.toMatchObject({
      code: 'CRYPTO_KEY_INVALID',
    });
    const wrongId = cosignerKey.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    await expect(parseVerifierKey(wrongId)).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
    // A plain Ed25519 signature under the cosigner's key ID is not a cosignature.
    const verifier = await parseVerifierKey(cosignerKey.verifierKey);
    expect(await verifier.verify(new TextEncoder().encode(body), new Uint8Array(64))).toBe(false);
  });
});
