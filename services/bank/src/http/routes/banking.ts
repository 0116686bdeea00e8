import type { FastifyInstance } from 'fastify';
import type { BankingContext } from '../../banking/context.ts';

/** The device-facing routes of the mobile banking server (SA2pMP): registration, login, requests. */
export function registerBankingDeviceRoutes(_app: FastifyInstance, _context: BankingContext): void {}
