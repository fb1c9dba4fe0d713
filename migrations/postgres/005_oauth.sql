-- The standard OAuth authorization-code flow (MCP authorization): registered clients (Dynamic
-- Client Registration, or a Client ID Metadata Document whose https URL is the id), one-time
-- authorization codes and rotated refresh tokens. Codes and refresh tokens are kept by their
-- SHA-256 only; a used one stays (used_at set) until it expires and is pruned, so a replay is
-- recognised as one. No NOTIFY (002): every use reads these rows from the store; no replica caches them.
CREATE TABLE oauth_clients (
  id            TEXT PRIMARY KEY,
  kind          TEXT NOT NULL CHECK (kind IN ('dcr', 'cimd')),
  name          TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  metadata      TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  created_by    TEXT,
  revoked_at    BIGINT,
  fetched_at    BIGINT
);
-- Rate limiting registration: how many clients one caller registered lately.
CREATE INDEX oauth_clients_created_by ON oauth_clients (created_by, created_at);
CREATE INDEX oauth_clients_created ON oauth_clients (created_at);

CREATE TABLE oauth_codes (
  code_hash      TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL,
  redirect_uri   TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  resource       TEXT NOT NULL,
  task_id        TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  jkt            TEXT,
  expires_at     BIGINT NOT NULL,
  used_at        BIGINT
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family     TEXT NOT NULL,
  task_id    TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  jkt        TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family);
CREATE INDEX oauth_refresh_tokens_expires ON oauth_refresh_tokens (expires_at);
