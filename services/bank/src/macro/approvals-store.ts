import type { Sql } from '@mpay/storage';

/**
 * The client bank's record of one macro payment request (seed 002 §4.2,
 * steps 6 and 7), keyed by SID_T. States: 'approval_requested' (PApp_Req
 * made), 'refused' (send_failure_msg2, at step 6 or when the hold was
 * refused after the approval), 'approved' (PApp_Resp approve: the order is
 * placed), 'declined' (PApp_Resp decline). The database allows only
 * approval_requested → approved | declined | refused.
 */
export type MacroApprovalState = 'approval_requested' | 'refused' | 'approved' | 'declined';

export interface MacroApprovalRecord {
  /** SID_T */
  readonly sessionId: string;
  /** ID_T */
  readonly transactionId: string;
  readonly requestHash: string;
  /** The MPASP that asked (the authenticated caller of step 6). */
  readonly requestedBy: string;
  /** The MPASP's compact JWS over the ClientBankRequestContent. */
  readonly request: string;
  /** ID_C */
  readonly clientId: string;
  /** The customer ID_C names at this bank. */
  readonly partyId: string;
  readonly bindingSerial: string;
  readonly debitAccountId: string;
  /** AmtInfo_c in minor units and as the contents carry it. */
  readonly amount: bigint;
  readonly currency: string;
  readonly amountText: string;
  readonly transactionDataHash: string;
  /** T_EXP */
  readonly expiresAt: Date;
  readonly state: MacroApprovalState;
  readonly refusalCode: string | null;
  /** PApp_Req: compact JWE to the device. */
  readonly approvalRequest: string | null;
  /** send_failure_msg2: compact JWS to the MPASP. */
  readonly failure: string | null;
  /** PApp_Resp as received (compact JWS). */
  readonly consent: string | null;
  readonly consentBindingSerial: string | null;
  readonly orderId: string | null;
  readonly createdAt: Date;
}

interface MacroApprovalRow {
  session_id: string;
  transaction_id: string;
  request_hash: string;
  requested_by: string;
  request: string;
  client_id: string;
  party_id: string;
  binding_serial: string;
  debit_account_id: string;
  amount: string | number | bigint;
  ledger: string;
  amount_text: string;
  transaction_data_hash: string;
  expires_at: Date | string;
  state: MacroApprovalState;
  refusal_code: string | null;
  approval_request: string | null;
  failure: string | null;
  consent: string | null;
  consent_binding_serial: string | null;
  order_id: string | null;
  created_at: Date | string;
}

const columns = `session_id, transaction_id, request_hash, requested_by, request, client_id, party_id,
  binding_serial, debit_account_id, amount, ledger, amount_text, transaction_data_hash, expires_at, state,
  refusal_code, approval_request, failure, consent, consent_binding_serial, order_id, created_at`;

function recordOf(row: MacroApprovalRow): MacroApprovalRecord {
  return Object.freeze({
    sessionId: row.session_id,
    transactionId: row.transaction_id,
    requestHash: row.request_hash,
    requestedBy: row.requested_by,
    request: row.request,
    clientId: row.client_id,
    partyId: row.party_id,
    bindingSerial: row.binding_serial,
    debitAccountId: row.debit_account_id,
    amount: BigInt(row.amount),
    currency: row.ledger,
    amountText: row.amount_text,
    transactionDataHash: row.transaction_data_hash,
    expiresAt: new Date(row.expires_at),
    state: row.state,
    refusalCode: row.refusal_code,
    approvalRequest: row.approval_request,
    failure: row.failure,
    consent: row.consent,
    consentBindingSerial: row.consent_binding_serial,
    orderId: row.order_id,
    createdAt: new Date(row.created_at),
  });
}

