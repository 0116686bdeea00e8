-- Macro payments (seed 002 §4.2), the merchant bank's steps 9 and 10. A funds
-- transfer of a macro payment carries the paper's FT[SID_T, ID_M, ID_CB, AmtInfo_c]
-- (with ID_C) beside the transfer; when the merchant bank credits it, it records
-- here, in the same transaction as the credit, what it owes the merchant:
-- Pay_Confirm{SID_T, ID_C, AmtInfo_c} (step 9), made, signed and sealed to the
-- merchant's device when the merchant reads it. Pay_Ack (step 10) travels in the
-- signed answer to the client bank and is made again from the same FT on a retry.
--
-- One row per credited transfer, and per client bank and SID_T; `sequence` orders a merchant's
-- confirmations for paging (GET /macro/merchant-confirmations?after=).
CREATE TABLE macro_merchant_confirmations (
  sequence bigserial PRIMARY KEY,
  debtor_bank text NOT NULL,
  transfer_id uuid NOT NULL,
  session_id uuid NOT NULL,
  client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
  merchant_id text NOT NULL CHECK (length(merchant_id) BETWEEN 1 AND 128),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- AmtInfo_c as the FT carried it (canonical decimal text) and in minor units.
  amount_text text NOT NULL CHECK (length(amount_text) BETWEEN 1 AND 40),
  amount bigint NOT NULL CHECK (amount > 0),
  -- The FT's expiry, which Pay_Confirm repeats.
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (debtor_bank, transfer_id),
  UNIQUE (debtor_bank, session_id),
  FOREIGN KEY (debtor_bank, transfer_id) REFERENCES interbank_credits (debtor_bank, id)
);

CREATE INDEX macro_merchant_confirmations_merchant ON macro_merchant_confirmations (merchant_id, sequence);
