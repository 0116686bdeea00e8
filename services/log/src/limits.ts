import { entryBatchLimits, inclusionBatchIndicesMax } from '@mpay/log-client';

/** Every limit of the log service, as named, validated options. */
export interface LogLimits {
  /** Largest request body accepted (413 above). */
  readonly bodyLimitBytes: number;
  /** Canonical JSON of an entry's metadata, in UTF-8 bytes. */
  readonly metadataBytesMax: number;
  /** Most entries one integration appends (and one checkpoint covers beyond the last). */
  readonly batchSizeMax: number;
  /** Most submitted entries waiting for integration; beyond it submissions get SERVICE_UNAVAILABLE. */
  readonly pendingEntriesMax: number;
  /** Time between integrations run by the timer. */
  readonly integrationIntervalMs: number;
  /** Each request to a witness is abandoned after this long (the checkpoint is published without it). */
  readonly witnessTimeoutMs: number;
  /** Submissions waiting to be written in the next group commit; beyond it SERVICE_UNAVAILABLE. */
  readonly submissionQueueMax: number;
  /** Most entries in one POST /entry-batches (REQUEST_INVALID above). */
  readonly submissionBatchEntriesMax: number;
  /** Largest body of one POST /entry-batches (413 above); every other request keeps bodyLimitBytes. */
  readonly submissionBatchBodyLimitBytes: number;
  /** Most leaves one GET /proofs/inclusions proves (REQUEST_INVALID above). */
  readonly proofBatchIndicesMax: number;
}

const logDefaults: LogLimits = {
  bodyLimitBytes: 8 * 1024,
  metadataBytesMax: 2 * 1024,
  batchSizeMax: 10_000,
  pendingEntriesMax: 100_000,
  integrationIntervalMs: 1_000,
  witnessTimeoutMs: 3_000,
  submissionQueueMax: 10_000,
  // The batches' limits are the ones every client of the log sends within (@mpay/log-client): one
  // definition, so a log on its defaults never refuses a batch for its size. A log configured below
  // them refuses every batch; its submitters then fall back to single requests.
  submissionBatchEntriesMax: entryBatchLimits.entriesMax,
  submissionBatchBodyLimitBytes: entryBatchLimits.bodyBytesMax,
  proofBatchIndicesMax: inclusionBatchIndicesMax,
};

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`log limits: ${name} must be an integer in ${min}..${max}`);
  }
}

export function createLogLimits(options: Partial<LogLimits> = {}): LogLimits {
  const limits = { ...logDefaults, ...options };
  checkInteger('bodyLimitBytes', limits.bodyLimitBytes, 256, 1024 * 1024);
  checkInteger('metadataBytesMax', limits.metadataBytesMax, 2, limits.bodyLimitBytes);
  checkInteger('batchSizeMax', limits.batchSizeMax, 1, 100_000);
  checkInteger('pendingEntriesMax', limits.pendingEntriesMax, 1, 100_000_000);
  checkInteger('integrationIntervalMs', limits.integrationIntervalMs, 10, 3_600_000);
  checkInteger('witnessTimeoutMs', limits.witnessTimeoutMs, 100, 60_000);
  checkInteger('submissionQueueMax', limits.submissionQueueMax, 1, 1_000_000);
  checkInteger('submissionBatchEntriesMax', limits.submissionBatchEntriesMax, 1, limits.submissionQueueMax);
  checkInteger(
    'submissionBatchBodyLimitBytes',
    limits.submissionBatchBodyLimitBytes,
    limits.bodyLimitBytes,
    8 * 1024 * 1024,
  );
  checkInteger('proofBatchIndicesMax', limits.proofBatchIndicesMax, 1, 1_000);
  return Object.freeze(limits);
}
