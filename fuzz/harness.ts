import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';

/**
 * One fuzz campaign: a parser of network input, and the inputs it is fed. `prepare` builds the valid
 * seeds with the real encoders (keys, signatures) once; the property is that `run` returns a value or
 * throws an MpayError, and that its promise (if any) settles, within the time limit.
 */
export interface Campaign {
  readonly name: string;
  /** What the campaign calls, for the report. */
  readonly covers: string;
  readonly prepare: () => Promise<PreparedCampaign>;
}

export interface PreparedCampaign {
  readonly arbitrary: fc.Arbitrary<unknown>;
  readonly run: (input: unknown) => unknown;
}

/** Builds a campaign with its input type checked against its run function. */
export function campaign<T>(
  name: string,
  covers: string,
  prepare: () => Promise<{ arbitrary: fc.Arbitrary<T>; run: (input: T) => unknown }>,
): Campaign {
  return { name, covers, prepare: prepare as () => Promise<PreparedCampaign> };
}

/** The named limits of a campaign. */
export interface FuzzLimits {
  /** One case (parse or verify one input) longer than this fails the campaign. */
  readonly caseTimeMsMax: number;
  /** Heap growth over the whole campaign (after garbage collection, when `--expose-gc`) beyond this fails it. */
  readonly heapGrowthMbMax: number;
}

export const defaultFuzzLimits: FuzzLimits = Object.freeze({ caseTimeMsMax: 2_000, heapGrowthMbMax: 256 });

export interface CampaignOptions {
  readonly cases: number;
  readonly seed?: number | undefined;
  /** A failing case's path, to replay exactly it (with its seed). */
  readonly path?: string | undefined;
  readonly limits?: FuzzLimits;
  /** Called at most every `progressEveryMs` while running. */
  readonly onProgress?: (done: number, elapsedMs: number) => void;
  readonly progressEveryMs?: number;
}

export interface CampaignResult {
  readonly name: string;
  readonly cases: number;
  readonly seed: number;
  readonly crashes: number;
  readonly slowestCaseMs: number;
  readonly heapDeltaMb: number;
  readonly durationMs: number;
  /** Why the campaign failed, with the replay command, or undefined. */
  readonly failure: string | undefined;
}

/** A thrown value that is not an MpayError: the parser crashed. */
export class ParserCrash extends Error {
  constructor(readonly thrown: unknown) {
    super(
      `not an MpayError: ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`,
      { cause: thrown },
    );
    this.name = 'ParserCrash';
  }
}

