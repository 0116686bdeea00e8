import type { FastifyInstance } from 'fastify';
import type { BankingContext } from '../../banking/context.ts';

/** The operator's routes of the key management server: renewal notices. */
export function registerBankingKeyManagementRoutes(_app: FastifyInstance, _context: BankingContext): void {}
