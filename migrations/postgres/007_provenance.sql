-- Provenance: the values a task (and the tasks delegated from it, keyed by the root task) has
-- been shown by tool results, as keyed hashes of their match keys (never the values), with where
-- they came from (bit 1: an untrusted result, bit 2: a trusted one) and the first call that
-- returned each. Bounded per task (the count is kept beside them); dropped when the task is over.
CREATE TABLE task_values (
  task_id TEXT NOT NULL,
  key     TEXT NOT NULL,
  sources INTEGER NOT NULL,
  origin  TEXT NOT NULL,
  PRIMARY KEY (task_id, key)
);
CREATE TABLE task_value_counts (
  task_id TEXT PRIMARY KEY,
  n       INTEGER NOT NULL
);
