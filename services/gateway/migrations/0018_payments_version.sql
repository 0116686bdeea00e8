-- A payment's version: one more at each step persisted (persistStep). A transaction that read the
-- payment a moment before may lock it with a narrow `SELECT version … FOR UPDATE` and keep its read
-- when the version is the same, instead of reading the whole row (its message, its parties) again
-- (payments/store.ts lockPayment).
ALTER TABLE payments ADD COLUMN version integer NOT NULL DEFAULT 0 CHECK (version >= 0);
