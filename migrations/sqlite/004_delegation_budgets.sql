-- The delegation chain belongs to the task (every credential of a delegated task carries it),
-- and call budgets are security state kept in the store (a restart or a second replica must
-- never hand a task a fresh counter).
ALTER TABLE tasks ADD COLUMN chain TEXT;

-- Calls consumed per task and tool. A delegated task's calls count against every ancestor too,
-- so `used` is what the task and all its descendants spent.
CREATE TABLE task_calls (
  task_id TEXT NOT NULL,
  tool    TEXT NOT NULL,
  used    INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
  PRIMARY KEY (task_id, tool)
);
