import { isMpayError, parseSecretAnswer } from '@mpay/protocol';
import { type Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * SAns (seed 002 §3: "the server gets the answer for secret question from the
 * client") is kept only as an Argon2id verifier of its normalised form
 * (`normalizeSecretAnswer`: NFKC, trimmed, spaces collapsed, case folded): a
 * slow, salted, memory-hard hash, so that a copy of the database costs an
 * attacker ~10 ms and 19 MiB per guess and per client. The parameters are
 * OWASP's first Argon2id choice (m = 19 MiB, t = 2, p = 1), the ones measured
 * in DESIGN.md; the PHC string keeps them, so a later change still checks old
 * verifiers.
 */
export const secretAnswerVerifierParameters = Object.freeze({
  // Algorithm.Argon2id: the package's const enum cannot be read under isolatedModules.
  algorithm: 2 as Algorithm,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
});

/** The verifier of an answer already normalised (what `parseSecretAnswer` returns). */
export async function secretAnswerVerifier(normalizedAnswer: string): Promise<string> {
  const verifier = await hash(normalizedAnswer, secretAnswerVerifierParameters);
  if (!verifier.startsWith('$argon2id$')) throw new Error('assertion failed: an Argon2id verifier');
  return verifier;
}

/**
 * Whether `answer` (as typed) is the stored answer: normalised as at
 * registration, then checked against the verifier. An answer that is not a
 * valid answer at all is simply wrong (false), never an error that says why.
 */
export async function checkSecretAnswer(verifier: string, answer: unknown): Promise<boolean> {
  let normalized: string;
  try {
    normalized = parseSecretAnswer(answer);
  } catch (error) {
    if (isMpayError(error)) return false;
    throw error;
  }
  return verify(verifier, normalized);
}
