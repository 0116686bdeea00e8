-- The shop's till (iMS §2.2, m-trade): a sale the staff enter, its signed
-- EMV QR code, the customer who claimed it, the payment request sent to that
-- customer and the FSP's signed outcome; and the refunds the staff give back,
-- of a till sale or of a shop order. Money is bigint minor units with its currency.

-- A sale at the till. Its id is the iMS transaction id the QR code carries,
-- the payment request repeats and the FSP's notifications name.
CREATE TABLE till_sales (
  sale_id text PRIMARY KEY,
  -- Insertion order, for the staff's list (newest first, `before` a seq).
  seq bigserial UNIQUE,
  -- The staff's Idempotency-Key and the SHA-256 of what it asked: the same key
  -- and request answer the same sale (one QR code), another request is refused.
  idempotency_key text NOT NULL UNIQUE,
  request_sha256 text NOT NULL,
  -- One of the till's table (src/till/state-machine.ts).
  state text NOT NULL,
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  reference text,
  -- The signed EMV payload exactly as shown, and when the FSP stops accepting it.
  qr_payload text NOT NULL,
  code_expires_at timestamptz NOT NULL,
  -- The customer who claimed the code (the FSP's signed trade.claimed): the payment request goes to this party.
  customer text,
  claimed_at timestamptz,
  -- Set before the payment request is first sent: a later attempt asks the FSP for the payment first.
  request_attempted_at timestamptz,
  security_level text,
  payment_expires_at timestamptz,
  failure_code text,
  -- The last of the sale's payment.updated notifications (notifications.id) applied to it.
  notification_cursor bigint NOT NULL DEFAULT 0,
  paid_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX till_sales_state ON till_sales (state, seq);

-- Every step of every sale, append-only.
CREATE TABLE till_sale_events (
  id bigserial PRIMARY KEY,
  sale_id text NOT NULL REFERENCES till_sales (sale_id),
  event text NOT NULL,
  from_state text NOT NULL,
  to_state text NOT NULL,
  actor text NOT NULL,
  detail text,
  notification_id bigint,
  created_at timestamptz NOT NULL
);
CREATE INDEX till_sale_events_sale ON till_sale_events (sale_id, id);

-- A refund the staff asked for: of a paid till sale or of a paid shop order
-- (payment_id: the sale id or the order's transaction id). The refund id is
-- the idempotency key at the shop and at the FSP.
CREATE TABLE till_refunds (
  refund_id text PRIMARY KEY,
  seq bigserial UNIQUE,
  payment_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('sale', 'order')),
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  reason text,
  -- The FSP's public status of the refund (requested, ordered, completed, refused, failed).
  status text NOT NULL CHECK (status IN ('requested', 'ordered', 'completed', 'refused', 'failed')),
  failure_code text,
  -- True once the FSP answered the refund (accepted or refused): until then it is sent again.
  submitted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX till_refunds_payment ON till_refunds (payment_id, seq);
