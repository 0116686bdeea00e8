import { verifyReceipt } from '@mpay/merkle';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Button } from './components.tsx';
import { describeError } from './errors.ts';

/**
 * The "recorded in the public log" mark of a receipt, checked by the page
 * itself: it fetches the payment's evidence (the mpay-receipt/v1 file: the
 * signed messages, the log entry's inclusion proof and a witness-cosigned
 * checkpoint) and runs `verifyReceipt` (@mpay/merkle) in the browser with the
 * log's and the witnesses' keys of the deployment's config — never the keys
 * named inside the file. It says "checking", then "recorded in the public log
 * (entry N, tree size M)", or why it is not proven.
 *
 *   <LogMark
 *     log={config.log}
 *     transactionId={paymentId}
 *     message={receipt.jws}                      // a signed message the customer holds: it must be in the entry
 *     evidence={() => wallet.paymentEvidence(paymentId)}
 *   />
 */

/** The log's keys and origin, as `WebConfig['log']` gives them. */
export interface LogTrust {
  readonly origin: string;
  readonly logVerifierKey: string;
  readonly witnessVerifierKeys: readonly string[];
  readonly witnessesRequired: number;
}

/**
 * Where the evidence comes from: the file's text, or undefined while the log
 * has not proved the entry yet (the gateway's 202; asked again later).
 */
export type EvidenceSource = () => Promise<string | undefined>;

/** What the page proved about the entry, once every check held. */
export interface LogEntryProof {
  /** The entry's index in the log (0 is the first). */
  readonly entryIndex: bigint;
  /** The size of the tree whose signed checkpoint includes the entry. */
  readonly treeSize: bigint;
  readonly origin: string;
  /** The witnesses whose cosignatures on the checkpoint verified under the config's keys. */
  readonly witnesses: readonly string[];
}

export interface LogMarkLimits {
  /** How long the mark keeps asking while the log has not proved the entry yet (the gateway answers 202). */
  readonly pendingWaitMsMax: number;
  /** The first pause between two asks; it doubles up to `pollIntervalMsMax`. */
  readonly pollIntervalMsMin: number;
  readonly pollIntervalMsMax: number;
}

export const defaultLogMarkLimits: LogMarkLimits = Object.freeze({
  pendingWaitMsMax: 5 * 60_000,
  pollIntervalMsMin: 500,
  pollIntervalMsMax: 5_000,
});

/**
 * Verifies an evidence file as the page shows it: the Merkle inclusion proof
 * of the entry recomputed from the file's messages, the log's signature on
 * the checkpoint and enough witness cosignatures (all under `log`'s keys),
 * the log's origin, the payment it is about, and — when given — that it holds
 * `message` (e.g. the FSP's receipt the customer was given), so the entry is
 * about what the customer holds. Throws the failing check's stable code.
 */
export async function checkLogEvidence(
  evidence: string,
  log: LogTrust,
  expected: { readonly transactionId: string; readonly message?: string | undefined },
): Promise<LogEntryProof> {
  const verified = await verifyReceipt(evidence, {
    logVerifierKey: log.logVerifierKey,
    witnessVerifierKeys: log.witnessVerifierKeys,
    witnessesRequired: log.witnessesRequired,
  });
  const { checkpoint, witnesses, index } = verified.proof;
  if (checkpoint.origin !== log.origin) throw new MpayError('CHECKPOINT_INVALID', 'origin');
  if (verified.receipt.transactionId !== expected.transactionId)
    throw new MpayError('RECEIPT_INVALID', 'another payment');
  if (expected.message !== undefined && !verified.receipt.messages.includes(expected.message))
    throw new MpayError('RECEIPT_INVALID', 'the entry does not hold this receipt');
  return Object.freeze({
    entryIndex: index,
    treeSize: checkpoint.treeSize,
    origin: checkpoint.origin,
    witnesses: Object.freeze(witnesses.map((witness) => witness.name)),
  });
}

type MarkState =
  | { readonly state: 'checking'; readonly waiting: boolean }
  | { readonly state: 'verified'; readonly proof: LogEntryProof }
  | { readonly state: 'pending' }
  | { readonly state: 'failed'; readonly error: unknown };

