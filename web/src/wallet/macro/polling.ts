import { useEffect, useState } from 'preact/hooks';

/** How often the page asks again while a party works in the background (the MPASP's step 6, the banks). */
export const pollIntervalMs = 1_000;

/**
 * Asks `read` every `pollIntervalMs` until it gives a value, which goes to
 * `onValue` once; a failed ask is shown (the last error) and asked again.
 * Stops when the component unmounts or `key` changes.
 */
export function usePolling<T>(
  key: string,
  read: () => Promise<T | undefined>,
  onValue: (value: T) => void,
): unknown {
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        try {
          const value = await read();
          if (stopped) return;
          setError(undefined);
          if (value !== undefined) {
            onValue(value);
            return;
          }
        } catch (caught) {
          if (stopped) return;
          setError(caught);
        }
        await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      }
    };
    void run();
    return () => {
      stopped = true;
    };
  }, [key]);
  return error;
}

/** The current time, ticking every second (for T_EXP's countdown). */
export function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
