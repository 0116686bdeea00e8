import { describe, expect, it } from 'vitest';
import { base64Encode } from '../bytes.ts';
import {
  enoch,
  enochSig,
  enochVerifierKey,
  peter,
  peterSig,
  peterSignerKey,
  peterVerifierKey,
  text,
} from './go-note-vectors.test-helper.ts';
import { generateNoteKey } from './note-key.ts';
import { openNote } from './open.ts';
import { signNote } from './sign.ts';

const encode = (value: string) => new TextEncoder().encode(value);

describe('openNote (cases of golang.org/x/mod/sumdb/note TestOpen)', () => {
  it('verifies the known key and returns the other signature unverified', async () => {
    const opened = await openNote(`${text}\n${peterSig}${enochSig}`, [peterVerifierKey]);
    expect(opened.text).toBe(text);
    expect(opened.verifiedSignatures).toEqual([peter]);
    expect(opened.unverifiedSignatures).toEqual([enoch]);
  });

  it('verifies both when both keys are known, from a string or from bytes', async () => {
    const signed = `${text}\n${peterSig}${enochSig}`;
    for (const input of [signed, encode(signed)]) {
      const opened = await openNote(input, [peterVerifierKey, enochVerifierKey]);
      expect(opened.verifiedSignatures).toEqual([peter, enoch]);
      expect(opened.unverifiedSignatures).toEqual([]);
    }
  });

  it('rejects a note with no signature by a known key', async () => {
    await expect(openNote(`${text}\n${peterSig}${enochSig}`, [])).rejects.toMatchObject({
      code: 'NOTE_KEY_UNKNOWN',
    });
  });

  it('accepts the same verifier key listed twice, refuses two keys with one name and key hash', async () => {
    const opened = await openNote(`${text}\n${enochSig}`, [
      enochVerifierKey,
      peterVerifierKey,
      enochVerifierKey,
    ]);
    expect(opened.verifiedSignatures).toEqual([enoch]);
  });

  it('rejects more than 100 signature lines, known key or not', async () => {
    const many = `${text}\n${peterSig.repeat(101)}`;
    await expect(openNote(many, [peterVerifierKey])).rejects.toMatchObject({
      code: 'NOTE_TOO_MANY_SIGNATURES',
    });
    await expect(openNote(many, [])).rejects.toMatchObject({ code: 'NOTE_TOO_MANY_SIGNATURES' });
    const hundred = await openNote(`${text}\n${peterSig.repeat(100)}`, [peterVerifierKey]);
    expect(hundred.verifiedSignatures).toEqual([peter]);
  });

  it('rejects a bad signature by a known key', async () => {
    const bad = `${text}\n${peterSig.slice(0, 60)}ABCD${peterSig.slice(60)}`;
    await expect(openNote(bad, [peterVerifierKey])).rejects.toMatchObject({ code: 'NOTE_SIGNATURE_INVALID' });
    // Well-formed, Peter's key hash, one signature byte: checked, and fails.
    const short = `${text}\n\u2014 PeterNeumann x08go/Y=\n`;
    await expect(openNote(short, [peterVerifierKey])).rejects.toMatchObject({
      code: 'NOTE_SIGNATURE_INVALID',
    });
  });

  it('drops duplicates and keeps a bad signature by an unknown key unverified', async () => {
    const enochABCD = `${enochSig.slice(0, 60)}ABCD${enochSig.slice(60)}`;
    const signed = `${text}\n${peterSig}${peterSig}${enochSig}${enochSig}${enochABCD}`;
    const opened = await openNote(signed, [peterVerifierKey]);
    expect(opened.verifiedSignatures).toEqual([peter]);
    expect(opened.unverifiedSignatures.map((s) => `\u2014 EnochRoot ${s.base64}\n`)).toEqual([
      enochSig,
      enochABCD,
    ]);
  });

  it('rejects malformed notes', async () => {
    const bad: Array<string | Uint8Array> = [
      text,
      `${text}\n`,
      `${text}\n${peterSig.slice(0, -1)}`,
      `\u0001${text}\n${peterSig}`,
      new Uint8Array([0xff, ...encode(`${text}\n${peterSig}`)]),
      `\ud800${text}\n${peterSig}`,
      `${text}\n\u2014 Bad Name ${peter.base64}\n`,
      `${text}\n${peterSig}Unexpected line.\n`,
      `${text}\n${peterSig}\n`,
      `${text}\n- PeterNeumann ${peter.base64}\n`,
      `${text}\n\u2014 PeterNeumann  ${peter.base64}\n`,
      `${text}\n\u2014 PeterNeumann ${peter.base64.slice(0, -1)}\n`,
      `${text}\n\u2014 PeterNeumann x08g\n`,
      `${text}\n\u2014 Peter+Neumann ${peter.base64}\n`,
      `${text}\n${peterSig}`.replace('\n', '\r\n'),
    ];
    for (const input of bad) {
      await expect(openNote(input, [peterVerifierKey])).rejects.toMatchObject({ code: 'NOTE_INVALID' });
    }
  });

  it('verifies every signature by a known key, unlike Go which skips repeats (a deliberate deviation)', async () => {
    const forged = `\u2014 PeterNeumann ${base64Encode(new Uint8Array([0xc7, 0x4f, 0x20, 0xa3, ...new Uint8Array(64)]))}\n`;
    const signed = `${text}\n${peterSig}${forged}`;
    await expect(openNote(signed, [peterVerifierKey])).rejects.toMatchObject({
      code: 'NOTE_SIGNATURE_INVALID',
    });
  });

  it('ignores signatures sharing only the name or only the key hash of a known key', async () => {
    const sameName = await generateNoteKey('PeterNeumann');
    const impostor = (await signNote(text, [sameName.signerKey])).slice(text.length + 1);
    const opened = await openNote(`${text}\n${impostor}${peterSig}`, [peterVerifierKey]);
    expect(opened.verifiedSignatures).toEqual([peter]);
    expect(opened.unverifiedSignatures).toHaveLength(1);
    const renamed = peterSig.replace('PeterNeumann', 'CarmenSandiego');
    const result = await openNote(`${text}\n${renamed}${peterSig}`, [peterVerifierKey]);
    expect(result.unverifiedSignatures.map((s) => s.name)).toEqual(['CarmenSandiego']);
  });

  it('keeps a leading byte order mark as part of the signed text', async () => {
    const signed = await signNote(`\ufeff${text}`, [peterSignerKey]);
    const opened = await openNote(encode(signed), [peterVerifierKey]);
    expect(opened.text).toBe(`\ufeff${text}`);
  });

  it('reads the C2SP example note (unknown key) as well-formed', async () => {
    const example =
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n\n' +
      '\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';
    await expect(openNote(example, [peterVerifierKey])).rejects.toMatchObject({ code: 'NOTE_KEY_UNKNOWN' });
  });
});
