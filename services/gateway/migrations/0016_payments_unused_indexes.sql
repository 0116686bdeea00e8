-- Two indexes no statement reads any more, each written by every payment's insert and by each
-- of its state changes (a state change is never a HOT update: `state` is indexed):
-- payments_merchant_created served the rate windows' count, which now reads
-- request_rate_buckets (0015); payments_customer_state was superseded by
-- payments_customer_pending and payments_customer_created (0003).
DROP INDEX payments_merchant_created;
DROP INDEX payments_customer_state;
