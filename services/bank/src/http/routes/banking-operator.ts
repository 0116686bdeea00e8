import type { FastifyInstance } from 'fastify';
import type { BankingContext } from '../../banking/context.ts';

/** The operator's routes of the mobile banking server: customers, billers, evidence. */
export function registerBankingOperatorRoutes(_app: FastifyInstance, _context: BankingContext): void {}
