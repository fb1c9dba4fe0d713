-- Task amendments: an agent may ask to widen its task's scope; a person decides (approval kind
-- `task_amend`). SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE approvals_v2 (
  id             TEXT PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('tool_call', 'task_start', 'breakglass', 'authzen', 'task_amend')),
  action_hash    TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'used')),
  task_id        TEXT,
  agent_id       TEXT NOT NULL,
  requester      TEXT NOT NULL,
  tool           TEXT,
  args           TEXT NOT NULL DEFAULT 'null',
  intent         TEXT NOT NULL,
  reason         TEXT NOT NULL,
  policy_ids     TEXT NOT NULL DEFAULT '[]',
  policy_version TEXT NOT NULL,
  approvers      TEXT NOT NULL,
  quorum         INTEGER NOT NULL,
  decisions      TEXT NOT NULL DEFAULT '[]',
  data           TEXT NOT NULL DEFAULT '{}',
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  decided_at     INTEGER,
  used_at        INTEGER,
  end_reason     TEXT
);
INSERT INTO approvals_v2 SELECT id, kind, action_hash, status, task_id, agent_id, requester, tool, args, intent, reason, policy_ids, policy_version, approvers, quorum, decisions, data, created_at, expires_at, decided_at, used_at, end_reason FROM approvals;
DROP TABLE approvals;
ALTER TABLE approvals_v2 RENAME TO approvals;
CREATE INDEX approvals_hash_status ON approvals (action_hash, status);
CREATE INDEX approvals_status_expires ON approvals (status, expires_at);
CREATE INDEX approvals_task ON approvals (task_id);

-- Each applied amendment bumps the task's scope version; credentials issued before it are refused.
ALTER TABLE tasks ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0;
