-- Audit streaming (src/audit/sinks): how far each sink has delivered the audit log, and which
-- replica delivers it now. The lease (holder, lease_until) is taken with one conditional
-- statement, so of several replicas only one delivers a sink at a time; the cursor moves only
-- with the lease held and only from the value the holder read.
CREATE TABLE audit_sinks (
  name          TEXT PRIMARY KEY,
  delivered_seq BIGINT NOT NULL DEFAULT 0,
  holder        TEXT,
  lease_until   BIGINT NOT NULL DEFAULT 0,
  last_error    TEXT,
  error_at      BIGINT,
  delivered_at  BIGINT,
  created_at    BIGINT NOT NULL
);
