import { describe, expect, it } from 'vitest';
import { runLogCommand } from './index.ts';
import type { LogCommandIo } from './io.ts';

const peterSignerKey = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const peterVerifierKey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const enochVerifierKey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const text =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const signed = `${text}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

interface MemoryIo extends LogCommandIo {
  out: string;
  err: string;
  files: Map<string, { contents: string; mode: number }>;
}

function memoryIo(stdin: string, files: Record<string, string> = {}): MemoryIo {
  const io: MemoryIo = {
    out: '',
    err: '',
    files: new Map(Object.entries(files).map(([path, contents]) => [path, { contents, mode: 0o644 }])),
    stdin: async () => stdin,
    stdout: (s) => {
      io.out += s;
    },
    stderr: (s) => {
      io.err += s;
    },
    readFile: async (path) => {
      const file = io.files.get(path);
      if (file === undefined) throw new Error(`ENOENT: ${path}`);
      return file.contents;
    },
    writeFile: async (path, contents, { mode, exclusive }) => {
      if (exclusive && io.files.has(path)) throw new Error(`EEXIST: ${path}`);
      io.files.set(path, { contents, mode });
    },
  };
  return io;
}

const keys = {
  'peter.skey': `${peterSignerKey}\n`,
  'peter.vkey': `${peterVerifierKey}\n`,
  'enoch.vkey': enochVerifierKey,
};

describe('mpay log', () => {
  it('note sign writes the Go-identical signed note', async () => {
    const io = memoryIo(text, keys);
    expect(await runLogCommand(['note', 'sign', '--skey', 'peter.skey'], io)).toBe(0);
    expect(io.out).toBe(signed);
    expect(io.err).toBe('');
  });

  it('note verify exits 0 and prints the text for a signature by the given key', async () => {
    const io = memoryIo(signed, keys);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'peter.vkey'], io)).toBe(0);
    expect(io.out).toBe(text);
  });

  it('note verify exits 1 with a stable code when that key did not sign, or the signature is bad', async () => {
    const other = memoryIo(signed, keys);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'enoch.vkey'], other)).toBe(1);
    expect(other.err).toMatch(/^error NOTE_KEY_UNKNOWN: /);
    expect(other.out).toBe('');
    const tampered = memoryIo(signed.replace('problem,', 'problem;'), keys);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'peter.vkey'], tampered)).toBe(1);
    expect(tampered.err).toMatch(/^error NOTE_SIGNATURE_INVALID: /);
    const malformed = memoryIo(text, keys);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'peter.vkey'], malformed)).toBe(1);
    expect(malformed.err).toMatch(/^error NOTE_INVALID: /);
  });

  it('reports unreadable and malformed key files with a code', async () => {
    const missing = memoryIo(signed, keys);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'nope.vkey'], missing)).toBe(1);
    expect(missing.err).toMatch(/^error NOT_FOUND: /);
    const swapped = memoryIo(text, keys);
    expect(await runLogCommand(['note', 'sign', '--skey', 'peter.vkey'], swapped)).toBe(1);
    expect(swapped.err).toMatch(/^error CRYPTO_KEY_INVALID: /);
  });

  it('keygen prints a signer and a verifier key that work together', async () => {
    const io = memoryIo('');
    expect(await runLogCommand(['keygen', 'log.mpay.example/transactions'], io)).toBe(0);
    const [signerKey, verifierKey, rest] = io.out.split('\n');
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+log\.mpay\.example\/transactions\+/);
    expect(verifierKey).toMatch(/^log\.mpay\.example\/transactions\+[0-9a-f]{8}\+/);
    expect(rest).toBe('');
    const files = { 'k.skey': signerKey!, 'k.vkey': verifierKey! };
    const sign = memoryIo('hello\n', files);
    expect(await runLogCommand(['note', 'sign', '--skey', 'k.skey'], sign)).toBe(0);
    const verify = memoryIo(sign.out, files);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'k.vkey'], verify)).toBe(0);
    expect(verify.out).toBe('hello\n');
  });

  it('keygen --witness prints a cosigner key pair (type 0x04) whose note signatures are cosignatures', async () => {
    const io = memoryIo('');
    expect(await runLogCommand(['keygen', 'witness.mpay.example', '--witness'], io)).toBe(0);
    const [signerKey, verifierKey] = io.out.split('\n');
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+witness\.mpay\.example\+[0-9a-f]{8}\+B[A-P]/);
    expect(verifierKey).toMatch(/^witness\.mpay\.example\+[0-9a-f]{8}\+B[A-P]/);
    const files = { 'w.skey': signerKey!, 'w.vkey': verifierKey! };
    const sign = memoryIo('checkpoint body\n', files);
    expect(await runLogCommand(['note', 'sign', '--skey', 'w.skey'], sign)).toBe(0);
    // 4-byte key ID + 8-byte timestamp + 64-byte signature: 104 base64 characters.
    expect(sign.out).toMatch(/\n\u2014 witness\.mpay\.example [A-Za-z0-9+/]{102}==\n$/);
    const verify = memoryIo(sign.out, files);
    expect(await runLogCommand(['note', 'verify', '--vkey', 'w.vkey'], verify)).toBe(0);
    const plain = memoryIo(sign.out, { 'p.vkey': peterVerifierKey });
    expect(await runLogCommand(['note', 'verify', '--vkey', 'p.vkey'], plain)).toBe(1);
  });

  it('keygen --out writes a private .skey and a .vkey, never overwriting', async () => {
    const io = memoryIo('');
    expect(await runLogCommand(['keygen', 'log.mpay.example/tx', '--out', 'keys'], io)).toBe(0);
    const skey = io.files.get('keys/log.mpay.example_tx.skey');
    const vkey = io.files.get('keys/log.mpay.example_tx.vkey');
    expect(skey?.mode).toBe(0o600);
    expect(skey?.contents).toMatch(/^PRIVATE\+KEY\+log\.mpay\.example\/tx\+/);
    expect(vkey?.contents).toBe(io.out);
    expect(await runLogCommand(['keygen', 'log.mpay.example/tx', '--out', 'keys/'], io)).toBe(1);
    expect(io.err).toMatch(/^error INTERNAL: .*must not exist/);
    expect(io.files.get('keys/log.mpay.example_tx.skey')).toEqual(skey);
  });

  it('keygen refuses an invalid key name', async () => {
    const io = memoryIo('');
    expect(await runLogCommand(['keygen', 'bad+name'], io)).toBe(1);
    expect(io.err).toMatch(/^error CRYPTO_KEY_INVALID: /);
  });

  it('prints the usage and exits 2 for a wrong command line', async () => {
    const cases = [
      [],
      ['note'],
      ['note', 'sign'],
      ['note', 'sign', '--skey'],
      ['note', 'verify', '--vkey', 'a', '--vkey', 'b'],
      ['note', 'verify', '--skey', 'peter.skey'],
      ['keygen'],
      ['keygen', 'a', 'b'],
      ['frobnicate'],
    ];
    for (const args of cases) {
      const io = memoryIo(text, keys);
      expect(await runLogCommand(args, io), args.join(' ')).toBe(2);
      expect(io.err).toMatch(/^usage: mpay log/);
    }
    const help = memoryIo('');
    expect(await runLogCommand(['--help'], help)).toBe(0);
    expect(help.out).toMatch(/^usage: mpay log/);
  });
});
