-- Who holds the leases of a macro payment's exchange with the client bank: the start (boot id) of the
-- gateway instance that claimed the step-6 request (request_lease_owner) or the step-12 outcome check
-- (check_lease_owner), as the outbox's lease_owner (0013). An instance that starts again under its name
-- takes back at once what its killed start held, instead of a lease (outboxLeaseMs, 30 s) later: a
-- macro payment must not run into its T_EXP because the gateway died while asking the client bank.
ALTER TABLE macro_client_bank_requests ADD COLUMN request_lease_owner uuid, ADD COLUMN check_lease_owner uuid;
