export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** `--name value`, `--name=value` and bare `--flag` into a map; the rest stay positional. */
/** The flags that take a value, for a command that declares none of its own (main.ts's table declares the others'). */
const defaultValueFlags: readonly string[] = ['out', 'data', 'format', 'level', 'amount', 'fail', 'gateways'];

export function parseFlags(
  args: readonly string[],
  valueFlags: readonly string[] = defaultValueFlags,
): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const next = args[index + 1];
    if (inline !== undefined) flags.set(name, inline);
    else if (next !== undefined && !next.startsWith('--') && valueFlags.includes(name)) {
      flags.set(name, next);
      index += 1;
    } else flags.set(name, 'true');
  }
  return { flags, positional };
}

/**
 * How `mpay up` runs once started: until the process is asked to stop (Ctrl-C, SIGTERM), or until
 * `failed` gives a reason to (a service given up on), then says so and runs `stop`. Returns that
 * reason, or undefined when asked to stop.
 */
export async function serveUntilStopSignal(
  io: CommandIo,
  stop: () => Promise<void>,
  failed?: Promise<string>,
): Promise<string | undefined> {
  let signalled: () => void = () => {};
  const asked = new Promise<undefined>((done) => {
    signalled = () => done(undefined);
  });
  // Kept until `stop` is done: a second Ctrl-C or a SIGTERM (systemd, docker stop) while stopping does not
  // kill the process half way (the default action), it lets the stop finish.
  process.on('SIGINT', signalled);
  process.on('SIGTERM', signalled);
  try {
    const reason = await Promise.race(failed === undefined ? [asked] : [asked, failed]);
    if (reason === undefined) io.stdout('mpay: stopping …\n');
    else io.stderr(`mpay: ${reason}\n`);
    await stop();
    return reason;
  } finally {
    process.removeListener('SIGINT', signalled);
    process.removeListener('SIGTERM', signalled);
  }
}

/** The signals that ask a command to stop: Ctrl-C, and SIGTERM (kill, systemd, docker stop, a CI's timeout). */
export const stopSignals = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof stopSignals)[number];

/** A command's exit status when stopped by `signal`, as a shell reports it: 128 + the signal's number (130, 143). */
export function stopSignalStatus(signal: StopSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/**
 * Calls `stopping` on the first SIGINT or SIGTERM while registered, never again. It replaces the
 * default action (the process killed at once, whatever it started left behind). Returns the function
 * that unregisters it.
 */
export function onStopSignal(stopping: (signal: StopSignal) => void): () => void {
  let called = false;
  const listeners = stopSignals.map((signal) => {
    const listener = () => {
      if (called) return;
      called = true;
      stopping(signal);
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
  };
}

/** What a command that cleans up on a stop signal holds (watchStopSignals). */
export interface StopSignalWatch {
  /** Adds a clean-up step; on a stop signal the steps run last added first, each once, failures said and passed over. */
  onStop(step: () => unknown): void;
  /** The status to exit with (130, 143) once a stop signal came; undefined while none has. */
  stoppedStatus(): number | undefined;
  /**
   * Runs the command's work and gives its status, then unregisters. Once a stop signal came, the
   * work's outcome (often a failure the stop caused) is passed over: the process exits with the
   * signal's status when the clean-up is done.
   */
  finish(work: () => Promise<number>): Promise<number>;
}

/**
 * How long after a stop signal another one is taken as the same request, not as "stop now": Ctrl-C
 * signals the whole process group, and npx (`npx mpay …`) forwards the signal it got to its child,
 * so one Ctrl-C can arrive twice, a little apart.
 */
export const stopSignalRepeatGraceMs = 2_000;

/**
 * For a command that starts what outlives its own memory (a platform, a softhsm2 token, PostgreSQL
 * schemas, a temporary folder) and must remove it even when told to stop: on the first SIGINT or
 * SIGTERM it says so, sets the signal's exit status, runs the clean-up steps (those added while it
 * runs too), then exits with that status. A second signal past `repeatGraceMs`, or a clean-up
 * longer than `cleanUpMsMax`, exits at once, saying some of it may be left.
 */
export function watchStopSignals(options: {
  readonly io: CommandIo;
  /** Who speaks: "bench e2e". */
  readonly command: string;
  /** The clean-up's limit; it must cover waiting for a start under way (the platform is closed once started). */
  readonly cleanUpMsMax: number;
  /** Default stopSignalRepeatGraceMs. */
  readonly repeatGraceMs?: number;
}): StopSignalWatch {
  const { io, command } = options;
  const repeatGraceMs = options.repeatGraceMs ?? stopSignalRepeatGraceMs;
  const steps: (() => unknown)[] = [];
  let status: number | undefined;
  let stopping: Promise<never> | undefined;
  const exitNow = (why: string) => {
    io.stderr(`${command}: ${why}; exiting without finishing the clean-up (some of it may be left)\n`);
    process.exit(status);
  };
  const cleanUp = async () => {
    // Last added first; a step added meanwhile (a start that ended under the signal) runs too.
    for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
      try {
        await step();
      } catch (error) {
        io.stderr(
          `${command}: a clean-up step failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
    }
  };
  const unregister = onStopSignal((signal) => {
    status = stopSignalStatus(signal);
    // Should the process end by itself before the clean-up calls exit, it still says how it was stopped.
    process.exitCode = status;
    io.stderr(`${command}: ${signal}; cleaning up what it started, then exiting\n`);
    const stoppedAt = performance.now();
    for (const each of stopSignals)
      process.on(each, () => {
        if (performance.now() - stoppedAt >= repeatGraceMs) exitNow('told to stop again');
      });
    setTimeout(
      () => exitNow(`the clean-up took longer than ${options.cleanUpMsMax / 1000} s`),
      options.cleanUpMsMax,
    ).unref();
    stopping = cleanUp().then(() => process.exit(status));
  });
  return {
    onStop: (step) => {
      steps.push(step);
    },
    stoppedStatus: () => status,
    finish: async (work) => {
      let code: number;
      try {
        code = await work();
      } catch (error) {
        if (stopping === undefined) throw error;
        code = 1;
      } finally {
        if (stopping === undefined) unregister();
      }
      // The clean-up exits the process when done; the work's own status no longer counts.
      if (stopping !== undefined) await stopping;
      return code;
    },
  };
}

// Text from elsewhere (a message, a mail, an argument) is printed without its escape sequences.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const terminalControls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with every terminal control character but tab and newline replaced by U+FFFD. */
export function printable(text: string): string {
  return text.replace(terminalControls, '\uFFFD');
}
