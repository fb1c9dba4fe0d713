-- People who approve (their personal token is stored as a SHA-256 hash), approvals bound to one
-- exact action, and break-glass tasks.
CREATE TABLE users (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT NOT NULL UNIQUE,
  roles      TEXT NOT NULL DEFAULT '[]',
  status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE approvals (
  id             TEXT PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('tool_call', 'task_start', 'breakglass', 'authzen')),
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
CREATE INDEX approvals_hash_status ON approvals (action_hash, status);
CREATE INDEX approvals_status_expires ON approvals (status, expires_at);
CREATE INDEX approvals_task ON approvals (task_id);

ALTER TABLE tasks ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0;
