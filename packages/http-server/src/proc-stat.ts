/**
 * One process's line of /proc/<pid>/stat (proc(5)), the fields mpay reads:
 * its parent, its CPU times in clock ticks (USER_HZ) and its start time.
 */
export interface ProcStatFields {
  /** Field 4. */
  readonly ppid: number;
  /** Fields 14 and 15: its own CPU in user mode and in the kernel. */
  readonly userTicks: number;
  readonly kernelTicks: number;
  /** Fields 16 and 17: the same for its children that ended and were waited for. */
  readonly childrenUserTicks: number;
  readonly childrenKernelTicks: number;
  /** Field 22: when it started, in ticks since the machine booted (with its pid, names one process). */
  readonly startTicks: number;
}

/**
 * Reads the text of /proc/<pid>/stat, or undefined when it is not one. The
 * command name (field 2) is in parentheses and may hold spaces and
 * parentheses itself: the other fields follow its last ')'.
 */
export function parseProcStat(text: string): ProcStatFields | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // From the state (field 3) on: field n is at n - 3.
  const fields = text.slice(close + 2).split(' ');
  const at = (field: number) => Number(fields[field - 3]);
  const parsed = {
    ppid: at(4),
    userTicks: at(14),
    kernelTicks: at(15),
    childrenUserTicks: at(16),
    childrenKernelTicks: at(17),
    startTicks: at(22),
  };
  return Object.values(parsed).every(Number.isSafeInteger) ? parsed : undefined;
}
