-- Agents, tasks, revocations, replay cache, hash-chained audit log, policy versions, API tokens.

CREATE TABLE agents (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  owner       TEXT NOT NULL,
  purpose     TEXT NOT NULL,
  environment TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
  review_by   TEXT,
  jwks        TEXT NOT NULL,
  labels      TEXT NOT NULL DEFAULT '[]',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE tasks (
  id          TEXT PRIMARY KEY,
  agent_id    TEXT NOT NULL REFERENCES agents(id),
  parent_id   TEXT REFERENCES tasks(id),
  depth       INTEGER NOT NULL DEFAULT 0,
  intent      TEXT NOT NULL,
  scope       TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('pending_approval', 'active', 'completed', 'failed', 'expired', 'revoked')),
  labels      TEXT NOT NULL DEFAULT '[]',
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  end_reason  TEXT,
  decision_id TEXT
);
CREATE INDEX tasks_agent_status ON tasks (agent_id, status);
CREATE INDEX tasks_status_expires ON tasks (status, expires_at);
CREATE INDEX tasks_parent ON tasks (parent_id);

CREATE TABLE revocations (
  task_id    TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE replay (
  key        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX replay_expires ON replay (expires_at);

CREATE TABLE audit_events (
  seq       INTEGER PRIMARY KEY,
  id        TEXT NOT NULL UNIQUE,
  ts        INTEGER NOT NULL,
  type      TEXT NOT NULL,
  actor     TEXT NOT NULL,
  agent_id  TEXT,
  task_id   TEXT,
  decision  TEXT,
  outcome   TEXT,
  data      TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX audit_task ON audit_events (task_id);
CREATE INDEX audit_agent ON audit_events (agent_id);

-- Append-only at the database level too: tampering needs to drop these first, and verify catches it.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE policy_versions (
  version    INTEGER PRIMARY KEY,
  hash       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  source     TEXT NOT NULL,
  files      TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL CHECK (role IN ('admin', 'pep')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
