-- The merchant's shop (iMS §2.1, mobile e-commerce): the customer's shopping
-- cart, the order it becomes, the payment the shop asks the FSP for, the
-- FSP's signed notifications as received, and the shipment that a positive
-- confirmation authorises. Money is bigint minor units with its currency.

-- A customer's cart: only the hash of its bearer token is kept.
CREATE TABLE carts (
  cart_id text PRIMARY KEY,
  token_sha256 text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- Set once, in the checkout's transaction: the cart can no longer change.
  order_id text UNIQUE,
  checked_out_at timestamptz
);
CREATE INDEX carts_open ON carts (updated_at) WHERE order_id IS NULL;

-- Which products and how many; prices are read from the catalogue, never stored here.
CREATE TABLE cart_lines (
  cart_id text NOT NULL REFERENCES carts (cart_id) ON DELETE CASCADE,
  product_id text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  added_at timestamptz NOT NULL,
  PRIMARY KEY (cart_id, product_id)
);

-- An order: the state is one of the protocol's table (@mpay/protocol shop);
-- the total is the sum of its lines, computed by the shop at checkout.
CREATE TABLE orders (
  order_id text PRIMARY KEY,
  -- Insertion order, for the merchant's pages (newest first, `before` a seq).
  seq bigserial UNIQUE,
  cart_id text NOT NULL UNIQUE REFERENCES carts (cart_id),
  token_sha256 text NOT NULL,
  state text NOT NULL,
  -- As the customer gave it at checkout: an MSISDN or a party id.
  customer text NOT NULL,
  currency text NOT NULL,
  total_minor bigint NOT NULL CHECK (total_minor > 0),
  description text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX orders_state ON orders (state, seq);

-- The lines as sold: name and unit price copied from the catalogue at checkout.
CREATE TABLE order_lines (
  order_id text NOT NULL REFERENCES orders (order_id),
  line_number integer NOT NULL CHECK (line_number > 0),
  product_id text NOT NULL,
  name text NOT NULL,
  unit_price_minor bigint NOT NULL CHECK (unit_price_minor > 0),
  quantity integer NOT NULL CHECK (quantity > 0),
  line_total_minor bigint NOT NULL CHECK (line_total_minor = unit_price_minor * quantity),
  PRIMARY KEY (order_id, line_number)
);

-- The order's payment at the FSP: its transaction id is the iMS transaction id
-- the merchant signs (and the FSP's payment id), chosen by the shop at checkout,
-- so that the FSP can never hold two payments for one order.
CREATE TABLE payments (
  transaction_id text PRIMARY KEY,
  order_id text NOT NULL UNIQUE REFERENCES orders (order_id),
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  -- The payer's party id as the merchant's own signed request named it (set before the request is sent).
  payer text,
  -- The last public status the FSP gave (its answer to the request, then its signed notifications).
  fsp_status text,
  security_level text,
  expires_at timestamptz,
  failure_code text,
  -- The latest refund.updated notification about this payment.
  refund_id text,
  refund_status text,
  refund_updated_at timestamptz,
  requested_at timestamptz,
  updated_at timestamptz NOT NULL
);

-- The shipment a positive confirmation authorised.
CREATE TABLE shipments (
  order_id text PRIMARY KEY REFERENCES orders (order_id),
  status text NOT NULL CHECK (status IN ('preparing', 'packed', 'shipped', 'delivered')),
  carrier text,
  tracking_reference text,
  authorised_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Every step of every order, append-only: the protocol's event, the states, who, and what it rests on.
CREATE TABLE order_events (
  id bigserial PRIMARY KEY,
  order_id text NOT NULL REFERENCES orders (order_id),
  event text NOT NULL,
  from_state text,
  to_state text NOT NULL,
  step text NOT NULL,
  actor text NOT NULL,
  detail text,
  notification_id bigint,
  created_at timestamptz NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- The FSP's signed webhooks exactly as received (after verification), each once.
CREATE TABLE notifications (
  id bigserial PRIMARY KEY,
  jws_sha256 text NOT NULL UNIQUE,
  jws text NOT NULL,
  event text NOT NULL CHECK (event IN ('payment.updated', 'trade.claimed', 'refund.updated')),
  -- The payment id (payment.updated, and refund.updated's payment), or the claim's id.
  subject text NOT NULL,
  status text,
  -- The event's object, decoded once from the verified JWS.
  object text NOT NULL,
  order_id text,
  -- What it did: applied (an order step), ignored (the order's state ignores it),
  -- refused (the order's state refuses it; kept for the operator), recorded (no order step).
  outcome text NOT NULL CHECK (outcome IN ('applied', 'ignored', 'refused', 'recorded')),
  outcome_detail text,
  received_at timestamptz NOT NULL
);
CREATE INDEX notifications_subject ON notifications (subject, id);

-- Work decided in a transaction and done after it, with retries: the payment
-- request to the FSP, and the hand-over of trade claims and refund updates to
-- their hooks.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('payment_request', 'trade_claimed', 'refund_updated')),
  subject text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at timestamptz,
  abandoned_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
