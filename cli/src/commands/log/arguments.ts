/** Splits `--flag value` pairs and `--switch` flags from positional arguments. Value flags may repeat. */
export interface ParsedArguments {
  readonly positional: string[];
  readonly flags: Map<string, string[]>;
  readonly switches: Set<string>;
}

/** Undefined for an unknown flag, or a value flag without a value. */
export function parseArguments(
  args: readonly string[],
  allowedFlags: readonly string[],
  allowedSwitches: readonly string[] = [],
): ParsedArguments | undefined {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const switches = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    if (allowedSwitches.includes(arg)) {
      switches.add(arg);
      continue;
    }
    const value = args[i + 1];
    if (!allowedFlags.includes(arg) || value === undefined) return undefined;
    flags.set(arg, [...(flags.get(arg) ?? []), value]);
    i++;
  }
  return { positional, flags, switches };
}

/** The one value of a flag that may appear at most once; null when it appears more often. */
export function singleValue(parsed: ParsedArguments, flag: string): string | undefined | null {
  const values = parsed.flags.get(flag) ?? [];
  return values.length > 1 ? null : values[0];
}
