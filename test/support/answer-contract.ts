import {
  type AnswerChecker,
  type AnswerMismatch,
  checkAnswersWith,
  installedAnswerChecker,
  type JsonSchema,
} from '@mpay/http-server';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * The OpenAPI contract, checked as the e2e suites run (see @mpay/http-server
 * answer-check.ts): once installed, every server a platform starts validates
 * each answer it sends against its own document, and a mismatch is kept
 * here; the harness's close() fails the suite with the list. On by default
 * in test/e2e; MPAY_CHECK_ANSWERS=0 turns it off (e.g. to time a suite
 * without it). Cost: one Ajv compilation per documented (route, status,
 * media type) and a JSON.parse and validation per answer.
 */

const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new WeakMap<object, ValidateFunction>();
const mismatches: AnswerMismatch[] = [];
const checker: AnswerChecker = { validate, report: (mismatch) => mismatches.push(mismatch) };

function validate(schema: JsonSchema, value: unknown): string | undefined {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  return check(value) ? undefined : ajv.errorsText(check.errors).slice(0, 500);
}

/**
 * Installs the check for the servers created from now on (idempotent). A worker runs many files in
 * one process, and test/shared-worker-setup.ts removes the check before each: a file that installs
 * it starts with no mismatch of an earlier file's.
 */
export function installAnswerContract(): void {
  if (installedAnswerChecker() === checker || process.env.MPAY_CHECK_ANSWERS === '0') return;
  mismatches.length = 0;
  checkAnswersWith(checker);
}

/** The mismatches seen since the last call, as lines (and forgets them). */
export function takeAnswerMismatches(): string[] {
  const lines = mismatches.map(
    (mismatch) =>
      `${mismatch.service}: ${mismatch.method} ${mismatch.route} → ${mismatch.status}: ${mismatch.problem}`,
  );
  mismatches.length = 0;
  return [...new Set(lines)];
}

/** Throws with every mismatch seen since the last call (none: returns). */
export function assertAnswersMatchDocuments(): void {
  const lines = takeAnswerMismatches();
  if (lines.length > 0)
    throw new Error(`answers that do not match their OpenAPI documents:\n${lines.join('\n')}`);
}
