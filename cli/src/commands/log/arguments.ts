/** Splits `--flag value` pairs from positional arguments. Flags may repeat; a flag without a value is an error. */
export interface ParsedArguments {
  readonly positional: string[];
  readonly flags: Map<string, string[]>;
}

export function parseArguments(
  args: readonly string[],
  allowedFlags: readonly string[],
): ParsedArguments | undefined {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const value = args[i + 1];
    if (!allowedFlags.includes(arg) || value === undefined) return undefined;
    flags.set(arg, [...(flags.get(arg) ?? []), value]);
    i++;
  }
  return { positional, flags };
}
