import { base64Decode, hasControlCharacter, isWellFormedText, utf8Decode, utf8Length } from '../bytes.ts';
import {
  hashBytes,
  inclusionProofHashesMax,
  tlogProofBytesMax,
  tlogProofExtraBytesMax,
  treeSizeMax,
} from '../limits.ts';
import { type TlogProof, tlogProofHeader, tlogProofInvalid } from './tlog-proof.ts';

const canonicalDecimal = /^(?:0|[1-9][0-9]{0,19})$/;

function readText(input: string | Uint8Array): string {
  const text = input instanceof Uint8Array ? utf8Decode(input) : input;
  if (typeof text !== 'string' || text.length > tlogProofBytesMax || !isWellFormedText(text)) {
    throw tlogProofInvalid('encoding');
  }
  if (hasControlCharacter(text, true) || utf8Length(text) > tlogProofBytesMax)
    throw tlogProofInvalid('encoding');
  return text;
}

function parseExtra(line: string): Uint8Array {
  const extra = base64Decode(line.slice('extra '.length));
  if (extra === undefined || extra.length === 0 || extra.length > tlogProofExtraBytesMax) {
    throw tlogProofInvalid('extra');
  }
  return extra;
}

function parseIndex(line: string | undefined): bigint {
  const digits = line?.startsWith('index ') ? line.slice('index '.length) : '';
  if (!canonicalDecimal.test(digits) || BigInt(digits) > treeSizeMax) throw tlogProofInvalid('index');
  return BigInt(digits);
}

function parseHashes(lines: readonly string[]): Uint8Array[] {
  if (lines.length > inclusionProofHashesMax) throw tlogProofInvalid('too many proof hashes');
  return lines.map((line) => {
    const hash = base64Decode(line);
    if (hash === undefined || hash.length !== hashBytes) throw tlogProofInvalid('proof hash');
    return hash;
  });
}

/**
 * Parses a c2sp.org/tlog-proof v1 text strictly: the exact header, at most
 * one `extra` line (canonical base64, second line), `index N` (canonical
 * decimal), at most 64 canonical base64 SHA-256 hashes, an empty line, then
 * the checkpoint note verbatim (checked when it is opened, not here).
 * Anything else is TLOG_PROOF_INVALID.
 */
export function parseTlogProof(input: string | Uint8Array): TlogProof {
  const text = readText(input);
  const split = text.indexOf('\n\n');
  if (split < 0) throw tlogProofInvalid('no checkpoint');
  const checkpoint = text.slice(split + 2);
  if (checkpoint.length === 0) throw tlogProofInvalid('no checkpoint');
  const lines = text.slice(0, split).split('\n');
  if (lines[0] !== tlogProofHeader) throw tlogProofInvalid('header');
  let next = 1;
  const extra = lines[1]?.startsWith('extra ') ? parseExtra(lines[next++]!) : undefined;
  const index = parseIndex(lines[next++]);
  const proof = parseHashes(lines.slice(next));
  return Object.freeze({ index, proof: Object.freeze(proof), checkpoint, extra });
}
