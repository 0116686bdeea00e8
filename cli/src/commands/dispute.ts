import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { dataDirOf, readDeployment } from './deployment.ts';
import { describeEvidence, fetchEvidence, logPolicyOf, verifyReceipt } from './evidence.ts';
import type { CommandIo } from './io.ts';

/**
 * `mpay dispute PAYMENT_ID [--out FILE]`: the evidence a third party needs to
 * settle a dispute about a payment, in one file — the merchant's, the FSP's
 * and the customer's signatures and the FSP's receipt (compact JWS), the log
 * entry's inclusion proof and a checkpoint cosigned by the witness. It is
 * verified here before it is written; anyone re-checks it offline with
 * `mpay log verify FILE --log-key … --witness-key …`.
 */
export async function runDispute(
  args: readonly string[],
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const [paymentId] = args;
  if (paymentId === undefined) {
    io.stderr('usage: mpay dispute PAYMENT_ID [--out FILE] [--data DIR]\n');
    return 2;
  }
  const dataDir = dataDirOf(flags);
  const deployment = await readDeployment(dataDir);
  const evidence = await fetchEvidence(deployment.gateway, dataDir, paymentId);
  const policy = await logPolicyOf(dataDir);
  const verified = await verifyReceipt(evidence, policy);
  if (verified.receipt.transactionId !== paymentId) throw new MpayError('RECEIPT_INVALID', 'transactionId');
  const out = resolve(flags.get('out') ?? `dispute-${paymentId}.json`);
  await writeFile(out, evidence);
  io.stdout(
    [
      `wrote ${out}: ${describeEvidence(verified)}`,
      'anyone can check it offline with only the public keys:',
      `  npx mpay log verify ${out} --log-key ${policy.keyFiles[0]} --witness-key ${policy.keyFiles[1]}`,
      '',
    ].join('\n'),
  );
  return 0;
}
