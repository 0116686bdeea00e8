import type { WitnessPolicy } from '@mpay/merkle';
import type { FastifyInstance } from 'fastify';
import { type ConsoleLimits, createConsoleLimits } from './limits.ts';
import { LogMonitor } from './log-monitor.ts';
import { MetricsHistory } from './metrics-history.ts';
import { type ConsoleContext, registerConsoleRoutes } from './routes.ts';
import { type ConsoleBank, fetchBoundedText, gatewayOperator } from './services.ts';
import { SessionStore, SignInLimiter } from './sessions.ts';

export type { ConsoleLimits } from './limits.ts';
export type { ConsoleBank } from './services.ts';

export interface ConsoleOptions {
  /** The FSP operator's token (`<data>/keys/operator-token.json`): signs the operator in, and calls the gateway. */
  readonly operatorToken: string;
  readonly gatewayUrl: string;
  /**
   * Each gateway instance's own address, when several run behind `gatewayUrl`:
   * the charts' counts are each process's own, so every instance is scraped
   * and their counts summed (a scrape of the front would reach one of them).
   */
  readonly gatewayInstanceUrls?: readonly string[] | undefined;
  /** Every bank with its operator's signing key (for audits, positions, settlement, accounts). */
  readonly banks: readonly ConsoleBank[];
  /** The transaction log and the keys its checkpoints must verify under. */
  readonly log: { readonly url: string; readonly policy: WitnessPolicy };
  /** The currency customers' accounts are opened in. */
  readonly currency: string;
  /** The witness's alarms by code, when it runs in this process (a fork or rollback it refused). */
  readonly witnessAlarms?: (() => Readonly<Record<string, number>>) | undefined;
  readonly clock?: (() => Date) | undefined;
  readonly limits?: Partial<ConsoleLimits> | undefined;
}

/**
 * The operator console's backend, for `startWebServer({ extensions })`: the
 * console's API under /console/api, behind a server-side session that only
 * the operator token opens, and the calls to the services made here with the
 * operator's credentials, which never reach the browser. It scrapes the
 * gateway's metrics and checks the log's checkpoint every interval, and
 * stops when the web server closes.
 */
export function consoleExtension(options: ConsoleOptions): (app: FastifyInstance) => Promise<void> {
  const limits = createConsoleLimits(options.limits);
  if (options.operatorToken.length < 16)
    throw new Error('console: the operator token has at least 16 characters');
  const clock = options.clock ?? (() => new Date());
  return async (app) => {
    const gateway = gatewayOperator(options.gatewayUrl, options.operatorToken, limits);
    const instances =
      options.gatewayInstanceUrls === undefined || options.gatewayInstanceUrls.length === 0
        ? [options.gatewayUrl]
        : options.gatewayInstanceUrls;
    // Each instance apart: one that does not answer is left out of the points (its increases are its
    // own), and the scrape fails only when none answered.
    const metrics = new MetricsHistory(limits, clock, async () => {
      const answers = await Promise.allSettled(
        instances.map((url) =>
          fetchBoundedText(`${url}/metrics`, { authorization: `Bearer ${options.operatorToken}` }, limits),
        ),
      );
      const failed = answers.find((answer) => answer.status === 'rejected');
      if (failed !== undefined && answers.every((answer) => answer.status === 'rejected'))
        throw failed.reason;
      return answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : undefined));
    });
    const log = new LogMonitor(options.log.url, options.log.policy, limits, clock);
    const context: ConsoleContext = {
      limits,
      clock,
      operatorToken: options.operatorToken,
      currency: options.currency,
      sessions: new SessionStore(limits, clock),
      signIns: new SignInLimiter(limits, clock),
      gateway,
      banks: options.banks,
      metrics,
      log,
      witnessAlarms: options.witnessAlarms,
    };
    await app.register(async (scope) => registerConsoleRoutes(scope, context), { prefix: '/console/api' });
    const round = () => Promise.all([metrics.scrape(), log.check()]);
    const timer = setInterval(() => void round(), limits.scrapeIntervalMs);
    timer.unref();
    void round();
    app.addHook('onClose', async () => clearInterval(timer));
  };
}
