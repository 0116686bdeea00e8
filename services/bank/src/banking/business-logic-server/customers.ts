import { isMsisdn, MpayError, parsePartyId } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { customerPartyId } from '../../key-depository/issue-code.ts';
import { endSessionsOfParty } from '../authentication-server/sessions-store.ts';
import type { BankingContext } from '../context.ts';
import { type Biller, insertBiller } from './billers.ts';

/**
 * The bank's operator side of mobile banking: enabling a customer (after the
 * bank's own KYC, outside this service), lifting a login block, resetting a
 * password, registering billers. The customer's factors themselves (the
 * OPAQUE record, the devices, the sessions) are the authentication server's.
 */

export interface BankingCustomerRegistration {
  readonly partyId: string;
  readonly userId: string;
  readonly msisdn: string;
}

/** A customer as the operator sees it: never the OPAQUE record, only whether there is one. */
export interface BankingCustomerView extends BankingCustomerRegistration {
  readonly passwordRegistered: boolean;
  readonly failedLogins: number;
  readonly blocked: boolean;
}

interface CustomerRow {
  party_id: string;
  user_id: string;
  msisdn: string;
  password_registered: boolean;
  failed_logins: number;
  blocked: boolean;
}

const viewColumns = `party_id, user_id, msisdn, opaque_record IS NOT NULL AS password_registered, failed_logins,
  blocked_at IS NOT NULL AS blocked`;

function viewFromRow(row: CustomerRow): BankingCustomerView {
  return Object.freeze({
    partyId: row.party_id,
    userId: row.user_id,
    msisdn: row.msisdn,
    passwordRegistered: row.password_registered,
    failedLogins: row.failed_logins,
    blocked: row.blocked,
  });
}

/** A person or merchant party of this bank, in canonical form; PARTY_ID_INVALID otherwise. */
function ownPartyId(context: BankingContext, text: string): string {
  const partyId = customerPartyId(text, 'partyId');
  const party = parsePartyId(partyId, 'partyId');
  if (!('bank' in party) || party.bank !== context.bank.id)
    throw new MpayError('PARTY_ID_INVALID', 'partyId');
  return partyId;
}

async function ownsCustomerAccount(sql: Sql, partyId: string): Promise<boolean> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id::text AS id FROM accounts WHERE owner = $1 AND kind = 'customer' AND NOT closed LIMIT 1`,
    [partyId],
  );
  return rows.length === 1;
}

/**
 * POST /banking/customers: the party (one of this bank's, owning an open
 * customer account here, else ACCOUNT_UNKNOWN) may use mobile banking with
 * this user id; the one-time login codes go to this MSISDN. Once per party
 * and per user id: BANKING_CUSTOMER_EXISTS otherwise (a changed MSISDN is a
 * new registration after the bank's own checks, not an update).
 */
export async function registerBankingCustomer(
  context: BankingContext,
  registration: BankingCustomerRegistration,
  createdBy: string,
): Promise<BankingCustomerRegistration> {
  const partyId = ownPartyId(context, registration.partyId);
  if (!isMsisdn(registration.msisdn)) throw new MpayError('REQUEST_INVALID', 'msisdn');
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    if (!(await ownsCustomerAccount(sql, partyId))) throw new MpayError('ACCOUNT_UNKNOWN', 'partyId');
    const inserted = await sql.query(
      `INSERT INTO banking_customers (party_id, user_id, msisdn, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`,
      [partyId, registration.userId, registration.msisdn, createdBy, now.toISOString()],
    );
    if (inserted.rowCount !== 1) throw new MpayError('BANKING_CUSTOMER_EXISTS');
    return Object.freeze({ partyId, userId: registration.userId, msisdn: registration.msisdn });
  });
}

async function updatedCustomer(
  database: Database | Sql,
  assignments: string,
  partyId: string,
  now: Date,
): Promise<BankingCustomerView> {
  const { rows } = await database.query<CustomerRow>(
    `UPDATE banking_customers SET ${assignments}, updated_at = $2 WHERE party_id = $1 RETURNING ${viewColumns}`,
    [partyId, now.toISOString()],
  );
  if (rows[0] === undefined) throw new MpayError('NOT_FOUND', 'partyId');
  return viewFromRow(rows[0]);
}

/** POST /banking/customers/:partyId/unblock: no failed logins in a row, no block (NOT_FOUND for a non-customer). */
export function unblockBankingCustomer(
  context: BankingContext,
  partyId: string,
): Promise<BankingCustomerView> {
  return updatedCustomer(context.database, 'failed_logins = 0, blocked_at = NULL', partyId, context.clock());
}

/**
 * POST /banking/customers/:partyId/password-reset: the OPAQUE record is
 * erased (the customer registers a new password from an enrolled device) and
 * every login of the customer still opening is refused, every session closed,
 * their sealed keys erased: a reset is what the bank does when the password
 * may be known to someone else.
 */
export async function resetBankingPassword(
  context: BankingContext,
  partyId: string,
): Promise<BankingCustomerView> {
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    const view = await updatedCustomer(
      sql,
      `opaque_record = NULL, opaque_credential_id = NULL, opaque_pending_credential_id = NULL,
       password_registered_at = NULL`,
      partyId,
      now,
    );
    await endSessionsOfParty(sql, partyId, 'password reset', now);
    return view;
  });
}

/** A character a person cannot read or that reorders the text: controls, bidirectional overrides, lone surrogates. */
function isUnreadable(codePoint: number): boolean {
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069) ||
    (codePoint >= 0xd800 && codePoint <= 0xdfff) ||
    codePoint === 0xfffe ||
    codePoint === 0xffff
  );
}

/** Text a person reads (the iMS description's rules): none of those characters, no surrounding spaces. */
function isReadableText(text: string): boolean {
  return (
    text.length > 0 &&
    text.trim() === text &&
    [...text].every((character) => !isUnreadable(character.codePointAt(0) ?? 0))
  );
}

/**
 * POST /banking/billers: a biller customers may pay, its payee a person or
 * merchant party (at this bank or another; the order's machinery resolves
 * its account when a bill is paid). BANKING_BILLER_EXISTS for an id taken.
 */
export async function registerBiller(
  context: BankingContext,
  biller: Biller,
  createdBy: string,
): Promise<Biller> {
  const payeeId = customerPartyId(biller.payeeId, 'payeeId');
  if (!isReadableText(biller.name)) {
    throw new MpayError('REQUEST_INVALID', 'name');
  }
  return insertBiller(
    context.database,
    { id: biller.id, name: biller.name, payeeId },
    createdBy,
    context.clock(),
  );
}