class CaseTooSlow extends Error {
  constructor(elapsedMs: number, limitMs: number) {
    super(`one case took ${elapsedMs.toFixed(0)} ms, above the limit of ${limitMs} ms`);
    this.name = 'CaseTooSlow';
  }
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

const heapUsedMb = () => process.memoryUsage().heapUsed / (1024 * 1024);

function shortened(text: string, lengthMax = 2_000): string {
  return text.length <= lengthMax ? text : `${text.slice(0, lengthMax)}… (${text.length} characters)`;
}

/** A stack with the frames of a deep recursion said once, so that the frames around it stay visible. */
function withoutRepeatedFrames(stack: string): string {
  const lines = stack.split('\n');
  const kept = lines.filter((line, index) => !lines.slice(Math.max(0, index - 4), index).includes(line));
  return kept.length === lines.length
    ? stack
    : `${kept.join('\n')}\n(${lines.length - kept.length} repeated frames left out)`;
}

/** fast-check's printout of a value; a value nested too deep for it is summarised, its nesting unrolled. */
function printable(value: unknown): string {
  try {
    return fc.stringify(value);
  } catch {
    return summarised(value, 0);
  }
}

function summarised(value: unknown, depth: number): string {
  if (depth >= 8) {
    let nesting = 0;
    let inner = value;
    while (typeof inner === 'object' && inner !== null && nesting < 1_000_000) {
      inner = Array.isArray(inner) ? inner[0] : Object.values(inner)[0];
      nesting += 1;
    }
    return `<${nesting} more levels of nesting around ${typeof inner === 'string' ? JSON.stringify(inner) : String(inner)}>`;
  }
  if (Array.isArray(value)) return `[${value.map((item) => summarised(item, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${summarised(item, depth + 1)}`)
      .join(',')}}`;
  return typeof value === 'bigint'
    ? `${value}n`
    : typeof value === 'string'
      ? JSON.stringify(value)
      : String(value);
}

/** Runs one campaign: `options.cases` cases through fast-check, shrinking the first failure. */
export async function runCampaign(campaign: Campaign, options: CampaignOptions): Promise<CampaignResult> {
  const limits = options.limits ?? defaultFuzzLimits;
  const prepared = await campaign.prepare();
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x1_0000_0000)) | 0;
  let done = 0;
  let slowestCaseMs = 0;
  const started = performance.now();
  let lastProgress = started;
  const progressEveryMs = options.progressEveryMs ?? 2_000;
  collectGarbage();
  const heapBefore = heapUsedMb();

  const property = fc.asyncProperty(prepared.arbitrary, async (input) => {
    const caseStarted = performance.now();
    try {
      await prepared.run(input);
    } catch (error) {
      if (!isMpayError(error)) throw new ParserCrash(error);
    } finally {
      done += 1;
    }
    const elapsedMs = performance.now() - caseStarted;
    if (elapsedMs > slowestCaseMs) slowestCaseMs = elapsedMs;
    if (elapsedMs > limits.caseTimeMsMax) throw new CaseTooSlow(elapsedMs, limits.caseTimeMsMax);
    if (options.onProgress !== undefined && caseStarted - lastProgress >= progressEveryMs) {
      lastProgress = caseStarted;
      options.onProgress(done, caseStarted - started);
    }
  });

  const details = await fc.check(property, {
    numRuns: options.cases,
    seed,
    ...(options.path === undefined ? {} : { path: options.path, endOnFailure: true }),
    // A promise that never settles fails the case after the time limit instead of hanging the run.
    timeout: limits.caseTimeMsMax * 2,
    // The generated values are kept small; each case is independent.
    verbose: 0,
  });
  const durationMs = performance.now() - started;
  collectGarbage();
  const heapDeltaMb = heapUsedMb() - heapBefore;

  let failure: string | undefined;
  if (details.failed) {
    const counterexample = details.counterexample === null ? 'none' : printable(details.counterexample[0]);
    const error = details.errorInstance;
    const cause = error instanceof ParserCrash ? error.thrown : error;
    const stack = cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause);
    failure = [
      `campaign ${campaign.name} failed after ${details.numRuns} runs (${details.numShrinks} shrinks)`,
      `  error: ${error instanceof Error ? error.message : String(error)}`,
      `  stack: ${shortened(withoutRepeatedFrames(stack), 1_500).split('\n').join('\n    ')}`,
      `  counterexample: ${shortened(counterexample)}`,
      `  replay: npm run fuzz -- --campaign ${campaign.name} --seed ${details.seed} --path ${details.counterexamplePath}`,
    ].join('\n');
  } else if (heapDeltaMb > limits.heapGrowthMbMax) {
    failure = `campaign ${campaign.name}: heap grew by ${heapDeltaMb.toFixed(1)} MB, above the limit of ${limits.heapGrowthMbMax} MB (seed ${seed})`;
  }
  return {
    name: campaign.name,
    cases: details.numRuns,
    seed,
    // fast-check stops at the first failure (then shrinks it): a campaign reports at most one crash.
    crashes: details.failed && details.errorInstance instanceof ParserCrash ? 1 : 0,
    slowestCaseMs,
    heapDeltaMb,
    durationMs,
    failure,
  };
}

/**
 * Runs several parsers on one input; rethrows the first throw that is not an MpayError (a crash),
 * so that one parser refusing the input cannot hide another one crashing on it.
 */
export async function runEach(runs: readonly (() => unknown)[]): Promise<void> {
  const results = await Promise.allSettled(runs.map((run) => Promise.resolve().then(run)));
  for (const result of results)
    if (result.status === 'rejected' && !isMpayError(result.reason)) throw result.reason;
}
