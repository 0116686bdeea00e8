import { createMacroServiceLimits, type MacroServiceLimits } from '@mpay/gateway';

/**
 * The MPASP's macro limits named by the environment: MPAY_MACRO_T_EXP_SECONDS
 * is T_EXP − T_iS, the time the client has for steps 2–7 (default 300 s, at
 * least 10), checked by the gateway's own validation. Undefined: the defaults.
 */
export function macroLimitsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<MacroServiceLimits> | undefined {
  const text = env.MPAY_MACRO_T_EXP_SECONDS?.trim();
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9]{1,9}$/.test(text))
    throw new Error('MPAY_MACRO_T_EXP_SECONDS must be a whole number of seconds');
  const limits = { transactionLifetimeSeconds: Number(text) };
  try {
    createMacroServiceLimits(limits);
  } catch (error) {
    throw new Error(`MPAY_MACRO_T_EXP_SECONDS: ${(error as Error).message}`);
  }
  return limits;
}
