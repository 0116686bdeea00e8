-- Every transfer wrote two index entries per account side: (account, created_at) and
-- (account, seq). On the credit side no statement reads the first: statements walk
-- (credit_account_id, seq) (store/statement.ts), and the daily debit sum reads
-- (debit_account_id, created_at) on the debit side only (store/debit-limits.ts). The
-- foreign key to accounts is served by (credit_account_id, seq) as well. One btree entry
-- less per transfer, in the ledger's hottest write.
DROP INDEX IF EXISTS transfers_by_credit_account;
