/**
 * A command under watchStopSignals, for ./stop-signals.test.ts: prints "ready" once its work runs,
 * then waits for a signal. argv: the clean-up (`quick`: 100 ms; `endless`: never ends), the
 * clean-up's limit in ms, what the work does once stopped (`fails`: throws at once, as a bench's
 * driver does once killed; `waits`: never ends; `ends`: returns 0 before any signal), and the
 * grace for a repeated signal in ms (absent: the default).
 */
import { processIo, watchStopSignals } from './io.ts';

const [cleanUp, cleanUpMsMax, work, repeatGraceMs] = process.argv.slice(2);
const watch = watchStopSignals({
  io: processIo,
  command: 'child',
  cleanUpMsMax: Number(cleanUpMsMax),
  ...(repeatGraceMs === undefined ? {} : { repeatGraceMs: Number(repeatGraceMs) }),
});
watch.onStop(() => {
  process.stdout.write('first step added, run last\n');
});
watch.onStop(
  () =>
    new Promise<void>((done) => {
      process.stdout.write('cleaning\n');
      if (cleanUp === 'quick')
        setTimeout(() => {
          process.stdout.write('cleaned\n');
          done();
        }, 100);
    }),
);
const status = await watch.finish(
  () =>
    new Promise<number>((done, fail) => {
      process.stdout.write('ready\n');
      if (work === 'ends') done(0);
      // Kept alive until a signal: the work has nothing else pending.
      const alive = setInterval(() => undefined, 60_000);
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => {
          if (work === 'fails') {
            clearInterval(alive);
            fail(new Error('stopped under the work'));
          }
        });
    }),
);
process.stdout.write(`work ended: ${status}\n`);
process.exit(status);
