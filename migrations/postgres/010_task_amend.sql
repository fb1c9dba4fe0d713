-- Task amendments: an agent may ask to widen its task's scope; a person decides (approval kind `task_amend`).
ALTER TABLE approvals DROP CONSTRAINT IF EXISTS approvals_kind_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_kind_check CHECK (kind IN ('tool_call', 'task_start', 'breakglass', 'authzen', 'task_amend'));

-- Each applied amendment bumps the task's scope version; credentials issued before it are refused.
ALTER TABLE tasks ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0;
