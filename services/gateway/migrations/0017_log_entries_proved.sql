-- The proved entry with the largest index: at start, the gateway's checkpoint follower holds that
-- receipt's checkpoint again, so that a log that went back or forked while the gateway was stopped
-- is refused at the next receipt (@mpay/log-client checkpoints.ts). One index entry per receipt.
CREATE INDEX log_entries_proved ON log_entries (log_index DESC) WHERE receipt IS NOT NULL;
