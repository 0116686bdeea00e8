/** What the log commands need from the outside world; the `mpay` binary passes Node's, tests pass memory. */
export interface LogCommandIo {
  stdin: () => Promise<string>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => Promise<string>;
  /**
   * Writes a new file. `exclusive`: fail if it exists (Node: flag 'wx');
   * `mode`: permission bits (0o600 for signer keys).
   */
  writeFile?: (
    path: string,
    contents: string,
    options: { mode: number; exclusive: boolean },
  ) => Promise<void>;
  /**
   * Resolves when a server command (`serve`, `witness`) should stop; the
   * `mpay` binary waits for SIGINT or SIGTERM, tests resolve it themselves.
   */
  waitForStop?: () => Promise<void>;
}

export const exitOk = 0;
/** Verification failed or an input was rejected; stderr names the error code. */
export const exitFailure = 1;
/** The command line itself is wrong; stderr shows the usage. */
export const exitUsage = 2;
