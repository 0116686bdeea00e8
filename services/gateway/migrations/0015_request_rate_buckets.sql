-- Payment requests counted per party (as merchant and as customer) and time bucket: the rate
-- limits read a window's buckets (at most 61 rows per party and role) instead of counting the
-- party's payments in the window, which grew with a busy merchant's rate (6,000 rows read per
-- request at the default limit). The bucket's length is a 60th of the window (rate-window.ts).
CREATE TABLE request_rate_buckets (
  party_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('merchant', 'customer')),
  bucket_start timestamptz NOT NULL,
  requests integer NOT NULL CHECK (requests > 0),
  PRIMARY KEY (party_id, role, bucket_start)
);
-- What housekeeping forgets: the buckets that have left every window.
CREATE INDEX request_rate_buckets_start ON request_rate_buckets (bucket_start);
-- A gateway upgraded while it runs keeps its windows: the last day's requests (the longest
-- window allowed), in one-second buckets, which the read counts as any others.
INSERT INTO request_rate_buckets (party_id, role, bucket_start, requests)
  SELECT merchant_id, 'merchant', date_trunc('second', created_at), count(*)::int
  FROM payments WHERE created_at > now() - interval '1 day'
  GROUP BY merchant_id, date_trunc('second', created_at)
  UNION ALL
  SELECT customer_id, 'customer', date_trunc('second', created_at), count(*)::int
  FROM payments WHERE created_at > now() - interval '1 day'
  GROUP BY customer_id, date_trunc('second', created_at);