/** The record of SID_T; `lock` holds its row until the transaction ends (answers to it queue on it). */
export async function selectMacroApproval(
  sql: Sql,
  sessionId: string,
  lock = false,
): Promise<MacroApprovalRecord | undefined> {
  const { rows } = await sql.query<MacroApprovalRow>(
    `SELECT ${columns} FROM macro_approvals WHERE session_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [sessionId],
  );
  return rows[0] === undefined ? undefined : recordOf(rows[0]);
}

/** The party's approval requests still open at `now`, oldest first, at most `limit`. */
export async function selectPendingMacroApprovals(
  sql: Sql,
  partyId: string,
  now: Date,
  limit: number,
): Promise<MacroApprovalRecord[]> {
  const { rows } = await sql.query<MacroApprovalRow>(
    `SELECT ${columns} FROM macro_approvals
     WHERE party_id = $1 AND state = 'approval_requested' AND expires_at > $2
     ORDER BY created_at, session_id LIMIT $3`,
    [partyId, now.toISOString(), limit],
  );
  return rows.map(recordOf);
}

/** Inserts the record of a new SID_T; false when SID_T is taken (a concurrent request won: read it). */
export async function insertMacroApproval(sql: Sql, record: MacroApprovalRecord): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO macro_approvals (${columns}, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
       $22, $22)
     ON CONFLICT (session_id) DO NOTHING`,
    [
      record.sessionId,
      record.transactionId,
      record.requestHash,
      record.requestedBy,
      record.request,
      record.clientId,
      record.partyId,
      record.bindingSerial,
      record.debitAccountId,
      record.amount.toString(),
      record.currency,
      record.amountText,
      record.transactionDataHash,
      record.expiresAt.toISOString(),
      record.state,
      record.refusalCode,
      record.approvalRequest,
      record.failure,
      record.consent,
      record.consentBindingSerial,
      record.orderId,
      record.createdAt.toISOString(),
    ],
  );
  return inserted.rowCount === 1;
}

/** What answering an approval request changes. */
export type MacroApprovalAnswer =
  | {
      readonly state: 'approved';
      readonly consent: string;
      readonly consentBindingSerial: string;
      readonly orderId: string;
    }
  | { readonly state: 'declined'; readonly consent: string; readonly consentBindingSerial: string }
  | { readonly state: 'refused'; readonly refusalCode: string; readonly failure: string };

/**
 * Answers an open approval request, in the caller's transaction (the row
 * locked by selectMacroApproval). Only from 'approval_requested': the
 * database refuses anything else, so an answer is recorded once.
 */
export async function answerMacroApproval(
  sql: Sql,
  sessionId: string,
  answer: MacroApprovalAnswer,
  now: Date,
): Promise<void> {
  const consent = answer.state === 'refused' ? null : answer.consent;
  const serial = answer.state === 'refused' ? null : answer.consentBindingSerial;
  const updated = await sql.query(
    `UPDATE macro_approvals SET state = $2, consent = $3, consent_binding_serial = $4, order_id = $5,
       refusal_code = $6, failure = $7, updated_at = $8
     WHERE session_id = $1 AND state = 'approval_requested'`,
    [
      sessionId,
      answer.state,
      consent,
      serial,
      answer.state === 'approved' ? answer.orderId : null,
      answer.state === 'refused' ? answer.refusalCode : null,
      answer.state === 'refused' ? answer.failure : null,
      now.toISOString(),
    ],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: an open approval request is answered once');
}

/**
 * The serial of the party's binding a PApp_Req goes to: one that is not
 * revoked and valid at `now`, the one the client registered under first
 * (`preferredSerial`), else the newest. Undefined when the party has none.
 */
export async function selectActiveBindingSerial(
  sql: Sql,
  partyId: string,
  preferredSerial: string,
  now: Date,
): Promise<string | undefined> {
  const { rows } = await sql.query<{ serial: string }>(
    `SELECT b.serial FROM key_bindings AS b
     LEFT JOIN key_binding_revocations AS r ON r.serial = b.serial
     WHERE b.party_id = $1 AND r.serial IS NULL AND b.not_before <= $2 AND b.not_after > $2
     ORDER BY (b.serial = $3) DESC, b.not_before DESC, b.serial LIMIT 1`,
    [partyId, now.toISOString(), preferredSerial],
  );
  return rows[0]?.serial;
}