/** What each failed check means, for a person. */
const failureText: Readonly<Record<string, string>> = {
  PROOF_INVALID: 'The inclusion proof does not lead to the root the log signed.',
  TLOG_PROOF_INVALID: 'The proof is malformed.',
  CHECKPOINT_INVALID: "The checkpoint is not the public log's.",
  NOTE_SIGNATURE_INVALID: "The log's signature on the checkpoint does not verify.",
  NOTE_KEY_UNKNOWN: "The checkpoint is not signed with the public log's key.",
  WITNESS_QUORUM_NOT_MET: 'Too few independent witnesses cosigned the checkpoint.',
  RECEIPT_INVALID: 'The log entry is not about this receipt.',
  EVIDENCE_UNKNOWN: 'The gateway has no log entry for this payment.',
  WALLET_LOCKED: 'Unlock the wallet to ask for the evidence.',
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Asks for the evidence until it comes or the wait runs out; a retryable failure is asked again too. */
async function fetchEvidence(
  source: EvidenceSource,
  limits: LogMarkLimits,
  signal: AbortSignal,
  onWaiting: () => void,
): Promise<string | undefined> {
  const deadline = Date.now() + limits.pendingWaitMsMax;
  for (let pauseMs = limits.pollIntervalMsMin; !signal.aborted; ) {
    try {
      const evidence = await source();
      if (evidence !== undefined) return evidence;
    } catch (error) {
      if (!isMpayError(error) || error.category !== 'retryable' || Date.now() >= deadline) throw error;
    }
    if (Date.now() >= deadline) return undefined;
    onWaiting();
    await sleep(Math.min(pauseMs, Math.max(0, deadline - Date.now())), signal);
    pauseMs = Math.min(pauseMs * 2, limits.pollIntervalMsMax);
  }
  return undefined;
}

/** The mark: checking → recorded (entry N, tree size M), or a clear failure with "Check again". */
export function LogMark(props: {
  readonly evidence: EvidenceSource;
  readonly log: LogTrust;
  readonly transactionId: string;
  readonly message?: string | undefined;
  readonly limits?: LogMarkLimits;
}): JSX.Element {
  const [mark, setMark] = useState<MarkState>({ state: 'checking', waiting: false });
  const [round, setRound] = useState(0);
  const { evidence, log, transactionId, message } = props;
  const limits = props.limits ?? defaultLogMarkLimits;
  // A new check per payment or per "Check again" (round), not per render's new closure.
  useEffect(() => {
    const abort = new AbortController();
    setMark({ state: 'checking', waiting: false });
    (async () => {
      const text = await fetchEvidence(evidence, limits, abort.signal, () => {
        if (!abort.signal.aborted) setMark({ state: 'checking', waiting: true });
      });
      if (abort.signal.aborted) return;
      if (text === undefined) return setMark({ state: 'pending' });
      const proof = await checkLogEvidence(text, log, { transactionId, message });
      if (!abort.signal.aborted) setMark({ state: 'verified', proof });
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) setMark({ state: 'failed', error });
    });
    return () => abort.abort();
  }, [transactionId, message, round]);
  const again = (
    <Button kind="secondary" onClick={() => setRound((value) => value + 1)}>
      Check again
    </Button>
  );
  switch (mark.state) {
    case 'checking':
      return (
        <div
          class="notice log-mark"
          role="status"
          aria-live="polite"
          data-testid="log-mark"
          data-state="checking"
        >
          <p class="busy">
            <span class="spinner" aria-hidden="true" />
            <strong>Checking the public log…</strong>
          </p>
          <p class="muted">
            {mark.waiting
              ? 'Waiting for the log to include this payment under a cosigned checkpoint.'
              : "Verifying the inclusion proof, the log's signature and the witnesses' cosignatures on this phone."}
          </p>
        </div>
      );
    case 'verified':
      return (
        <div class="notice notice-good log-mark" role="status" data-testid="log-mark" data-state="verified">
          <strong>
            ✓ Recorded in the public log (entry {mark.proof.entryIndex.toString()}, tree size{' '}
            {mark.proof.treeSize.toString()})
          </strong>
          <p class="muted">
            Checked on this phone: the Merkle inclusion proof, the signature of {mark.proof.origin} and the
            cosignature of {mark.proof.witnesses.join(', ')}.
          </p>
        </div>
      );
    case 'pending':
      return (
        <div class="notice notice-warn log-mark" role="alert" data-testid="log-mark" data-state="pending">
          <strong>Not in the public log yet</strong>
          <p>The log has not included this payment yet. The receipt stands; check again in a moment.</p>
          {again}
        </div>
      );
    case 'failed': {
      const described = describeError(mark.error);
      return (
        <div
          class="notice notice-bad log-mark"
          role="alert"
          data-testid="log-mark"
          data-state="failed"
          data-code={described.code}
        >
          <strong>✗ Not proven in the public log</strong>
          <p>{failureText[described.code] ?? described.title}</p>
          <p>Do not rely on this receipt's log record until the check passes.</p>
          <p class="notice-code">Code: {described.code}</p>
          {again}
        </div>
      );
    }
  }
}
