-- The proved banking transaction with the largest log index: before its first receipt after a
-- start, the bank's checkpoint follower holds that receipt's checkpoint again, so that a log that
-- went back or forked while the bank was stopped is refused (@mpay/log-client checkpoints.ts), as
-- the gateway does with its log entries. One index entry per receipt.
CREATE INDEX banking_transactions_proved ON banking_transactions (log_index DESC) WHERE receipt IS NOT NULL;
