import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requestText } from '@mpay/http-client';
import { receiptBytesMax, type VerifiedReceipt, verifyReceipt, type WitnessPolicy } from '@mpay/merkle';
import { isErrorCode, MpayError } from '@mpay/protocol';
import { readJson } from './deployment.ts';

/** The log's and the witness's public keys from the data folder (written when the log first started). */
export async function logPolicyOf(dataDir: string): Promise<WitnessPolicy & { keyFiles: string[] }> {
  const keyFiles = [join(dataDir, 'keys', 'log.vkey'), join(dataDir, 'keys', 'log-witness.vkey')];
  const [logVerifierKey, witnessVerifierKey] = await Promise.all(
    keyFiles.map(async (path) => (await readFile(path, 'utf8')).trim()),
  );
  return {
    logVerifierKey: logVerifierKey!,
    witnessVerifierKeys: [witnessVerifierKey!],
    witnessesRequired: 1,
    keyFiles,
  };
}

/**
 * The payment's evidence file from the gateway (operator route), waiting while
 * the log has not yet put the entry under a cosigned checkpoint.
 */
export async function fetchEvidence(
  gatewayUrl: string,
  dataDir: string,
  paymentId: string,
  waitMs = 15_000,
): Promise<string> {
  const token = await readJson<string>(join(dataDir, 'keys', 'operator-token.json'));
  if (token === undefined) throw new MpayError('AUTHENTICATION_FAILED', `no operator token in ${dataDir}`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    // Read no further than a receipt can be, within one deadline for the head and the body.
    const answer = await requestText(
      `${gatewayUrl}/admin/payments/${encodeURIComponent(paymentId)}/evidence`,
      {
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: evidenceRequestTimeoutMs,
        responseBytesMax: receiptBytesMax,
      },
    );
    if (answer.status === 200) return answer.text;
    if (answer.status !== 202) {
      const code = errorCodeOf(answer.text);
      throw new MpayError(
        code === 'EVIDENCE_UNKNOWN' || code === 'PAYMENT_UNKNOWN' ? code : 'SERVICE_UNAVAILABLE',
        paymentId,
      );
    }
    if (Date.now() > deadline)
      throw new MpayError('SERVICE_UNAVAILABLE', 'the log has not proved the entry yet; try again');
    await new Promise((done) => setTimeout(done, 250));
  }
}

/** Each request for the evidence gives up after this long. */
const evidenceRequestTimeoutMs = 10_000;

/** The stable code of an mpay error answer, if the text is one. */
function errorCodeOf(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } } | null)?.error?.code;
    return isErrorCode(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

export function describeEvidence(verified: VerifiedReceipt): string {
  const witnesses = verified.proof.witnesses.map((witness) => witness.name).join(', ');
  return `${verified.receipt.messages.length} signed messages, log entry ${verified.proof.index} under checkpoint of size ${verified.proof.checkpoint.treeSize} (${verified.proof.checkpoint.origin}), cosigned by ${witnesses}`;
}

export { verifyReceipt };
