-- MCP sessions, so that another process on the same store can take a session over (on
-- PostgreSQL: another replica, when the one that opened it is gone). Only what `initialize`
-- said is kept; every security check is still made per request, with the request's credential.
CREATE TABLE mcp_sessions (
  id         TEXT PRIMARY KEY,
  task_id    TEXT NOT NULL,
  agent_id   TEXT NOT NULL,
  init       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX mcp_sessions_task ON mcp_sessions (task_id);
