import type { CommandIo } from '../commands/io.ts';

/** A stream `mpay up` reports on: what the guard needs of process.stdout and process.stderr. */
export interface GuardedStream {
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** The guarded output of a long-running command, and how to stop guarding. */
export interface OutputGuard {
  /** `io`, writing to a stream only while it has not failed. */
  readonly io: CommandIo;
  /** Whether a write to that stream failed (it is written to no more). */
  broken(stream: 'stdout' | 'stderr'): boolean;
  /** Stops listening for the streams' errors (a later one is the process's again). */
  release(): void;
}

/**
 * `mpay up` runs for days and reports on a terminal that may go away (an SSH
 * session that dies: its writes fail with EIO, a closed pipe with EPIPE);
 * node would end the process on that stream's unhandled 'error'. From this
 * call on, an error of `streams.stdout` or `streams.stderr` only stops the
 * writes to that stream: the returned `io` writes to the other one still,
 * and drops what was meant for the failed one; the platform keeps running
 * (its logs that go elsewhere, to files or the supervisor's pipes, are not
 * affected). A write that throws counts as its stream's error.
 */
export function surviveOutputErrors(
  io: CommandIo,
  streams: { readonly stdout: GuardedStream; readonly stderr: GuardedStream } = process,
): OutputGuard {
  const failed = { stdout: false, stderr: false };
  const listeners = {
    stdout: () => {
      failed.stdout = true;
    },
    stderr: () => {
      failed.stderr = true;
    },
  };
  streams.stdout.on('error', listeners.stdout);
  streams.stderr.on('error', listeners.stderr);
  const writer =
    (which: 'stdout' | 'stderr') =>
    (text: string): void => {
      if (failed[which]) return;
      try {
        io[which](text);
      } catch {
        failed[which] = true;
      }
    };
  return {
    io: { stdout: writer('stdout'), stderr: writer('stderr') },
    broken: (which) => failed[which],
    release() {
      streams.stdout.off('error', listeners.stdout);
      streams.stderr.off('error', listeners.stderr);
    },
  };
}
