import { describe, expect, it } from 'vitest';
import { enochSig, peterSig, peterSignerKey, peterVerifierKey, text } from './go-note-vectors.test-helper.ts';
import { generateNoteKey, parseSignerKey } from './note-key.ts';
import { openNote } from './open.ts';
import { signNote } from './sign.ts';

describe('signNote', () => {
  it('produces the byte-identical signed note of golang.org/x/mod/sumdb/note (known answer)', async () => {
    const signed = await signNote(text, [peterSignerKey]);
    expect(signed).toBe(`${text}\n${peterSig}`);
    expect(await signNote(text, [await parseSignerKey(peterSignerKey)])).toBe(signed);
  });

  it('signs with several keys in order, and the result opens', async () => {
    const other = await generateNoteKey('witness.example/w1');
    const signed = await signNote(text, [peterSignerKey, other.signerKey]);
    expect(signed.startsWith(`${text}\n${peterSig}\u2014 witness.example/w1 `)).toBe(true);
    const opened = await openNote(signed, [peterVerifierKey, other.verifierKey]);
    expect(opened.verifiedSignatures.map((s) => s.name)).toEqual(['PeterNeumann', 'witness.example/w1']);
    expect(enochSig).toContain('EnochRoot');
  });

  it('rejects text without a final newline, with control characters, or unpaired surrogates', async () => {
    for (const bad of ['abc', '', 'a\rb\n', 'tab\there\n', 'nul\u0000\n', 'half \ud800 surrogate\n']) {
      await expect(signNote(bad, [peterSignerKey])).rejects.toMatchObject({ code: 'NOTE_INVALID' });
    }
  });

  it('rejects no signer, a repeated signer, and a bad signer key', async () => {
    await expect(signNote(text, [])).rejects.toMatchObject({ code: 'NOTE_INVALID' });
    await expect(signNote(text, [peterSignerKey, peterSignerKey])).rejects.toMatchObject({
      code: 'NOTE_INVALID',
    });
    await expect(signNote(text, [peterVerifierKey])).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
  });

  it('keeps blank lines inside the text: the last blank line separates the signatures', async () => {
    const withBlank = 'first\n\nsecond\n';
    const opened = await openNote(await signNote(withBlank, [peterSignerKey]), [peterVerifierKey]);
    expect(opened.text).toBe(withBlank);
  });
});
