import {
  type CosignedCheckpoint,
  type VerifiedTlogProof,
  verifyReceipt,
  verifyTlogProof,
  type WitnessPolicy,
} from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import { parseArguments, singleValue } from './arguments.ts';
import { readKey, readTextFile } from './files.ts';
import { exitOk, type LogCommandIo } from './io.ts';

const canonicalHashBase64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

interface VerifyRequest {
  readonly file: string;
  readonly policy: WitnessPolicy;
  readonly leafHash?: Uint8Array | undefined;
}

async function requestOf(args: readonly string[], io: LogCommandIo): Promise<VerifyRequest | undefined> {
  const parsed = parseArguments(args, ['--log-key', '--witness-key', '--witnesses', '--leaf-hash']);
  if (parsed === undefined || parsed.positional.length !== 1) return undefined;
  const logKeyFile = singleValue(parsed, '--log-key');
  const required = singleValue(parsed, '--witnesses');
  const leafHash = singleValue(parsed, '--leaf-hash');
  const witnessKeyFiles = parsed.flags.get('--witness-key') ?? [];
  if (logKeyFile == null || required === null || leafHash === null) return undefined;
  if (required !== undefined && !/^(0|[1-9][0-9]?)$/.test(required)) return undefined;
  const witnessesRequired = required === undefined ? 1 : Number(required);
  if (witnessesRequired > witnessKeyFiles.length) return undefined;
  if (leafHash !== undefined && !canonicalHashBase64.test(leafHash)) return undefined;
  return {
    file: parsed.positional[0]!,
    policy: {
      logVerifierKey: await readKey(io, logKeyFile),
      witnessVerifierKeys: await Promise.all(witnessKeyFiles.map((path) => readKey(io, path))),
      witnessesRequired,
    },
    leafHash: leafHash === undefined ? undefined : new Uint8Array(Buffer.from(leafHash, 'base64')),
  };
}

function summary(subject: string, proof: VerifiedTlogProof & CosignedCheckpoint): string {
  const { origin, treeSize } = proof.checkpoint;
  const witnesses = proof.witnesses.map(
    (w) => `  cosigned by ${w.name} at ${new Date(Number(w.timestamp) * 1000).toISOString()}\n`,
  );
  return `verified: ${subject} is entry ${proof.index} of ${origin} (tree size ${treeSize})\n${witnesses.join('')}`;
}

/**
 * `verify FILE --log-key FILE [--witness-key FILE ...] [--witnesses N] [--leaf-hash B64]`:
 * an mpay receipt (JSON) or a bare c2sp.org/tlog-proof (with --leaf-hash),
 * checked offline with the given keys only. Exit 0 only when it verifies.
 */
export async function runVerify(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const request = await requestOf(args, io);
  if (request === undefined) return undefined;
  const text = await readTextFile(io, request.file, 'file');
  if (text.trimStart().startsWith('{')) {
    if (request.leafHash !== undefined)
      throw new MpayError('REQUEST_INVALID', 'a receipt carries its own leaf');
    const verified = await verifyReceipt(text, request.policy);
    io.stdout(summary(`transaction ${verified.receipt.transactionId}`, verified.proof));
    return exitOk;
  }
  if (request.leafHash === undefined)
    throw new MpayError('REQUEST_INVALID', 'a bare tlog-proof needs --leaf-hash');
  const verified = await verifyTlogProof(text, { ...request.policy, leafHash: request.leafHash });
  io.stdout(summary(`leaf ${Buffer.from(request.leafHash).toString('base64')}`, verified));
  return exitOk;
}
