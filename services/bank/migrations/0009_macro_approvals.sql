-- Macro payments (seed 002 §4.2), the client bank's steps 6 and 7: the MPASP
-- (the FSP) sends the payment request {SID_T, ID_C, AmtInfo_c, h(TransactionData)};
-- if ABal_C is sufficient the bank asks its customer for approval (PApp_Req,
-- signed by the bank and sealed to the customer's device), else it answers
-- send_failure_msg2. The customer answers the bank directly (PApp_Resp, signed
-- with a key the bank bound to the debited account); an approval places the
-- payment order (the hold and the funds transfer of step 8).
--
-- One row per SID_T: the step-6 request is idempotent by SID_T and the hash of
-- its content (the same content gets the same answer, another is refused). A
-- refused row ('refused' at step 6) keeps its failure_msg2 and has no approval
-- request: nothing in it can move money. An approval request is answered once:
-- the only transitions are approval_requested → approved | declined | refused,
-- and the database refuses any other (the trigger below), so a PApp_Resp
-- replayed can never place a second order.
CREATE TABLE macro_approvals (
  session_id uuid PRIMARY KEY,
  transaction_id uuid NOT NULL,
  -- SHA-256 of the canonical ClientBankRequestContent: the idempotency check of step 6.
  request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 255),
  -- The MPASP's signed request (compact JWS), kept as evidence.
  request text NOT NULL,
  client_id text NOT NULL REFERENCES macro_clients (client_id),
  party_id text NOT NULL CHECK (length(party_id) BETWEEN 1 AND 256),
  -- The binding whose device the approval request is sealed to, and its first account (the debit).
  binding_serial text NOT NULL REFERENCES key_bindings (serial),
  debit_account_id uuid NOT NULL REFERENCES accounts (id),
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- The amount as the contents carry it (canonical decimal text), compared as text with the consent's.
  amount_text text NOT NULL CHECK (length(amount_text) BETWEEN 1 AND 40),
  transaction_data_hash text NOT NULL CHECK (transaction_data_hash ~ '^[0-9a-f]{64}$'),
  -- T_EXP: no approval is accepted at or after it.
  expires_at timestamptz NOT NULL,
  state text NOT NULL CHECK (state IN ('approval_requested', 'refused', 'approved', 'declined')),
  refusal_code text,
  -- PApp_Req: the bank's JWS sealed to the device (compact JWE); none for a request refused at step 6.
  approval_request text,
  -- send_failure_msg2: the bank's JWS to the MPASP, for a refused request.
  failure text,
  -- PApp_Resp as received (the device's compact JWS) and the binding that signed it.
  consent text,
  consent_binding_serial text REFERENCES key_bindings (serial),
  -- The payment order an approval placed (its id is derived from SID_T).
  order_id uuid,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT macro_approvals_refusal_has_code CHECK ((state = 'refused') = (refusal_code IS NOT NULL)),
  CONSTRAINT macro_approvals_refused_has_failure CHECK ((state = 'refused') = (failure IS NOT NULL)),
  -- A request refused at step 6 never had an approval request; every other one has.
  CONSTRAINT macro_approvals_request_unless_refused CHECK (
    state = 'refused' OR approval_request IS NOT NULL),
  CONSTRAINT macro_approvals_answered_has_consent CHECK (
    (state IN ('approved', 'declined')) = (consent IS NOT NULL AND consent_binding_serial IS NOT NULL)),
  CONSTRAINT macro_approvals_approved_has_order CHECK ((state = 'approved') = (order_id IS NOT NULL))
);

CREATE INDEX macro_approvals_pending ON macro_approvals (party_id, expires_at)
  WHERE state = 'approval_requested';

CREATE FUNCTION macro_approvals_answered_once() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF OLD.state <> 'approval_requested' OR NEW.state NOT IN ('approved', 'declined', 'refused') THEN
    RAISE EXCEPTION 'MACRO_APPROVAL_REPLAYED' USING ERRCODE = 'MP001';
  END IF;
  IF (NEW.session_id, NEW.transaction_id, NEW.request_hash, NEW.client_id, NEW.party_id, NEW.binding_serial,
      NEW.debit_account_id, NEW.amount, NEW.ledger, NEW.transaction_data_hash, NEW.expires_at)
     IS DISTINCT FROM
     (OLD.session_id, OLD.transaction_id, OLD.request_hash, OLD.client_id, OLD.party_id, OLD.binding_serial,
      OLD.debit_account_id, OLD.amount, OLD.ledger, OLD.transaction_data_hash, OLD.expires_at) THEN
    RAISE EXCEPTION 'MACRO_APPROVAL_REPLAYED' USING ERRCODE = 'MP001';
  END IF;
  RETURN NEW;
END
$function$;

CREATE TRIGGER macro_approvals_answered_once BEFORE UPDATE ON macro_approvals
  FOR EACH ROW EXECUTE FUNCTION macro_approvals_answered_once();
CREATE TRIGGER macro_approvals_refuse_delete BEFORE DELETE ON macro_approvals
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER macro_approvals_refuse_truncate BEFORE TRUNCATE ON macro_approvals
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();
