/**
 * A service process of `mpay up --processes` and `mpay chaos`: forked by the
 * supervisor (processes.ts) as `node --import tsx processes-main.ts NAME`,
 * with its layout in MPAY_PLATFORM_PROCESS and an IPC channel for "ready".
 * Not for starting by hand: without its supervisor it exits.
 */
import { platformProcessLayoutVariable, runPlatformService } from './processes-service.ts';

const [name] = process.argv.slice(2);
runPlatformService(name ?? '', process.env[platformProcessLayoutVariable]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `mpay ${name ?? 'service'}: ${String(error instanceof Error ? error.stack : error)}\n`,
    );
    process.exit(1);
  },
);
