-- A banking request's outcome, durable with its effect (authentication-server/request.ts
-- recordOutcomeWithEffect): a request that writes (a money order, a revocation, a renewal, a
-- logout) sets outcome 'OK' and its plain result (the JSON of the bankingAnswer's result, as
-- signed) in the very transaction of its effect, so that the effect exists if and only if its
-- outcome does. A retry of the request (same id, same signed content) is answered from the row,
-- signed and sealed again under the session key of the retry; the session key is never stored.
-- `answer` stays the bank's first signed answer (NULL while no answer was signed yet).
ALTER TABLE banking_requests ADD COLUMN result text CHECK (length(result) BETWEEN 2 AND 262144);

-- An 'OK' outcome has its result or its signed answer; a refusal (or no outcome yet) has neither.
ALTER TABLE banking_requests ADD CONSTRAINT banking_requests_outcome_answered CHECK (
  CASE
    WHEN outcome = 'OK' THEN answer IS NOT NULL OR result IS NOT NULL
    ELSE answer IS NULL AND result IS NULL
  END
);
