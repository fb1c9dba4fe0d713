-- One row that readiness probes write, so "ready" means "can record a decision", not just "can read".
CREATE TABLE health (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at INTEGER NOT NULL
);
