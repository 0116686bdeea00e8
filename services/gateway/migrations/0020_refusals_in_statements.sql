-- A refusal decided inside a statement (as the bank's triggers raise theirs): the statement
-- fails, so a COMMIT sent in the same round trip (@mpay/storage's commitWithLastStatements)
-- does not run, and the transaction rolls back. The message is mpay's error code, the detail
-- what the caller needs to answer it (src/payments/refusals.ts reads both back).
CREATE FUNCTION mpay_refuse(code text, detail text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', code USING ERRCODE = 'MP002', DETAIL = detail;
END
$$;
