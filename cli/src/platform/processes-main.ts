/**
 * A service process of `mpay up --processes` and `mpay chaos`: forked by the
 * supervisor (processes.ts) as `node --import tsx processes-main.ts NAME`,
 * with its layout in MPAY_PLATFORM_PROCESS and an IPC channel for "ready".
 * Not for starting by hand: without its supervisor it exits.
 */
import { platformProcessLayoutVariable, runPlatformService } from './processes-service.ts';

const [name] = process.argv.slice(2);
const layout = process.env[platformProcessLayoutVariable];
// The layout may carry a secret (the gateway's SMTP relay credentials): read once, then out of the
// environment, so nothing this process starts or reports (a diagnostic report) carries it on.
delete process.env[platformProcessLayoutVariable];
runPlatformService(name ?? '', layout).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `mpay ${name ?? 'service'}: ${String(error instanceof Error ? error.stack : error)}\n`,
    );
    process.exit(1);
  },
);
