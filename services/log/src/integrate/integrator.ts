import type { FastifyInstance } from 'fastify';
import type { IntegrationResult } from './integrate.ts';

/** Most integrations one timer tick runs back to back while full batches keep coming. */
export const integrationsPerTickMax = 10;

/**
 * Runs integrations one at a time. A tick integrates again at once while a
 * batch came out full (up to integrationsPerTickMax), so a backlog drains
 * faster than one batch per interval. An assertion failure halts it for good
 * (never sign on corrupt state).
 */
export function createIntegrator(
  app: FastifyInstance,
  integrate: () => Promise<IntegrationResult>,
  batchSizeMax: number,
) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<IntegrationResult> | undefined;
  let ticking: Promise<void> | undefined;
  let halted = false;
  const integrateNow = async (): Promise<IntegrationResult> => {
    if (halted) throw new Error('assertion failed: log halted after a broken invariant');
    while (running !== undefined) await running.catch(() => undefined);
    running = integrate();
    try {
      return await running;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('assertion failed')) {
        halted = true;
        app.log.fatal({ err: error }, 'log halted: invariant broken, no checkpoint signed');
      }
      throw error;
    } finally {
      running = undefined;
    }
  };
  const tick = async () => {
    for (let i = 0; i < integrationsPerTickMax; i++) {
      if ((await integrateNow()).appended < batchSizeMax) return;
    }
  };
  const integrator = {
    integrateNow,
    get halted() {
      return halted;
    },
    start(intervalMs: number) {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        if (ticking !== undefined) return;
        ticking = tick()
          .catch((error: unknown) => {
            app.log.error({ err: error }, 'integration failed');
            if (halted) integrator.stop();
          })
          .finally(() => {
            ticking = undefined;
          });
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
    /** Resolves once no integration is running (for a clean close). */
    async idle() {
      await ticking;
      while (running !== undefined) await running.catch(() => undefined);
    },
  };
  return integrator;
}
