-- The complete schema (SQLite migrations 001-005 merged). Timestamps and counters are BIGINT
-- (read back as JS numbers); JSON values stay TEXT so the exact bytes survive (audit hashes are
-- computed over the stored JSON, and JSONB would reorder keys).

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
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
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
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  ended_at    BIGINT,
  end_reason  TEXT,
  decision_id TEXT,
  -- An emergency task approved by several people.
  break_glass BOOLEAN NOT NULL DEFAULT false,
  -- The delegation chain belongs to the task: every credential of a delegated task carries it.
  chain       TEXT
);
CREATE INDEX tasks_agent_status ON tasks (agent_id, status);
CREATE INDEX tasks_status_expires ON tasks (status, expires_at);
CREATE INDEX tasks_parent ON tasks (parent_id);

CREATE TABLE revocations (
  task_id    TEXT PRIMARY KEY,
  revoked_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE replay (
  key        TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX replay_expires ON replay (expires_at);

CREATE TABLE audit_events (
  seq       BIGINT PRIMARY KEY,
  id        TEXT NOT NULL UNIQUE,
  ts        BIGINT NOT NULL,
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

-- Append-only at the database level too: tampering needs to drop these first, and verify catches
-- it. TRUNCATE skips row triggers, so it gets its own.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE policy_versions (
  version    BIGINT PRIMARY KEY,
  hash       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  source     TEXT NOT NULL,
  files      TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL CHECK (role IN ('admin', 'pep')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

-- Tool pinning (rug-pull protection): the accepted definition hash of every upstream tool, and a
-- pending one when the upstream changed it (or offered a new tool) and no admin accepted it yet.
CREATE TABLE tool_pins (
  upstream            TEXT NOT NULL,
  tool                TEXT NOT NULL,
  accepted_hash       TEXT,
  accepted_definition TEXT,
  pending_hash        TEXT,
  pending_definition  TEXT,
  first_seen          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL,
  PRIMARY KEY (upstream, tool)
);

-- People who approve (their personal token is stored as a SHA-256 hash) and approvals bound to
-- one exact action.
CREATE TABLE users (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT NOT NULL UNIQUE,
  roles      TEXT NOT NULL DEFAULT '[]',
  status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
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
  created_at     BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  decided_at     BIGINT,
  used_at        BIGINT,
  end_reason     TEXT
);
CREATE INDEX approvals_hash_status ON approvals (action_hash, status);
CREATE INDEX approvals_status_expires ON approvals (status, expires_at);
CREATE INDEX approvals_task ON approvals (task_id);

-- Calls consumed per task and tool. A delegated task's calls count against every ancestor too,
-- so `used` is what the task and all its descendants spent.
CREATE TABLE task_calls (
  task_id TEXT NOT NULL,
  tool    TEXT NOT NULL,
  used    BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
  PRIMARY KEY (task_id, tool)
);

-- One row that readiness probes write, so "ready" means "can record a decision", not just "can read".
CREATE TABLE health (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at BIGINT NOT NULL
);
