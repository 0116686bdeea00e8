import type { FastifyInstance } from 'fastify';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { auditJson } from '../json.ts';

export function registerAuditRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/audit', { schema: bankDocs['GET /audit'] }, async (request) => {
    const report = await context.ledger.audit();
    // A broken invariant means corrupt books: shout in the logs; the operator decides whether to stop the bank.
    if (!report.ok)
      request.log.error(
        { violations: report.violations, mismatches: report.mismatches.length },
        'ledger audit failed',
      );
    return auditJson(report);
  });
}
