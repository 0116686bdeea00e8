/**
 * The `code` of what `run` throws (an MpayError's stable code), or undefined
 * when it returns: for tests that expect a refusal by code.
 */
export function thrownCodeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

/** The `code` of what `promise` rejects with (an MpayError's stable code), or undefined when it resolves. */
export async function rejectedCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

/** The `code` of an error already caught (an MpayError's stable code), or undefined when it has none. */
export function codeOfError(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}
