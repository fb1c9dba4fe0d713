-- A call budget charged in one statement (one round trip, atomic by itself): the counters of the
-- task and its ancestors are raised together, and if any would pass its limit the function below
-- raises, so the whole statement (every counter) is rolled back: all or none.
CREATE FUNCTION mandate_budget_spent(task text, lim bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'call budget of task % is spent', task USING ERRCODE = 'MDB01', DETAIL = json_build_object('task', task, 'limit', lim)::text;
END $$;
